package org.jprune.engine.ops;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
import java.util.Arrays;
import java.util.List;
import org.jprune.engine.Tensor;

/**
 * Channel-wise ops over any axis: a tensor is viewed as [outer][channels][inner] around that axis.
 * Masking, norms, group-regularization gradients and gather/scatter serve pruning; concat/split
 * copies serve the graph. Axis 0 of a conv weight is its output channels, axis 1 its input channels.
 */
public final class Channels {
    private Channels() {}

    record View(long outer, long channels, long inner) {}

    static View view(String op, Tensor t, int axis) {
        int a = Checks.axis(op, Checks.open(op, "tensor", t), axis);
        int[] s = t.shape();
        return new View(Checks.prod(s, 0, a), s[a], Checks.prod(s, a + 1, s.length));
    }

    /** t[..., c, ...] *= mask[c] along axis. */
    public static void mask(Tensor t, int axis, Tensor mask) {
        String op = "mask_channels";
        View v = view(op, t, axis);
        Checks.sameDevice(op, t, mask);
        Checks.size(op, "mask", mask, v.channels());
        kernels(t.device()).maskChannels(buf(t), buf(mask), v.outer(), v.channels(), v.inner());
    }

    /** Per-channel L1 (p = 1) or L2 (p = 2) norm along axis, as a new tensor of shape [channels]. */
    public static Tensor norms(Tensor t, int axis, int p) {
        String op = "channel_norms";
        if (p != 1 && p != 2) throw new IllegalArgumentException(op + ": p must be 1 or 2, got " + p);
        View v = view(op, t, axis);
        Tensor out = Tensor.empty(t.device(), (int) v.channels());
        kernels(t.device()).channelNorms(buf(out), buf(t), v.outer(), v.channels(), v.inner(), p);
        return out;
    }

    /** grad += lambda * scale[c] * data along axis (group regularization between backward and step). */
    public static void groupRegGrad(Tensor grad, Tensor data, int axis, Tensor scale, float lambda) {
        String op = "group_reg_grad";
        View v = view(op, data, axis);
        Checks.sameDevice(op, grad, data, scale);
        if (!Arrays.equals(grad.shape(), data.shape()))
            throw new IllegalArgumentException(op + ": grad " + Arrays.toString(grad.shape()) + " and data " + Arrays.toString(data.shape()) + " differ");
        Checks.size(op, "scale", scale, v.channels());
        kernels(data.device()).groupRegGrad(buf(grad), buf(data), buf(scale), lambda, v.outer(), v.channels(), v.inner());
    }

    /** A new tensor holding only the listed channels along axis (compaction). */
    public static Tensor gather(Tensor src, int axis, ChannelIndex idx) {
        String op = "gather_channels";
        View v = view(op, src, axis);
        checkIndex(op, idx, v, src);
        int[] shape = src.shape();
        shape[Checks.axis(op, src, axis)] = idx.size();
        Tensor dst = Tensor.empty(src.device(), shape);
        kernels(src.device()).gatherChannels(buf(dst), buf(src), idx.buf(op), idx.size(), v.outer(), v.channels(), v.inner());
        return dst;
    }

    /** dst's listed channels along axis = src (which holds only those channels); others untouched. */
    public static void scatter(Tensor dst, int axis, ChannelIndex idx, Tensor src) {
        String op = "scatter_channels";
        View v = view(op, dst, axis);
        checkIndex(op, idx, v, dst);
        Checks.sameDevice(op, dst, src);
        Checks.size(op, "src", src, v.outer() * idx.size() * v.inner());
        kernels(dst.device()).scatterChannels(buf(dst), buf(src), idx.buf(op), idx.size(), v.outer(), v.channels(), v.inner());
    }

    private static void checkIndex(String op, ChannelIndex idx, View v, Tensor t) {
        if (idx == null) throw new IllegalArgumentException(op + ": index list is null");
        if (idx.limit() != v.channels())
            throw new IllegalArgumentException(op + ": index list is over " + idx.limit() + " channels, tensor has " + v.channels());
        if (idx.device() != t.device()) throw new IllegalArgumentException(op + ": index list on another device");
    }

    /** Concatenation along axis 1 of [n][c_i][h][w] tensors into y. */
    public static void concat(Tensor y, List<Tensor> xs) {
        String op = "concat";
        Checks.rank(op, "y", y, 4);
        long off = 0;
        for (Tensor x : xs) {
            Checks.rank(op, "input", x, 4);
            Checks.sameDevice(op, y, x);
            if (x.dim(0) != y.dim(0) || x.dim(2) != y.dim(2) || x.dim(3) != y.dim(3))
                throw new IllegalArgumentException(op + ": input " + Arrays.toString(x.shape()) + " does not fit output " + Arrays.toString(y.shape()));
            off += x.dim(1);
        }
        if (off != y.dim(1)) throw new IllegalArgumentException(op + ": inputs have " + off + " channels, output has " + y.dim(1));
        off = 0;
        long inner = (long) y.dim(2) * y.dim(3);
        for (Tensor x : xs) {
            kernels(y.device()).channelCopy(buf(y), y.dim(1), off, buf(x), x.dim(1), 0, x.dim(1), y.dim(0), inner);
            off += x.dim(1);
        }
    }

    /** Backward of concat: each dx_i = dy's slice of channels (overwrites). */
    public static void split(Tensor dy, List<Tensor> dxs) {
        String op = "split";
        Checks.rank(op, "dy", dy, 4);
        long off = 0, inner = (long) dy.dim(2) * dy.dim(3);
        for (Tensor dx : dxs) {
            Checks.rank(op, "dx", dx, 4);
            Checks.sameDevice(op, dy, dx);
            if (off + dx.dim(1) > dy.dim(1) || dx.dim(0) != dy.dim(0) || dx.dim(2) != dy.dim(2) || dx.dim(3) != dy.dim(3))
                throw new IllegalArgumentException(op + ": slice " + Arrays.toString(dx.shape()) + " at channel " + off + " does not fit " + Arrays.toString(dy.shape()));
            kernels(dy.device()).channelCopy(buf(dx), dx.dim(1), 0, buf(dy), dy.dim(1), off, dx.dim(1), dy.dim(0), inner);
            off += dx.dim(1);
        }
        if (off != dy.dim(1)) throw new IllegalArgumentException(op + ": slices cover " + off + " of " + dy.dim(1) + " channels");
    }

    /** out[c] = sum of x over every axis but axis (bias gradients). */
    public static Tensor sum(Tensor x, int axis) {
        View v = view("sum_channels", x, axis);
        Tensor out = Tensor.empty(x.device(), (int) v.channels());
        kernels(x.device()).sumChannels(buf(out), buf(x), v.outer(), v.channels(), v.inner());
        return out;
    }
}
