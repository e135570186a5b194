package org.jprune.engine.ops;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
import org.jprune.engine.Tensor;
import org.jprune.engine.internal.Buf;

/** Max pooling with an argmax record for backward; stride 1 with pad k/2 keeps the size (SPPF). */
public final class MaxPool2d implements AutoCloseable {
    private final PoolDesc d;
    private final Tensor x;
    private Buf argmax;

    private MaxPool2d(PoolDesc d, Tensor x, Buf argmax) {
        this.d = d;
        this.x = x;
        this.argmax = argmax;
    }

    public static PoolDesc desc(Tensor x, int kernel, int stride, int pad) { return desc(x, kernel, stride, pad, pad); }

    /** Pooling of x with pad before and padEnd after (bottom/right). */
    public static PoolDesc desc(Tensor x, int kernel, int stride, int pad, int padEnd) {
        Checks.rank("maxpool2d", "x", x, 4);
        return new PoolDesc(x.dim(0), x.dim(1), x.dim(2), x.dim(3), kernel, stride, pad, padEnd);
    }

    /** y = maxpool(x); the returned record keeps the argmax for {@link #backward} and must be closed. */
    public static MaxPool2d forward(PoolDesc d, Tensor y, Tensor x) {
        String op = "maxpool2d_fwd";
        Checks.sameDevice(op, y, x);
        Checks.shape(op, "x", x, d.n(), d.c(), d.h(), d.w());
        Checks.shape(op, "y", y, d.n(), d.c(), d.outH(), d.outW());
        Buf am = kernels(x.device()).allocInts(y.numel());
        kernels(x.device()).maxpoolFwd(d, buf(y), am, buf(x));
        return new MaxPool2d(d, x, am);
    }

    public void backward(Tensor dx, Tensor dy) {
        String op = "maxpool2d_bwd";
        if (argmax == null) throw new IllegalStateException(op + ": the forward record is closed");
        Checks.sameDevice(op, dx, dy, x);
        Checks.shape(op, "dx", dx, d.n(), d.c(), d.h(), d.w());
        Checks.shape(op, "dy", dy, d.n(), d.c(), d.outH(), d.outW());
        kernels(x.device()).maxpoolBwd(d, buf(dx), buf(dy), argmax);
    }

    @Override
    public void close() {
        if (argmax != null && !x.device().isClosed()) kernels(x.device()).free(argmax);
        argmax = null;
    }
}
