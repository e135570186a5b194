package org.jprune.engine.ops;

/** C[m][n] = alpha * op(A) * op(B) + beta * C, row-major. */
public record GemmDesc(int m, int n, int k, boolean transA, boolean transB, int lda, int ldb, int ldc, float alpha, float beta) {
    public GemmDesc {
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("sgemm: negative size m=" + m + " n=" + n + " k=" + k);
        if (lda < Math.max(1, transA ? m : k) || ldb < Math.max(1, transB ? k : n) || ldc < Math.max(1, n))
            throw new IllegalArgumentException("sgemm: leading dimension too small: m=" + m + " n=" + n + " k=" + k + " lda=" + lda + " ldb=" + ldb + " ldc=" + ldc
                    + " transA=" + transA + " transB=" + transB);
    }
    public static GemmDesc of(int m, int n, int k, boolean transA, boolean transB) {
        return new GemmDesc(m, n, k, transA, transB, transA ? m : k, transB ? k : n, n, 1f, 0f);
    }
}
