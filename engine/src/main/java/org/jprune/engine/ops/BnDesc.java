package org.jprune.engine.ops;

/** Batch norm over x viewed as [n][c][hw]. */
public record BnDesc(int n, int c, int hw, float eps, float momentum) {
    public BnDesc {
        if (n <= 0 || c <= 0 || hw <= 0) throw new IllegalArgumentException("batchnorm: sizes must be positive: n=" + n + " c=" + c + " hw=" + hw);
        if (!(eps > 0) || !(momentum >= 0 && momentum <= 1))
            throw new IllegalArgumentException("batchnorm: eps must be > 0 and momentum in [0,1]: eps=" + eps + " momentum=" + momentum);
    }
}
