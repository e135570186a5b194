package org.jprune.engine.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.ops.ChannelIndex;
import org.jprune.engine.ops.Conv2d;
import org.jprune.engine.ops.Conv2dDesc;

/**
 * Convolution layer: weight [out][in/groups][k][k] and optional bias, PyTorch's default
 * initialisation (uniform in +-1/sqrt(fan_in)) from a seed. With {@link #setActiveChannels} it runs
 * the channel-sparse kernels: only the listed input and output channels are computed, which is the
 * speed of the masked network while it fine-tunes.
 */
public final class Conv2dLayer implements Layer {
    private final int in, out, kernel, stride, pad, groups;
    private final Parameter weight, bias;
    private ChannelIndex activeIn, activeOut;
    private volatile org.jprune.engine.ops.CsrMatrix csr; // inference on the nonzero weights (unstructured pruning)
    private volatile int csrMaxBatch;                    // CSR for inference batches up to this size
    private volatile Tensor[] fold;                      // {weight, bias, packed weight or null} with the next batch norm folded in (inference only)
    private volatile org.jprune.engine.ops.Activation inferenceAct; // the next activation, fused (inference only); null none
    private float inferenceAlpha;                        // its slope (leaky ReLU); written before inferenceAct

    public Conv2dLayer(Device device, String name, int in, int out, int kernel, int stride, int pad, int groups, boolean bias, long seed) {
        if (in <= 0 || out <= 0 || kernel <= 0 || stride <= 0 || pad < 0 || groups <= 0 || in % groups != 0 || out % groups != 0)
            throw new IllegalArgumentException("conv layer " + name + ": bad arguments in=" + in + " out=" + out + " kernel=" + kernel
                    + " stride=" + stride + " pad=" + pad + " groups=" + groups);
        this.in = in;
        this.out = out;
        this.kernel = kernel;
        this.stride = stride;
        this.pad = pad;
        this.groups = groups;
        long fanInL = (long) in / groups * kernel * kernel, size = fanInL * out;
        if (size > Integer.MAX_VALUE)
            throw new IllegalArgumentException("conv layer " + name + ": weight of " + out + " x " + in / groups + " x " + kernel + " x " + kernel + " = " + size
                    + " values exceeds 2^31-1");
        int fanIn = (int) fanInL;
        double bound = 1 / Math.sqrt(fanIn);
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] w = new float[(int) size];
        for (int i = 0; i < w.length; i++) w[i] = (float) ((rnd.nextDouble() * 2 - 1) * bound);
        this.weight = new Parameter(name + ".weight", Tensor.of(device, w, out, in / groups, kernel, kernel), true);
        if (bias) {
            float[] b = new float[out];
            for (int i = 0; i < out; i++) b[i] = (float) ((rnd.nextDouble() * 2 - 1) * bound);
            this.bias = new Parameter(name + ".bias", Tensor.of(device, b, out), false);
        } else {
            this.bias = null;
        }
    }

    public int inChannels() { return in; }
    public int outChannels() { return out; }
    public int kernel() { return kernel; }
    public int stride() { return stride; }
    public int pad() { return pad; }
    public int groups() { return groups; }
    public Parameter weight() { return weight; }
    public Parameter bias() { return bias; }

    /** Restrict computation to these channels (null, null: dense again). Takes ownership of the lists. */
    public void setActiveChannels(ChannelIndex inputs, ChannelIndex outputs) {
        if ((inputs == null) != (outputs == null)) throw new IllegalArgumentException("conv: give both channel lists or neither");
        if (inputs != null && (groups != 1 || inputs.limit() != in || outputs.limit() != out))
            throw new IllegalArgumentException("conv: channel lists over " + inputs.limit() + "/" + outputs.limit()
                    + " channels do not fit a conv " + in + "->" + out + " with groups " + groups);
        if (activeIn != null) { activeIn.close(); activeOut.close(); }
        activeIn = inputs;
        activeOut = outputs;
    }

    /**
     * Inference (not training) runs the CSR convolution on these weights instead of the dense one
     * (null: dense again). Takes ownership; the caller keeps them equal to the weight's nonzeros.
     */
    public void setInferenceCsr(org.jprune.engine.ops.CsrMatrix m) { setInferenceCsr(m, Integer.MAX_VALUE); }

    /**
     * Inference (not training) runs with these weight and bias tensors (the layer owns them from now on)
     * instead of its parameters: its batch norm folded in ({@link Graph#foldBatchNorms()}); null drops them.
     * Since nothing else writes them, the weights are also packed once here for the device's forward
     * kernel where it has a packed form (the CPU's indirect GEMM packed them on every call: 7% of a
     * YOLOv5s forward pass at batch 1).
     */
    public void setInferenceFold(Tensor foldedWeight, Tensor foldedBias) {
        if (foldedWeight != null && csr != null) throw new IllegalStateException("conv " + weight.name() + ": has an inference CSR matrix; cannot fold");
        if (foldedWeight != null) weight.value().requireSameShape("setInferenceFold(" + weight.name() + ")", foldedWeight);
        Tensor[] old = fold;
        Tensor packed;
        try {
            packed = foldedWeight == null ? null : Conv2d.pack(Conv2dDesc.of(1, in, kernel, kernel, out, kernel, stride, pad, groups), foldedWeight);
        } catch (RuntimeException e) { // the layer owns the folded tensors from the call on: none may leak
            foldedWeight.close();
            if (foldedBias != null) foldedBias.close();
            throw e;
        }
        fold = foldedWeight == null ? null : new Tensor[] {foldedWeight, foldedBias, packed};
        if (old != null) for (Tensor t : old) if (t != null) t.close();
    }

    /**
     * Inference (not training) applies this activation to the output (null: none), in the convolution's
     * epilogue where the dense kernel runs (else right after it): the activation that follows this conv
     * is fused into it ({@link Graph#fuseActivations()}), which then passes its input through.
     */
    public void setInferenceActivation(org.jprune.engine.ops.Activation act, float alpha) {
        if (act == org.jprune.engine.ops.Activation.LEAKY_RELU && !Float.isFinite(alpha))
            throw new IllegalArgumentException("conv " + weight.name() + ": leaky ReLU slope is " + alpha);
        inferenceAlpha = alpha;
        inferenceAct = act == org.jprune.engine.ops.Activation.IDENTITY ? null : act;
    }

    /** The activation inference applies after this conv (fused), or null. */
    public org.jprune.engine.ops.Activation inferenceActivation() { return inferenceAct; }

    /** As {@link #setInferenceCsr(org.jprune.engine.ops.CsrMatrix)}, for inference batches of at most {@code maxBatch} images only. */
    public void setInferenceCsr(org.jprune.engine.ops.CsrMatrix m, int maxBatch) {
        if (m != null && fold != null) throw new IllegalStateException("conv " + weight.name() + ": batch norm folded for inference; unfold before CSR");
        if (maxBatch < 1) throw new IllegalArgumentException("conv " + weight.name() + ": CSR max batch must be >= 1, got " + maxBatch);
        csrMaxBatch = maxBatch;
        if (m != null && (m.rows() != out || m.cols() != in / groups * kernel * kernel))
            throw new IllegalArgumentException("conv " + weight.name() + ": CSR weights " + m.rows() + "x" + m.cols() + " do not fit " + out + "x" + (in / groups * kernel * kernel));
        org.jprune.engine.ops.CsrMatrix old = csr;
        csr = m;
        if (old != null) old.close();
    }

    public org.jprune.engine.ops.CsrMatrix inferenceCsr() { return csr; }

    /** The active {input, output} channels when the layer runs channel-sparse; null when dense. */
    public int[][] activeChannels() { return activeIn == null ? null : new int[][] {activeIn.indices(), activeOut.indices()}; }

    @Override public String type() { return "conv"; }
    @Override public ChannelMap channelMap() { return ChannelMap.MIXING; }

    @Override
    public int[] outputShape(List<int[]> inputs) {
        int[] x = inputs.get(0);
        if (x.length != 4 || x[1] != in)
            throw new IllegalArgumentException("conv " + weight.name() + ": expects [n][" + in + "][h][w], got " + Arrays.toString(x));
        Conv2dDesc d = Conv2dDesc.of(x[0], in, x[2], x[3], out, kernel, stride, pad, groups);
        return new int[] {x[0], out, d.outH(), d.outW()};
    }

    @Override
    public Tensor forward(List<Tensor> inputs, Ctx ctx) {
        Tensor x = inputs.get(0);
        Conv2dDesc d = Conv2d.desc(x, weight.value(), stride, pad, 1, groups);
        Tensor y = Tensor.empty(x.device(), d.n(), d.k(), d.outH(), d.outW());
        Tensor b = bias == null ? null : bias.value(), w = weight.value();
        Tensor[] f = ctx.training() ? null : fold;
        Tensor packed = null;
        if (f != null) {
            w = f[0];
            b = f[1];
            packed = f[2];
        }
        org.jprune.engine.ops.CsrMatrix m = csr;
        org.jprune.engine.ops.Activation act = ctx.training() ? null : inferenceAct;
        float alpha = inferenceAlpha;
        if (!ctx.training() && m != null && d.n() <= csrMaxBatch) Conv2d.forwardCsr(d, y, x, m, b);
        else if (activeIn != null) Conv2d.forwardChannelSparse(d, y, x, w, b, activeIn, activeOut);
        else if (packed != null) {
            Conv2d.forward(d, y, x, w, packed, b, act == null ? org.jprune.engine.ops.Activation.IDENTITY : act, alpha);
            act = null; // applied in the epilogue
        } else if (act != null) {
            Conv2d.forward(d, y, x, w, b, act, alpha);
            act = null; // applied in the epilogue
        } else Conv2d.forward(d, y, x, w, b);
        if (act != null) act.forward(alpha, y, y); // the sparse kernels have no epilogue
        if (ctx.training()) ctx.save(new Object[] {d, x});
        return y;
    }

    @Override
    public List<Tensor> backward(Tensor dy, Ctx ctx) {
        Object[] s = ctx.saved();
        Conv2dDesc d = (Conv2dDesc) s[0];
        Tensor x = (Tensor) s[1];
        try (Tensor dw = Tensor.empty(x.device(), weight.value().shape());
             Tensor db = bias == null ? null : Tensor.empty(x.device(), out)) {
            if (activeIn != null) Conv2d.backwardFilterChannelSparse(d, dw, db, dy, x, activeIn, activeOut);
            else Conv2d.backwardFilter(d, dw, db, dy, x);
            weight.grad().addInPlace(dw);
            if (bias != null) bias.grad().addInPlace(db);
        }
        List<Tensor> grads = new ArrayList<>(1);
        if (ctx.needInputGrad(0)) {
            Tensor dx = Tensor.empty(x.device(), x.shape());
            if (activeIn != null) Conv2d.backwardDataChannelSparse(d, dx, dy, weight.value(), activeIn, activeOut);
            else Conv2d.backwardData(d, dx, dy, weight.value());
            grads.add(dx);
        } else {
            grads.add(null);
        }
        return grads;
    }

    @Override
    public List<Parameter> parameters() { return bias == null ? List.of(weight) : List.of(weight, bias); }

    @Override
    public Map<String, Object> args() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("in", in); m.put("out", out); m.put("kernel", kernel); m.put("stride", stride); m.put("pad", pad);
        m.put("groups", groups); m.put("bias", bias != null);
        return m;
    }

    @Override
    public void close() {
        Layer.super.close();
        setActiveChannels(null, null);
        setInferenceFold(null, null);
        setInferenceCsr(null);
    }
}
