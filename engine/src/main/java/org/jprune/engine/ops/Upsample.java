package org.jprune.engine.ops;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
import org.jprune.engine.Tensor;

/** Nearest-neighbour upsampling by an integer factor; backward sums each block. */
public final class Upsample {
    private Upsample() {}

    public static void forward(int scale, Tensor y, Tensor x) {
        String op = "upsample_nearest_fwd";
        Checks.rank(op, "x", x, 4);
        Checks.sameDevice(op, y, x);
        if (scale <= 0) throw new IllegalArgumentException(op + ": scale must be > 0, got " + scale);
        Checks.shape(op, "y", y, x.dim(0), x.dim(1), x.dim(2) * scale, x.dim(3) * scale);
        kernels(x.device()).upsampleFwd(buf(y), buf(x), x.dim(0), x.dim(1), x.dim(2), x.dim(3), scale);
    }

    public static void backward(int scale, Tensor dx, Tensor dy) {
        String op = "upsample_nearest_bwd";
        Checks.rank(op, "dx", dx, 4);
        Checks.sameDevice(op, dx, dy);
        if (scale <= 0) throw new IllegalArgumentException(op + ": scale must be > 0, got " + scale);
        Checks.shape(op, "dy", dy, dx.dim(0), dx.dim(1), dx.dim(2) * scale, dx.dim(3) * scale);
        kernels(dx.device()).upsampleBwd(buf(dx), buf(dy), dx.dim(0), dx.dim(1), dx.dim(2), dx.dim(3), scale);
    }
}
