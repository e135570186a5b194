package org.jprune.engine.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jprune.engine.Tensor;
import org.jprune.engine.ops.Activation;
import org.jprune.engine.ops.ChannelIndex;
import org.jprune.engine.ops.Channels;
import org.jprune.engine.ops.Eltwise;
import org.jprune.engine.ops.MaxPool2d;
import org.jprune.engine.ops.PoolDesc;
import org.jprune.engine.ops.Upsample;

/** The parameter-free layers: activation, max pool, nearest upsample, concat, add. */
public final class SimpleLayers {
    private SimpleLayers() {}

    public static final class ActLayer implements Layer {
        private final Activation kind;
        private final float alpha;

        private volatile boolean fused;

        public ActLayer(Activation kind, float alpha) { this.kind = kind; this.alpha = alpha; }

        public Activation kind() { return kind; }
        /** Whether inference passes the input through (the conv before it applies this activation: {@link Graph#fuseActivations()}). */
        public boolean fused() { return fused; }
        void setFused(boolean f) { fused = f; }
        /** The negative slope of a leaky ReLU. */
        public float alpha() { return alpha; }
        @Override public String type() { return "act"; }
        @Override public ChannelMap channelMap() { return ChannelMap.SAME; }
        @Override public int[] outputShape(List<int[]> in) { return in.get(0).clone(); }

        @Override
        public Tensor forward(List<Tensor> inputs, Ctx ctx) {
            Tensor x = inputs.get(0);
            if (ctx.training()) ctx.save(x);
            return kind.forward(alpha, x);
        }

        @Override
        public List<Tensor> backward(Tensor dy, Ctx ctx) {
            Tensor x = ctx.saved();
            Tensor dx = Tensor.empty(x.device(), x.shape());
            kind.backward(alpha, dx, dy, x);
            return Collections.singletonList(dx);
        }

        @Override
        public Map<String, Object> args() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", kind.name().toLowerCase(java.util.Locale.ROOT)); m.put("alpha", alpha);
            return m;
        }
    }

    public static final class MaxPoolLayer implements Layer {
        private final int kernel, stride, pad, padEnd;

        public MaxPoolLayer(int kernel, int stride, int pad) { this(kernel, stride, pad, pad); }

        /** pad before (top/left), padEnd after (bottom/right). */
        public MaxPoolLayer(int kernel, int stride, int pad, int padEnd) {
            if (kernel <= 0 || stride <= 0 || pad < 0 || padEnd < 0 || pad >= kernel || padEnd >= kernel)
                throw new IllegalArgumentException("maxpool: bad kernel=" + kernel + " stride=" + stride + " pad=" + pad + " padEnd=" + padEnd);
            this.kernel = kernel; this.stride = stride; this.pad = pad; this.padEnd = padEnd;
        }

        public int kernel() { return kernel; }
        public int stride() { return stride; }
        /** Padding before (top, left) and after (bottom, right). */
        public int pad() { return pad; }
        public int padEnd() { return padEnd; }

        @Override public String type() { return "maxpool"; }
        @Override public ChannelMap channelMap() { return ChannelMap.SAME; }

        @Override
        public int[] outputShape(List<int[]> in) {
            int[] x = in.get(0);
            PoolDesc d = new PoolDesc(x[0], x[1], x[2], x[3], kernel, stride, pad, padEnd);
            return new int[] {x[0], x[1], d.outH(), d.outW()};
        }

        @Override
        public Tensor forward(List<Tensor> inputs, Ctx ctx) {
            Tensor x = inputs.get(0);
            PoolDesc d = MaxPool2d.desc(x, kernel, stride, pad, padEnd);
            Tensor y = Tensor.empty(x.device(), d.n(), d.c(), d.outH(), d.outW());
            MaxPool2d rec = ctx.own(MaxPool2d.forward(d, y, x));
            if (ctx.training()) ctx.save(new Object[] {x, rec});
            return y;
        }

        @Override
        public List<Tensor> backward(Tensor dy, Ctx ctx) {
            Object[] s = ctx.saved();
            Tensor x = (Tensor) s[0];
            Tensor dx = Tensor.empty(x.device(), x.shape());
            ((MaxPool2d) s[1]).backward(dx, dy);
            return Collections.singletonList(dx);
        }

        @Override
        public Map<String, Object> args() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kernel", kernel); m.put("stride", stride); m.put("pad", pad);
            if (padEnd != pad) m.put("pad_end", padEnd);
            return m;
        }
    }

    public static final class UpsampleLayer implements Layer {
        private final int scale;

        public UpsampleLayer(int scale) {
            if (scale <= 0 || scale > 1024) throw new IllegalArgumentException("upsample: scale must be in [1, 1024], got " + scale);
            this.scale = scale;
        }

        public int scale() { return scale; }
        @Override public String type() { return "upsample"; }
        @Override public ChannelMap channelMap() { return ChannelMap.SAME; }
        @Override
        public int[] outputShape(List<int[]> in) {
            int[] x = in.get(0);
            try {
                return new int[] {x[0], x[1], Math.multiplyExact(x[2], scale), Math.multiplyExact(x[3], scale)};
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("upsample: " + x[2] + "x" + x[3] + " times " + scale + " overflows");
            }
        }

        @Override
        public Tensor forward(List<Tensor> inputs, Ctx ctx) {
            Tensor x = inputs.get(0);
            Tensor y = Tensor.empty(x.device(), x.dim(0), x.dim(1), x.dim(2) * scale, x.dim(3) * scale);
            Upsample.forward(scale, y, x);
            if (ctx.training()) ctx.save(x.shape());
            return y;
        }

        @Override
        public List<Tensor> backward(Tensor dy, Ctx ctx) {
            Tensor dx = Tensor.empty(dy.device(), ctx.<int[]>saved());
            Upsample.backward(scale, dx, dy);
            return Collections.singletonList(dx);
        }

        @Override public Map<String, Object> args() { return Map.of("scale", scale); }
    }

    public static final class ConcatLayer implements Layer {
        @Override public String type() { return "concat"; }
        @Override public ChannelMap channelMap() { return ChannelMap.CONCAT; }

        @Override
        public int[] outputShape(List<int[]> in) {
            int[] out = in.get(0).clone();
            out[1] = 0;
            for (int[] s : in) {
                if (s.length != 4 || s[0] != out[0] || s[2] != out[2] || s[3] != out[3])
                    throw new IllegalArgumentException("concat: input " + Arrays.toString(s) + " does not match " + Arrays.toString(in.get(0)));
                out[1] += s[1];
            }
            return out;
        }

        @Override
        public Tensor forward(List<Tensor> inputs, Ctx ctx) {
            List<int[]> shapes = new ArrayList<>();
            for (Tensor t : inputs) shapes.add(t.shape());
            Tensor y = Tensor.empty(inputs.get(0).device(), outputShape(shapes));
            Channels.concat(y, inputs);
            if (ctx.training()) ctx.save(shapes);
            return y;
        }

        @Override
        public List<Tensor> backward(Tensor dy, Ctx ctx) {
            List<int[]> shapes = ctx.saved();
            List<Tensor> dxs = new ArrayList<>();
            for (int[] s : shapes) dxs.add(Tensor.empty(dy.device(), s));
            Channels.split(dy, dxs);
            return dxs;
        }

        @Override public Map<String, Object> args() { return Map.of(); }
    }

    public static final class AddLayer implements Layer {
        @Override public String type() { return "add"; }
        @Override public ChannelMap channelMap() { return ChannelMap.SAME; }

        @Override
        public int[] outputShape(List<int[]> in) {
            for (int[] s : in)
                if (!Arrays.equals(s, in.get(0))) throw new IllegalArgumentException("add: shapes differ " + Arrays.toString(s) + " vs " + Arrays.toString(in.get(0)));
            return in.get(0).clone();
        }

        @Override
        public Tensor forward(List<Tensor> inputs, Ctx ctx) {
            outputShape(inputs.stream().map(Tensor::shape).toList());
            Tensor y = inputs.get(0).copy();
            for (int i = 1; i < inputs.size(); i++) Eltwise.add(y, y, inputs.get(i));
            if (ctx.training()) ctx.save(inputs.size());
            return y;
        }

        @Override
        public List<Tensor> backward(Tensor dy, Ctx ctx) {
            int n = ctx.saved();
            List<Tensor> out = new ArrayList<>();
            for (int i = 0; i < n; i++) out.add(dy.copy());
            return out;
        }

        @Override public Map<String, Object> args() { return Map.of(); }
    }

    /**
     * Channels [start, start + count) of the input (darknet's route with groups/group_id takes one
     * group of its input's channels).
     */
    public static final class SliceLayer implements Layer {
        private final int start, count;

        public SliceLayer(int start, int count) {
            if (start < 0 || count <= 0) throw new IllegalArgumentException("slice: bad start=" + start + " count=" + count);
            this.start = start;
            this.count = count;
        }

        public int start() { return start; }
        public int count() { return count; }

        @Override public String type() { return "slice"; }
        @Override public ChannelMap channelMap() { return ChannelMap.SLICE; }

        @Override
        public int[] outputShape(List<int[]> in) {
            int[] x = in.get(0);
            if (x.length != 4 || start + count > x[1])
                throw new IllegalArgumentException("slice: channels [" + start + ", " + (start + count) + ") of input " + Arrays.toString(x));
            return new int[] {x[0], count, x[2], x[3]};
        }

        private ChannelIndex index(Tensor x, Ctx ctx) {
            int[] idx = new int[count];
            for (int i = 0; i < count; i++) idx[i] = start + i;
            return ctx.own(new ChannelIndex(x.device(), idx, x.dim(1)));
        }

        @Override
        public Tensor forward(List<Tensor> inputs, Ctx ctx) {
            Tensor x = inputs.get(0);
            outputShape(List.of(x.shape()));
            ChannelIndex idx = index(x, ctx);
            if (ctx.training()) ctx.save(new Object[] {x.shape(), idx});
            return Channels.gather(x, 1, idx);
        }

        @Override
        public List<Tensor> backward(Tensor dy, Ctx ctx) {
            Object[] s = ctx.saved();
            Tensor dx = Tensor.zeros(dy.device(), (int[]) s[0]);
            Channels.scatter(dx, 1, (ChannelIndex) s[1], dy);
            return Collections.singletonList(dx);
        }

        @Override
        public Map<String, Object> args() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("start", start);
            m.put("count", count);
            return m;
        }
    }
}
