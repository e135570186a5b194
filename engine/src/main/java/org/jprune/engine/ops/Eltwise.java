package org.jprune.engine.ops;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
import org.jprune.engine.Tensor;

/** Elementwise ops and matrix multiply on tensors of equal size. */
public final class Eltwise {
    private Eltwise() {}

    public static void add(Tensor y, Tensor a, Tensor b) {
        Checks.sameDevice("add", y, a, b);
        Checks.size("add", "b", b, a.numel());
        Checks.size("add", "y", y, a.numel());
        kernels(a.device()).add(buf(y), buf(a), buf(b), a.numel());
    }

    public static void mul(Tensor y, Tensor a, Tensor b) {
        Checks.sameDevice("mul", y, a, b);
        Checks.size("mul", "b", b, a.numel());
        Checks.size("mul", "y", y, a.numel());
        kernels(a.device()).mul(buf(y), buf(a), buf(b), a.numel());
    }

    /** c = alpha * op(a) @ op(b) + beta * c for rank-2 tensors. */
    public static void matmul(Tensor c, Tensor a, Tensor b, boolean transA, boolean transB, float alpha, float beta) {
        String op = "sgemm";
        Checks.sameDevice(op, c, a, b);
        Checks.rank(op, "a", a, 2);
        Checks.rank(op, "b", b, 2);
        Checks.rank(op, "c", c, 2);
        int m = transA ? a.dim(1) : a.dim(0), k = transA ? a.dim(0) : a.dim(1);
        int kb = transB ? b.dim(1) : b.dim(0), n = transB ? b.dim(0) : b.dim(1);
        if (k != kb) throw new IllegalArgumentException(op + ": inner dimensions differ (" + k + " vs " + kb + ")");
        Checks.shape(op, "c", c, m, n);
        GemmDesc d = new GemmDesc(m, n, k, transA, transB, a.dim(1), b.dim(1), n, alpha, beta);
        kernels(a.device()).sgemm(d, buf(c), buf(a), buf(b));
    }
}
