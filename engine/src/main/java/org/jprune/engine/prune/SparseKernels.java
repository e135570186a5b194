package org.jprune.engine.prune;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.ops.Conv2d;
import org.jprune.engine.ops.Conv2dDesc;
import org.jprune.engine.ops.CsrMatrix;

/**
 * Chooses, for every convolution of a weight-sparse (unstructured-pruned) graph, dense or CSR inference,
 * whichever a short measurement finds faster at the layer's input shape, at batch 1 and at batch 16:
 * a few forward passes of each on random data, the medians compared. A layer runs CSR for the batch
 * sizes where it won (batches up to 16 if it won at 16, else batches up to 4 if it won at 1). Decisions
 * are cached per (device, geometry, density in steps of 2%), so loading the same model again, or
 * another with the same layers, measures nothing. Layers denser than {@code maxDensity} stay dense
 * without a measurement.
 */
public final class SparseKernels {
    private SparseKernels() {}

    /**
     * One layer's decision: its weight density, the median times (ms; NaN where not measured) at batch
     * 1 and 16, and the largest batch that runs CSR (0: dense always).
     */
    public record Choice(String layer, double density, double denseMs, double csrMs, double denseMs16, double csrMs16, int csrMaxBatch) {
        public boolean csr() { return csrMaxBatch > 0; }
    }

    /** The batch sizes measured: latency (1) and throughput (16). */
    public static final int SMALL = 1, LARGE = 16;

    private static final Map<String, double[]> CACHE = new ConcurrentHashMap<>();

    public static List<Choice> select(Graph g, int[] inputShape, double maxDensity) {
        int[][] shapes = g.shapes(inputShape);
        List<Choice> out = new ArrayList<>();
        for (Graph.Node n : g.nodes()) {
            if (!(n.layer() instanceof Conv2dLayer c)) continue;
            c.setInferenceCsr(null);
            int in = n.inputs()[0];
            int[] xs = in == Graph.INPUT ? inputShape : shapes[in];
            Tensor w = c.weight().value();
            CsrMatrix m = CsrMatrix.fromDense(w, c.outChannels(), 0f);
            double density = m.density();
            if (density > maxDensity) {
                m.close();
                out.add(new Choice(n.name(), density, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0));
                continue;
            }
            double[] t = new double[4];
            for (int b : new int[] {SMALL, LARGE}) {
                Conv2dDesc d = Conv2dDesc.of(b, xs[1], xs[2], xs[3], c.outChannels(), c.kernel(), c.stride(), c.pad(), c.groups());
                String key = w.device() + " " + d + " " + Math.round(density * 50);
                double[] tb = CACHE.computeIfAbsent(key, k -> measure(w.device(), d, w, m, c.bias() == null ? null : c.bias().value()));
                System.arraycopy(tb, 0, t, b == SMALL ? 0 : 2, 2);
            }
            int maxBatch = t[3] < t[2] ? LARGE : t[1] < t[0] ? 4 : 0;
            if (maxBatch > 0) c.setInferenceCsr(m, maxBatch == LARGE ? Integer.MAX_VALUE : maxBatch);
            else m.close();
            out.add(new Choice(n.name(), density, t[0], t[1], t[2], t[3], maxBatch == LARGE ? Integer.MAX_VALUE : maxBatch));
        }
        return out;
    }

    private static double[] measure(Device dev, Conv2dDesc d, Tensor w, CsrMatrix m, Tensor bias) {
        try (Tensor x = Tensor.randn(dev, 17, 1f, d.n(), d.c(), d.h(), d.w()); Tensor y = Tensor.empty(dev, d.n(), d.k(), d.outH(), d.outW())) {
            Runnable dense = () -> Conv2d.forward(d, y, x, w, bias), sparse = () -> Conv2d.forwardCsr(d, y, x, m, bias);
            dense.run();
            sparse.run();
            double[] td = new double[5], ts = new double[5];
            for (int i = 0; i < td.length; i++) { td[i] = time(dense, dev); ts[i] = time(sparse, dev); }
            Arrays.sort(td);
            Arrays.sort(ts);
            return new double[] {td[2], ts[2]};
        }
    }

    private static double time(Runnable r, Device dev) {
        long a = System.nanoTime();
        r.run();
        dev.sync();
        return (System.nanoTime() - a) / 1e6;
    }
}
