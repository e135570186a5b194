package org.jprune.engine.ops;

/** Max-pool geometry over [n][c][h][w]; padding counts as -infinity. */
public record PoolDesc(int n, int c, int h, int w, int kernel, int stride, int pad) {
    public PoolDesc {
        if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || kernel <= 0 || stride <= 0 || pad < 0 || 2 * pad > kernel)
            throw new IllegalArgumentException("maxpool2d: bad geometry (pad must be <= kernel/2): " + this);
        if (h + 2 * pad < kernel || w + 2 * pad < kernel)
            throw new IllegalArgumentException("maxpool2d: kernel " + kernel + " larger than padded input " + h + "x" + w);
    }
    public int outH() { return (h + 2 * pad - kernel) / stride + 1; }
    public int outW() { return (w + 2 * pad - kernel) / stride + 1; }
}
