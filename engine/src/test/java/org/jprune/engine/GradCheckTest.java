package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import static org.jprune.engine.TestSupport.random;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.jprune.engine.nn.BatchNorm2dLayer;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.Parameter;
import org.jprune.engine.nn.SimpleLayers;
import org.jprune.engine.ops.Activation;
import org.jprune.engine.ops.BatchNorm;
import org.jprune.engine.ops.BnDesc;
import org.jprune.engine.ops.ChannelIndex;
import org.jprune.engine.ops.Channels;
import org.jprune.engine.ops.Conv2d;
import org.jprune.engine.ops.Conv2dDesc;
import org.jprune.engine.ops.MaxPool2d;
import org.jprune.engine.ops.PoolDesc;
import org.jprune.engine.ops.Upsample;
import org.junit.jupiter.api.Test;

/**
 * Every backward against central finite differences of its forward, on the reference backend
 * (double precision, so the check is tight: h = 1e-5, tolerance 1e-6 + 1e-5 relative). The loss is
 * L = sum(y * r) for a fixed random r, so dL/dy = r is the upstream gradient.
 */
class GradCheckTest {
    static final Device REF = Device.reference();
    static final double H = 1e-5;

    interface Fwd { Tensor run(); }
    interface Bwd { Tensor[] run(Tensor dy); }

    static Tensor t(long seed, int... shape) { return Tensor.of(REF, random(seed, (int) Tensor.numel(shape), -1f, 1f), shape); }

    static double loss(Fwd f, double[] r) {
        try (Tensor y = f.run()) {
            double[] yd = y.buf().data;
            double s = 0;
            for (int i = 0; i < r.length; i++) s += yd[i] * r[i];
            return s;
        }
    }

    /** Checks the analytic gradient of each input (null = not differentiated) at up to `samples` entries. */
    static void check(String what, Tensor[] inputs, Fwd f, Bwd bwd, int samples) {
        double[] r;
        int[] yShape;
        try (Tensor y = f.run()) {
            yShape = y.shape();
            r = new double[(int) y.numel()];
        }
        SplittableRandom rnd = new SplittableRandom(what.hashCode());
        for (int i = 0; i < r.length; i++) r[i] = rnd.nextDouble() * 2 - 1;
        Tensor dy = Tensor.zeros(REF, yShape);
        System.arraycopy(r, 0, dy.buf().data, 0, r.length);
        Tensor[] grads = bwd.run(dy);
        int checked = 0;
        try {
            for (int k = 0; k < inputs.length; k++) {
                if (grads[k] == null) continue;
                double[] x = inputs[k].buf().data, g = grads[k].buf().data;
                int n = (int) inputs[k].numel(), step = Math.max(1, n / samples);
                for (int j = rnd.nextInt(step); j < n; j += step) {
                    double old = x[j];
                    x[j] = old + H;
                    double lp = loss(f, r);
                    x[j] = old - H;
                    double lm = loss(f, r);
                    x[j] = old;
                    double num = (lp - lm) / (2 * H), ana = g[j];
                    if (Math.abs(num - ana) > 1e-6 + 1e-5 * Math.abs(num))
                        fail(String.format("%s: d/d(input %d)[%d]: analytic %.9g, numeric %.9g", what, k, j, ana, num));
                    checked++;
                }
            }
        } finally {
            dy.close();
            for (Tensor gt : grads) if (gt != null) gt.close();
        }
        assertTrue(checked > 0, what + ": nothing checked");
    }

    @Test
    void conv2d() {
        int[][] geoms = {{2, 3, 6, 7, 4, 3, 1, 1, 1, 1}, {1, 4, 9, 9, 6, 6, 2, 2, 1, 1}, {1, 4, 7, 7, 4, 3, 2, 1, 2, 2}, {2, 5, 4, 5, 3, 1, 1, 0, 1, 1}};
        for (int[] g : geoms) {
            Conv2dDesc d = new Conv2dDesc(g[0], g[1], g[2], g[3], g[4], g[5], g[5], g[6], g[6], g[7], g[7], g[8], g[8], g[9]);
            try (Tensor x = t(1, d.n(), d.c(), d.h(), d.w()); Tensor w = t(2, d.k(), d.c() / d.groups(), d.r(), d.s()); Tensor b = t(3, d.k())) {
                check("conv2d " + d, new Tensor[] {x, w, b}, () -> {
                    Tensor y = Tensor.empty(REF, d.n(), d.k(), d.outH(), d.outW());
                    Conv2d.forward(d, y, x, w, b);
                    return y;
                }, dy -> {
                    Tensor dx = Tensor.empty(REF, x.shape()), dw = Tensor.empty(REF, w.shape()), db = Tensor.empty(REF, d.k());
                    Conv2d.backwardData(d, dx, dy, w);
                    Conv2d.backwardFilter(d, dw, db, dy, x);
                    return new Tensor[] {dx, dw, db};
                }, 40);
            }
        }
    }

    @Test
    void conv2dChannelSparse() {
        Conv2dDesc d = Conv2dDesc.of(2, 6, 6, 5, 5, 3, 1, 1, 1);
        try (Tensor x = t(4, 2, 6, 6, 5); Tensor w = t(5, 5, 6, 3, 3); Tensor b = t(6, 5);
             ChannelIndex in = new ChannelIndex(REF, new int[] {0, 2, 5}, 6); ChannelIndex out = new ChannelIndex(REF, new int[] {1, 4}, 5)) {
            check("conv2d_cs", new Tensor[] {x, w, b}, () -> {
                Tensor y = Tensor.empty(REF, 2, 5, 6, 5);
                Conv2d.forwardChannelSparse(d, y, x, w, b, in, out);
                return y;
            }, dy -> {
                Tensor dx = Tensor.empty(REF, x.shape()), dw = Tensor.empty(REF, w.shape()), db = Tensor.empty(REF, 5);
                Conv2d.backwardDataChannelSparse(d, dx, dy, w, in, out);
                Conv2d.backwardFilterChannelSparse(d, dw, db, dy, x, in, out);
                return new Tensor[] {dx, dw, db};
            }, 60);
        }
    }

    @Test
    void batchNorm() {
        try (Tensor x = t(7, 3, 4, 3, 5); Tensor gamma = t(8, 4); Tensor beta = t(9, 4); Tensor rm = Tensor.zeros(REF, 4);
             Tensor rv = Tensor.full(REF, 1f, 4); Tensor mean = Tensor.empty(REF, 4); Tensor inv = Tensor.empty(REF, 4)) {
            BnDesc d = BatchNorm.desc(x, 1e-3f, 0.1f);
            check("batchnorm", new Tensor[] {x, gamma, beta}, () -> {
                Tensor y = Tensor.empty(REF, x.shape());
                BatchNorm.forwardTrain(d, y, mean, inv, rm, rv, x, gamma, beta);
                return y;
            }, dy -> {
                Tensor dx = Tensor.empty(REF, x.shape()), dg = Tensor.empty(REF, 4), db = Tensor.empty(REF, 4);
                try (Tensor y = Tensor.empty(REF, x.shape())) {
                    BatchNorm.forwardTrain(d, y, mean, inv, rm, rv, x, gamma, beta);
                }
                BatchNorm.backward(d, dx, dg, db, dy, x, gamma, mean, inv);
                return new Tensor[] {dx, dg, db};
            }, 60);
        }
    }

    @Test
    void activations() {
        for (Activation a : Activation.values()) {
            float[] v = random(10, 200, -3f, 3f);
            for (int i = 0; i < v.length; i++) if (Math.abs(v[i]) < 1e-3f) v[i] = 0.5f; // stay off the kink
            try (Tensor x = Tensor.of(REF, v, 200)) {
                check("act " + a, new Tensor[] {x}, () -> a.forward(0.1f, x), dy -> {
                    Tensor dx = Tensor.empty(REF, 200);
                    a.backward(0.1f, dx, dy, x);
                    return new Tensor[] {dx};
                }, 200);
            }
        }
    }

    @Test
    void maxPoolAndUpsample() {
        for (int[] p : new int[][] {{2, 2, 0, 0}, {5, 1, 2, 2}, {3, 2, 1, 1}, {2, 1, 0, 1}, {2, 2, 0, 1}}) {
            try (Tensor x = t(11, 2, 3, 7, 6)) {
                PoolDesc d = MaxPool2d.desc(x, p[0], p[1], p[2], p[3]);
                check("maxpool " + d, new Tensor[] {x}, () -> {
                    Tensor y = Tensor.empty(REF, 2, 3, d.outH(), d.outW());
                    MaxPool2d.forward(d, y, x).close();
                    return y;
                }, dy -> {
                    Tensor dx = Tensor.empty(REF, x.shape());
                    try (Tensor y = Tensor.empty(REF, 2, 3, d.outH(), d.outW()); MaxPool2d rec = MaxPool2d.forward(d, y, x)) {
                        rec.backward(dx, dy);
                    }
                    return new Tensor[] {dx};
                }, 100);
            }
        }
        try (Tensor x = t(12, 2, 2, 3, 4)) {
            check("upsample", new Tensor[] {x}, () -> {
                Tensor y = Tensor.empty(REF, 2, 2, 6, 8);
                Upsample.forward(2, y, x);
                return y;
            }, dy -> {
                Tensor dx = Tensor.empty(REF, x.shape());
                Upsample.backward(2, dx, dy);
                return new Tensor[] {dx};
            }, 48);
        }
    }

    @Test
    void concatSplitAndMask() {
        try (Tensor a = t(13, 2, 3, 4, 4); Tensor b = t(14, 2, 2, 4, 4); Tensor m = Tensor.of(REF, new float[] {1, 0, 0.5f}, 3)) {
            check("concat", new Tensor[] {a, b}, () -> {
                Tensor y = Tensor.empty(REF, 2, 5, 4, 4);
                Channels.concat(y, List.of(a, b));
                return y;
            }, dy -> {
                Tensor da = Tensor.empty(REF, a.shape()), db = Tensor.empty(REF, b.shape());
                Channels.split(dy, List.of(da, db));
                return new Tensor[] {da, db};
            }, 100);
            // masking is linear: its gradient is the same mask applied to dy
            check("mask_channels", new Tensor[] {a}, () -> {
                Tensor y = a.copy();
                Channels.mask(y, 1, m);
                return y;
            }, dy -> {
                Tensor da = dy.copy();
                Channels.mask(da, 1, m);
                return new Tensor[] {da};
            }, 96);
        }
    }

    /** A whole graph (conv-bn-silu, pool, upsample, concat, residual add): gradients of every parameter. */
    @Test
    void graphEndToEnd() {
        try (Graph g = TinyNet.build(REF, 3, 7)) {
            try (Tensor x = t(15, 2, 3, 8, 8)) {
                checkGraph("graph", g, x);
            }
        }
    }

    /** Every parameter gradient of a graph (output 0 against a random dy) by finite differences. */
    static void checkGraph(String what, Graph g, Tensor x) {
        List<Parameter> ps = g.parameters();
        Tensor[] inputs = ps.stream().map(Parameter::value).toArray(Tensor[]::new);
        check(what, inputs, () -> {
            try (Graph.Execution ex = g.forward(x, true)) {
                return ex.output(0).copy();
            }
        }, dy -> {
            g.zeroGrad();
            try (Graph.Execution ex = g.forward(x, true)) {
                ex.backward(List.of(dy));
            }
            List<Tensor> out = new ArrayList<>();
            for (Parameter p : ps) out.add(p.grad().copy());
            return out.toArray(Tensor[]::new);
        }, 12);
    }

    /** darknet's layers: a route with groups (channel slice), the 2x2 stride-1 maxpool padded after, concat of the halves. */
    @Test
    void sliceAndDarknetPoolGraph() {
        try (Graph g = new Graph(REF)) {
            int c1 = g.add("c1", new Conv2dLayer(REF, "c1", 3, 8, 3, 1, 1, 1, true, 31), Graph.INPUT);
            int half = g.add("half", new SimpleLayers.SliceLayer(4, 4), c1);
            int c2 = g.add("c2", new Conv2dLayer(REF, "c2", 4, 4, 3, 1, 1, 1, true, 32), half);
            int mp = g.add("mp", new SimpleLayers.MaxPoolLayer(2, 1, 0, 1), c2);
            int cat = g.add("cat", new SimpleLayers.ConcatLayer(), mp, c1);
            g.add("head", new Conv2dLayer(REF, "head", 12, 2, 1, 1, 0, 1, true, 33), cat);
            assertArrayEquals(new int[] {2, 2, 7, 7}, g.shapes(2, 3, 7, 7)[5]);
            try (Tensor x = t(16, 2, 3, 7, 7)) {
                checkGraph("darknet graph", g, x);
            }
        }
    }

    /** Small network used by several tests: every layer type, a branch, a concat and a residual add. */
    static final class TinyNet {
        static Graph build(Device d, int in, long seed) {
            Graph g = new Graph(d);
            int c1 = g.add("c1", new Conv2dLayer(d, "c1", in, 6, 3, 1, 1, 1, false, seed), Graph.INPUT);
            int b1 = g.add("b1", new BatchNorm2dLayer(d, "b1", 6, 1e-3f, 0.03f), c1);
            int a1 = g.add("a1", new SimpleLayers.ActLayer(Activation.SILU, 0f), b1);
            int p1 = g.add("p1", new SimpleLayers.MaxPoolLayer(2, 2, 0), a1);
            int c2 = g.add("c2", new Conv2dLayer(d, "c2", 6, 4, 3, 1, 1, 1, true, seed + 1), p1);
            int a2 = g.add("a2", new SimpleLayers.ActLayer(Activation.LEAKY_RELU, 0.1f), c2);
            int u = g.add("u", new SimpleLayers.UpsampleLayer(2), a2);
            int cat = g.add("cat", new SimpleLayers.ConcatLayer(), u, a1);
            int c3 = g.add("c3", new Conv2dLayer(d, "c3", 10, 6, 1, 1, 0, 1, true, seed + 2), cat);
            int add = g.add("add", new SimpleLayers.AddLayer(), c3, a1);
            g.add("head", new Conv2dLayer(d, "head", 6, 3, 3, 2, 1, 1, true, seed + 3), add);
            return g;
        }
    }
}
