package org.jprune.engine.ops;

/**
 * Geometry of a 2-D convolution, NCHW: input [n][c][h][w], weight [k][c/groups][r][s].
 * The compact constructor rejects impossible geometry, so every op built on it fails in Java, not in C.
 */
public record Conv2dDesc(int n, int c, int h, int w, int k, int r, int s, int strideH, int strideW,
                         int padH, int padW, int dilH, int dilW, int groups) {
    public Conv2dDesc {
        if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || k <= 0 || r <= 0 || s <= 0)
            throw new IllegalArgumentException("conv2d: sizes must be positive: input " + n + "x" + c + "x" + h + "x" + w + ", " + k + " filters of " + r + "x" + s);
        if (strideH <= 0 || strideW <= 0 || dilH <= 0 || dilW <= 0 || padH < 0 || padW < 0)
            throw new IllegalArgumentException("conv2d: stride/dilation must be > 0 and padding >= 0: stride " + strideH + "x" + strideW + ", dilation "
                    + dilH + "x" + dilW + ", pad " + padH + "x" + padW);
        if (groups <= 0 || c % groups != 0 || k % groups != 0)
            throw new IllegalArgumentException("conv2d: groups=" + groups + " must divide c=" + c + " and k=" + k);
        // in 64 bits: a huge dilation or padding must not wrap around into a "valid" geometry
        long extentH = (long) dilH * (r - 1) + 1, extentW = (long) dilW * (s - 1) + 1, paddedH = h + 2L * padH, paddedW = w + 2L * padW;
        if (paddedH > Integer.MAX_VALUE || paddedW > Integer.MAX_VALUE)
            throw new IllegalArgumentException("conv2d: padded input " + paddedH + "x" + paddedW + " exceeds 2^31-1 (pad " + padH + "x" + padW + ")");
        if (paddedH < extentH || paddedW < extentW)
            throw new IllegalArgumentException("conv2d: kernel " + r + "x" + s + " with dilation " + dilH + "x" + dilW + " (extent " + extentH + "x" + extentW
                    + ") larger than padded input " + paddedH + "x" + paddedW);
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
