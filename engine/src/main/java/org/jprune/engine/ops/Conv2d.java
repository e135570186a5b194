package org.jprune.engine.ops;

import java.util.Arrays;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;

/**
 * 2-D convolution, forward and backward side by side: dense, channel-sparse (only listed input and
 * output channels take part) and weight-sparse (CSR) forward. x is [n][c][h][w], w is
 * [k][c/groups][r][s], y is [n][k][ho][wo]. Backward methods overwrite their outputs.
 */
public final class Conv2d {
    private Conv2d() {}

    /** The geometry of convolving x with w; checks ranks and channel counts. */
    public static Conv2dDesc desc(Tensor x, Tensor w, int stride, int pad, int dilation, int groups) {
        String op = "conv2d";
        Checks.rank(op, "x", x, 4);
        Checks.rank(op, "w", w, 4);
        if (groups <= 0 || w.dim(1) * groups != x.dim(1))
            throw new IllegalArgumentException(op + ": x has " + x.dim(1) + " channels but w " + Arrays.toString(w.shape())
                    + " with groups=" + groups + " expects " + (long) w.dim(1) * groups);
        return new Conv2dDesc(x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), stride, stride, pad, pad,
                dilation, dilation, groups);
    }

    static void checkTensors(String op, Conv2dDesc d, Tensor y, Tensor x, Tensor w, Tensor bias) {
        Checks.sameDevice(op, y, x, w, bias);
        Checks.shape(op, "x", x, d.n(), d.c(), d.h(), d.w());
        Checks.shape(op, "w", w, d.k(), d.c() / d.groups(), d.r(), d.s());
        Checks.shape(op, "y", y, d.n(), d.k(), d.outH(), d.outW());
        if (bias != null) Checks.shape(op, "bias", bias, d.k());
    }

    public static Tensor forward(Tensor x, Tensor w, Tensor bias, int stride, int pad, int groups) {
        Conv2dDesc d = desc(x, w, stride, pad, 1, groups);
        Tensor y = Tensor.empty(x.device(), d.n(), d.k(), d.outH(), d.outW());
        forward(d, y, x, w, bias);
        return y;
    }

    public static void forward(Conv2dDesc d, Tensor y, Tensor x, Tensor w, Tensor bias) {
        checkTensors("conv2d_fwd", d, y, x, w, bias);
        x.device().kernels().conv2dFwd(d, y.buf(), x.buf(), w.buf(), bias == null ? null : bias.buf());
    }

    /**
     * y = act(conv(x, w) + bias) in one op: the activation runs in the convolution's epilogue, while
     * each image's output is still in cache (inference: conv + folded batch norm + activation).
     */
    public static void forward(Conv2dDesc d, Tensor y, Tensor x, Tensor w, Tensor bias, Activation act, float alpha) {
        checkTensors("conv2d_fwd_act", d, y, x, w, bias);
        if (act == Activation.LEAKY_RELU && !Float.isFinite(alpha)) throw new IllegalArgumentException("conv2d_fwd_act: leaky ReLU slope is " + alpha);
        x.device().kernels().conv2dFwdAct(d, y.buf(), x.buf(), w.buf(), bias == null ? null : bias.buf(), act.code, alpha);
    }

    public static void backwardData(Conv2dDesc d, Tensor dx, Tensor dy, Tensor w) {
        checkTensors("conv2d_bwd_data", d, dy, dx, w, null);
        dx.device().kernels().conv2dBwdData(d, dx.buf(), dy.buf(), w.buf());
    }

    /** dw (and db if non-null) from dy and x. */
    public static void backwardFilter(Conv2dDesc d, Tensor dw, Tensor db, Tensor dy, Tensor x) {
        checkTensors("conv2d_bwd_filter", d, dy, x, dw, db);
        x.device().kernels().conv2dBwdFilter(d, dw.buf(), db == null ? null : db.buf(), dy.buf(), x.buf());
    }

    // ---- channel-sparse ----

    private static void checkSparse(String op, Conv2dDesc d, ChannelIndex in, ChannelIndex out, Device dev) {
        if (d.groups() != 1) throw new IllegalArgumentException(op + ": channel-sparse conv needs groups == 1, got " + d.groups());
        if (in == null || out == null) throw new IllegalArgumentException(op + ": channel index lists must not be null");
        if (in.limit() != d.c()) throw new IllegalArgumentException(op + ": input index list is over " + in.limit() + " channels, x has " + d.c());
        if (out.limit() != d.k()) throw new IllegalArgumentException(op + ": output index list is over " + out.limit() + " channels, w has " + d.k());
        if (in.device() != dev || out.device() != dev) throw new IllegalArgumentException(op + ": index lists on another device");
    }

    public static void forwardChannelSparse(Conv2dDesc d, Tensor y, Tensor x, Tensor w, Tensor bias, ChannelIndex in, ChannelIndex out) {
        String op = "conv2d_cs_fwd";
        checkTensors(op, d, y, x, w, bias);
        checkSparse(op, d, in, out, x.device());
        x.device().kernels().conv2dCsFwd(d, y.buf(), x.buf(), w.buf(), bias == null ? null : bias.buf(), in.buf(op), in.size(), out.buf(op), out.size());
    }

    public static void backwardDataChannelSparse(Conv2dDesc d, Tensor dx, Tensor dy, Tensor w, ChannelIndex in, ChannelIndex out) {
        String op = "conv2d_cs_bwd_data";
        checkTensors(op, d, dy, dx, w, null);
        checkSparse(op, d, in, out, dx.device());
        dx.device().kernels().conv2dCsBwdData(d, dx.buf(), dy.buf(), w.buf(), in.buf(op), in.size(), out.buf(op), out.size());
    }

    public static void backwardFilterChannelSparse(Conv2dDesc d, Tensor dw, Tensor db, Tensor dy, Tensor x, ChannelIndex in, ChannelIndex out) {
        String op = "conv2d_cs_bwd_filter";
        checkTensors(op, d, dy, x, dw, db);
        checkSparse(op, d, in, out, x.device());
        x.device().kernels().conv2dCsBwdFilter(d, dw.buf(), db == null ? null : db.buf(), dy.buf(), x.buf(), in.buf(op), in.size(), out.buf(op), out.size());
    }

    // ---- weight-sparse ----

    public static void forwardCsr(Conv2dDesc d, Tensor y, Tensor x, CsrMatrix w, Tensor bias) {
        String op = "conv2d_csr_fwd";
        Checks.sameDevice(op, y, x, bias);
        Checks.shape(op, "x", x, d.n(), d.c(), d.h(), d.w());
        Checks.shape(op, "y", y, d.n(), d.k(), d.outH(), d.outW());
        if (bias != null) Checks.shape(op, "bias", bias, d.k());
        if (w == null) throw new IllegalArgumentException(op + ": weights are null");
        if (w.rows() != d.k() || w.cols() != d.c() / d.groups() * d.r() * d.s())
            throw new IllegalArgumentException(op + ": CSR weights are " + w.rows() + "x" + w.cols() + ", expected " + d.k() + "x"
                    + (d.c() / d.groups() * d.r() * d.s()));
        if (w.device() != x.device()) throw new IllegalArgumentException(op + ": CSR weights on another device");
        x.device().kernels().conv2dCsrFwd(d, y.buf(), x.buf(), w.rowPtr(op), w.colIdx(op), w.values(op), bias == null ? null : bias.buf());
    }
}
