package org.jprune.engine.ops;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
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
        kernels(x.device()).conv2dFwd(d, buf(y), buf(x), buf(w), bias == null ? null : buf(bias));
    }

    /**
     * y = act(conv(x, w) + bias) in one op: the activation runs in the convolution's epilogue, while
     * each image's output is still in cache (inference: conv + folded batch norm + activation).
     */
    public static void forward(Conv2dDesc d, Tensor y, Tensor x, Tensor w, Tensor bias, Activation act, float alpha) {
        checkTensors("conv2d_fwd_act", d, y, x, w, bias);
        if (act == Activation.LEAKY_RELU && !Float.isFinite(alpha)) throw new IllegalArgumentException("conv2d_fwd_act: leaky ReLU slope is " + alpha);
        kernels(x.device()).conv2dFwdAct(d, buf(y), buf(x), buf(w), bias == null ? null : buf(bias), act.code, alpha);
    }

    /**
     * The weights w of convolutions of d's channels, kernel and groups packed once for the device's forward
     * kernel (inference with fixed weights: {@code Conv2dLayer} packs its folded weights), or null when the
     * device's kernel reads them as they are (CUDA; a CPU without AVX2; groups > 1). Only n, h, w, stride
     * and padding of the convolutions it is used with may differ from d; the packed form must be made
     * again whenever w changes.
     */
    public static Tensor pack(Conv2dDesc d, Tensor w) {
        Checks.shape("conv2d_pack", "w", w, d.k(), d.c() / d.groups(), d.r(), d.s());
        var k = kernels(w.device());
        long floats = k.conv2dPackedSize(d);
        if (floats <= 0) return null;
        if (floats > Integer.MAX_VALUE) throw new IllegalArgumentException("conv2d_pack: the packed form of " + d + " takes " + floats + " floats");
        Tensor packed = Tensor.empty(w.device(), (int) floats);
        try {
            k.conv2dPack(d, buf(packed), floats, buf(w));
        } catch (RuntimeException e) {
            packed.close();
            throw e;
        }
        return packed;
    }

    /** {@link #forward(Conv2dDesc, Tensor, Tensor, Tensor, Tensor, Activation, float)} reading w's packed form ({@link #pack}). */
    public static void forward(Conv2dDesc d, Tensor y, Tensor x, Tensor w, Tensor packed, Tensor bias, Activation act, float alpha) {
        checkTensors("conv2d_fwd_packed", d, y, x, w, bias);
        if (packed == null) throw new IllegalArgumentException("conv2d_fwd_packed: packed is null");
        Checks.sameDevice("conv2d_fwd_packed", x, packed);
        if (act == Activation.LEAKY_RELU && !Float.isFinite(alpha)) throw new IllegalArgumentException("conv2d_fwd_packed: leaky ReLU slope is " + alpha);
        kernels(x.device()).conv2dFwdPacked(d, buf(y), buf(x), buf(w), buf(packed), packed.numel(), bias == null ? null : buf(bias), act.code, alpha);
    }

    public static void backwardData(Conv2dDesc d, Tensor dx, Tensor dy, Tensor w) {
        checkTensors("conv2d_bwd_data", d, dy, dx, w, null);
        kernels(dx.device()).conv2dBwdData(d, buf(dx), buf(dy), buf(w));
    }

    /** dw (and db if non-null) from dy and x. */
    public static void backwardFilter(Conv2dDesc d, Tensor dw, Tensor db, Tensor dy, Tensor x) {
        checkTensors("conv2d_bwd_filter", d, dy, x, dw, db);
        kernels(x.device()).conv2dBwdFilter(d, buf(dw), db == null ? null : buf(db), buf(dy), buf(x));
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
        kernels(x.device()).conv2dCsFwd(d, buf(y), buf(x), buf(w), bias == null ? null : buf(bias), in.buf(op), in.size(), out.buf(op), out.size());
    }

    public static void backwardDataChannelSparse(Conv2dDesc d, Tensor dx, Tensor dy, Tensor w, ChannelIndex in, ChannelIndex out) {
        String op = "conv2d_cs_bwd_data";
        checkTensors(op, d, dy, dx, w, null);
        checkSparse(op, d, in, out, dx.device());
        kernels(dx.device()).conv2dCsBwdData(d, buf(dx), buf(dy), buf(w), in.buf(op), in.size(), out.buf(op), out.size());
    }

    public static void backwardFilterChannelSparse(Conv2dDesc d, Tensor dw, Tensor db, Tensor dy, Tensor x, ChannelIndex in, ChannelIndex out) {
        String op = "conv2d_cs_bwd_filter";
        checkTensors(op, d, dy, x, dw, db);
        checkSparse(op, d, in, out, x.device());
        kernels(x.device()).conv2dCsBwdFilter(d, buf(dw), db == null ? null : buf(db), buf(dy), buf(x), in.buf(op), in.size(), out.buf(op), out.size());
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
        kernels(x.device()).conv2dCsrFwd(d, buf(y), buf(x), w.rowPtr(op), w.colIdx(op), w.values(op), bias == null ? null : buf(bias));
    }
}
