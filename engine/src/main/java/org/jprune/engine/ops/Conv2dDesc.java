package org.jprune.engine.ops;

/**
 * Geometry of a 2-D convolution, NCHW: input [n][c][h][w], weight [k][c/groups][r][s].
 * The compact constructor rejects impossible geometry, so every op built on it fails in Java, not in C.
 */
public record Conv2dDesc(int n, int c, int h, int w, int k, int r, int s, int strideH, int strideW,
                         int padH, int padW, int dilH, int dilW, int groups) {
    public Conv2dDesc {
        if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || k <= 0 || r <= 0 || s <= 0)
            throw new IllegalArgumentException("conv2d: sizes must be positive: " + this);
        if (strideH <= 0 || strideW <= 0 || dilH <= 0 || dilW <= 0 || padH < 0 || padW < 0)
            throw new IllegalArgumentException("conv2d: stride/dilation must be > 0 and padding >= 0: " + this);
        if (groups <= 0 || c % groups != 0 || k % groups != 0)
            throw new IllegalArgumentException("conv2d: groups=" + groups + " must divide c=" + c + " and k=" + k);
        if ((h + 2 * padH - dilH * (r - 1) - 1) / strideH + 1 <= 0 || (w + 2 * padW - dilW * (s - 1) - 1) / strideW + 1 <= 0
                || h + 2 * padH < dilH * (r - 1) + 1 || w + 2 * padW < dilW * (s - 1) + 1)
            throw new IllegalArgumentException("conv2d: kernel " + r + "x" + s + " larger than padded input " + h + "x" + w);
    }

    /** Square kernel, same stride and padding in both directions, no dilation. */
    public static Conv2dDesc of(int n, int c, int h, int w, int k, int kernel, int stride, int pad, int groups) {
        return new Conv2dDesc(n, c, h, w, k, kernel, kernel, stride, stride, pad, pad, 1, 1, groups);
    }

    public int outH() { return (h + 2 * padH - dilH * (r - 1) - 1) / strideH + 1; }
    public int outW() { return (w + 2 * padW - dilW * (s - 1) - 1) / strideW + 1; }
    public long inputSize() { return (long) n * c * h * w; }
    public long outputSize() { return (long) n * k * outH() * outW(); }
    public long weightSize() { return (long) k * (c / groups) * r * s; }
    /** Multiply-accumulates of the forward pass. */
    public long macs() { return (long) n * k * outH() * outW() * (c / groups) * r * s; }
}
