package org.jprune.engine.nn;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.ops.BatchNorm;
import org.jprune.engine.ops.BnDesc;

/** Batch norm with gamma (weight), beta (bias) and running statistics; YOLOv5 uses eps 1e-3, momentum 0.03. */
public final class BatchNorm2dLayer implements Layer {
    private final int channels;
    private final float eps, momentum;
    private final Parameter gamma, beta;
    private final Tensor runMean, runVar;

    public BatchNorm2dLayer(Device device, String name, int channels, float eps, float momentum) {
        if (channels <= 0) throw new IllegalArgumentException("bn " + name + ": channels must be > 0, got " + channels);
        this.channels = channels;
        this.eps = eps;
        this.momentum = momentum;
        this.gamma = new Parameter(name + ".weight", Tensor.full(device, 1f, channels), false);
        this.beta = new Parameter(name + ".bias", Tensor.zeros(device, channels), false);
        this.runMean = Tensor.zeros(device, channels);
        this.runVar = Tensor.full(device, 1f, channels);
        this.names = Map.of(name + ".running_mean", runMean, name + ".running_var", runVar);
    }

    private final Map<String, Tensor> names;

    private volatile boolean folded;

    /** Whether inference passes the input through unchanged (this batch norm is folded into its conv). */
    public boolean folded() { return folded; }
    void setFolded(boolean f) { folded = f; }

    /**
     * conv's weight and bias with this batch norm folded in, on the host: W * s and beta + (b - mean) * s
     * per output channel, s = gamma / sqrt(var + eps) (b = 0 without a conv bias). For inference
     * ({@link Graph#foldBatchNorms()}) and exporters.
     */
    public float[][] foldInto(Conv2dLayer conv) {
        if (conv.outChannels() != channels)
            throw new IllegalArgumentException("bn " + gamma.name() + ": " + channels + " channels cannot fold into a conv of " + conv.outChannels());
        float[] w = conv.weight().value().toArray(), b = conv.bias() == null ? null : conv.bias().value().toArray();
        float[] g = gamma.value().toArray(), be = beta.value().toArray(), mean = runMean.toArray(), var = runVar.toArray();
        float[] nb = new float[channels];
        int per = w.length / channels;
        for (int c = 0; c < channels; c++) {
            double s = g[c] / Math.sqrt(var[c] + eps);
            for (int k = 0; k < per; k++) w[c * per + k] = (float) (w[c * per + k] * s);
            nb[c] = (float) (be[c] + ((b == null ? 0 : b[c]) - mean[c]) * s);
        }
        return new float[][] {w, nb};
    }

    public Parameter gamma() { return gamma; }
    public Parameter beta() { return beta; }
    public Tensor runningMean() { return runMean; }
    public Tensor runningVar() { return runVar; }
    public int channels() { return channels; }
    public float eps() { return eps; }

    @Override public String type() { return "bn"; }
    @Override public ChannelMap channelMap() { return ChannelMap.SAME; }

    @Override
    public int[] outputShape(List<int[]> inputs) {
        int[] x = inputs.get(0);
        if (x.length < 2 || x[1] != channels)
            throw new IllegalArgumentException("bn " + gamma.name() + ": expects " + channels + " channels, got " + java.util.Arrays.toString(x));
        return x.clone();
    }

    @Override
    public Tensor forward(List<Tensor> inputs, Ctx ctx) {
        Tensor x = inputs.get(0);
        if (folded) {
            if (ctx.training()) throw new IllegalStateException("bn " + gamma.name() + ": folded into its conv for inference; Graph.unfoldBatchNorms() before training");
            return x.copy(); // the graph hands the conv's output through without this copy (Graph.Execution)
        }
        BnDesc d = BatchNorm.desc(x, eps, momentum);
        Tensor y = Tensor.empty(x.device(), x.shape());
        if (ctx.training()) {
            Tensor mean = ctx.own(Tensor.empty(x.device(), channels)), invstd = ctx.own(Tensor.empty(x.device(), channels));
            BatchNorm.forwardTrain(d, y, mean, invstd, runMean, runVar, x, gamma.value(), beta.value());
            ctx.save(new Object[] {d, x, mean, invstd});
        } else {
            BatchNorm.forwardInfer(d, y, x, gamma.value(), beta.value(), runMean, runVar);
        }
        return y;
    }

    @Override
    public List<Tensor> backward(Tensor dy, Ctx ctx) {
        Object[] s = ctx.saved();
        BnDesc d = (BnDesc) s[0];
        Tensor x = (Tensor) s[1];
        Tensor dx = Tensor.empty(x.device(), x.shape());
        try (Tensor dg = Tensor.empty(x.device(), channels); Tensor dbeta = Tensor.empty(x.device(), channels)) {
            BatchNorm.backward(d, dx, dg, dbeta, dy, x, gamma.value(), (Tensor) s[2], (Tensor) s[3]);
            gamma.grad().addInPlace(dg);
            beta.grad().addInPlace(dbeta);
        }
        return java.util.Collections.singletonList(dx);
    }

    @Override public List<Parameter> parameters() { return List.of(gamma, beta); }
    @Override public Map<String, Tensor> buffers() { return names; }

    @Override
    public Map<String, Object> args() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("channels", channels); m.put("eps", eps); m.put("momentum", momentum);
        return m;
    }
}
