package org.jprune.engine.ops;

/**
 * Max-pool geometry over [n][c][h][w]; padding counts as -infinity. pad is added before (top/left),
 * padEnd after (bottom/right); symmetric pooling has pad == padEnd. Darknet's 2x2 stride-1 maxpool
 * (same size out) is pad 0, padEnd 1.
 */
public record PoolDesc(int n, int c, int h, int w, int kernel, int stride, int pad, int padEnd) {
    public PoolDesc {
        if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || kernel <= 0 || stride <= 0 || pad < 0 || padEnd < 0 || pad >= kernel || padEnd >= kernel)
            throw new IllegalArgumentException("maxpool2d: bad geometry (each pad must be < kernel): input " + n + "x" + c + "x" + h + "x" + w
                    + ", kernel " + kernel + ", stride " + stride + ", pad " + pad + "/" + padEnd);
        if (h + pad + padEnd < kernel || w + pad + padEnd < kernel)
            throw new IllegalArgumentException("maxpool2d: kernel " + kernel + " larger than padded input " + h + "x" + w);
    }

    /** Symmetric padding. */
    public PoolDesc(int n, int c, int h, int w, int kernel, int stride, int pad) { this(n, c, h, w, kernel, stride, pad, pad); }

    public int outH() { return (h + pad + padEnd - kernel) / stride + 1; }
    public int outW() { return (w + pad + padEnd - kernel) / stride + 1; }
}
