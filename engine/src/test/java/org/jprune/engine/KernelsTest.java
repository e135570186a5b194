package org.jprune.engine;

import static org.jprune.engine.TestSupport.assertClose;
import static org.jprune.engine.TestSupport.random;

import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.jprune.engine.TestSupport.Backend;
import org.jprune.engine.ops.Activation;
import org.jprune.engine.ops.BatchNorm;
import org.jprune.engine.ops.BnDesc;
import org.jprune.engine.ops.ChannelIndex;
import org.jprune.engine.ops.Channels;
import org.jprune.engine.ops.Conv2d;
import org.jprune.engine.ops.Conv2dDesc;
import org.jprune.engine.ops.CsrMatrix;
import org.jprune.engine.ops.DetectionLoss;
import org.jprune.engine.ops.Eltwise;
import org.jprune.engine.ops.MaxPool2d;
import org.jprune.engine.ops.PoolDesc;
import org.jprune.engine.ops.Upsample;
import org.jprune.engine.optim.AdamW;
import org.jprune.engine.optim.Sgd;
import org.jprune.engine.nn.Parameter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every kernel of every native backend against the reference backend (plain loops in double) on
 * seeded random inputs, with awkward shapes: sizes that are no tile multiple, stride 2, padding,
 * dilation, groups, 1x1, 3x3 and 6x6 kernels, empty and full channel lists, 0% and 100% sparsity.
 */
class KernelsTest {
    static final double ABS = 2e-4, REL = 2e-4;

    interface Case { float[][] run(Device d); }

    static Stream<Backend> backends() { return TestSupport.nativeBackends(); }
    static Stream<Backend> convBackends() { return TestSupport.convBackends(); }

    static void compare(Backend b, String what, Case c) { compare(b, what, c, ABS, REL); }

    /** A backend's outputs against the reference's (in its tf32 mode for a TF32 backend). */
    static void compare(Backend b, String what, Case c, double abs, double rel) {
        float[][] ref;
        Backend reference = new Backend("reference", Device.reference(), -1, b.tf32() ? b.option() : null);
        reference.activate();
        try (reference) {
            ref = c.run(reference.device());
        }
        b.activate();
        try (b) {
            float[][] got = c.run(b.device());
            for (int i = 0; i < ref.length; i++) assertClose(b + " " + what + " output " + i, ref[i], got[i], abs, rel);
        }
    }

    static Tensor t(Device d, long seed, int... shape) {
        return Tensor.of(d, random(seed, (int) Tensor.numel(shape), -1f, 1f), shape);
    }

    // n c h w k kernel stride pad dilation groups
    static final int[][] CONVS = {
        {2, 3, 7, 9, 5, 3, 1, 1, 1, 1}, {1, 8, 13, 11, 6, 1, 1, 0, 1, 1}, {2, 4, 12, 12, 8, 6, 2, 2, 1, 1},
        {1, 5, 9, 10, 7, 3, 2, 1, 1, 1}, {1, 6, 8, 8, 4, 3, 1, 2, 2, 2}, {3, 16, 5, 5, 33, 3, 1, 1, 1, 1},
        {1, 2, 4, 4, 3, 5, 1, 1, 1, 1}, {2, 40, 17, 17, 36, 1, 2, 0, 1, 1}, {1, 4, 6, 6, 4, 3, 1, 1, 1, 4}, {1, 3, 9, 9, 4, 3, 1, 0, 2, 1},
        {2, 5, 8, 6, 3, 3, 1, 0, 1, 1}, {1, 200, 5, 5, 196, 1, 1, 0, 1, 1}, {1, 7, 11, 5, 13, 5, 1, 2, 1, 1},
        {1, 3, 11, 9, 5, 3, 2, 2, 2, 1}, {2, 6, 13, 7, 9, 5, 2, 1, 1, 1}, {1, 4, 10, 10, 6, 3, 2, 0, 1, 1},
        {2, 6, 9, 8, 4, 3, 2, 1, 1, 2}, {1, 3, 10, 11, 4, 2, 3, 1, 1, 1}, {1, 2, 7, 7, 3, 1, 3, 2, 1, 1},
    };

    static Conv2dDesc desc(int[] g) {
        return new Conv2dDesc(g[0], g[1], g[2], g[3], g[4], g[5], g[5], g[6], g[6], g[7], g[7], g[8], g[8], g[9]);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("convBackends")
    void sgemm(Backend b) {
        int[][] sizes = {{1, 1, 1}, {37, 53, 71}, {100, 33, 257}, {13, 300, 5}, {64, 64, 64}, {7, 1, 300}, {5, 9, 0}};
        for (int[] s : sizes)
            for (int tr = 0; tr < 4; tr++) {
                boolean ta = (tr & 1) != 0, tb = (tr & 2) != 0;
                int m = s[0], n = s[1], k = s[2];
                compare(b, "sgemm " + m + "x" + n + "x" + k + " ta=" + ta + " tb=" + tb, d -> {
                    try (Tensor a = t(d, 1, ta ? Math.max(k, 1) : m, ta ? m : Math.max(k, 1));
                         Tensor bb = t(d, 2, tb ? n : Math.max(k, 1), tb ? Math.max(k, 1) : n);
                         Tensor c = t(d, 3, m, n)) {
                        if (k == 0) { // only beta scaling happens
                            var gd = new org.jprune.engine.ops.GemmDesc(m, n, 0, ta, tb, ta ? m : 1, tb ? 1 : n, n, 0.5f, 0.25f);
                            d.kernels().sgemm(gd, c.buf(), a.buf(), bb.buf());
                        } else {
                            Eltwise.matmul(c, a, bb, ta, tb, 0.5f, 0.25f);
                        }
                        return new float[][] {c.toArray()};
                    }
                });
            }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("convBackends")
    void conv2dDense(Backend b) {
        for (int[] g : CONVS) {
            Conv2dDesc d = desc(g);
            compare(b, "conv2d " + d, dev -> {
                try (Tensor x = t(dev, 11, d.n(), d.c(), d.h(), d.w()); Tensor w = t(dev, 12, d.k(), d.c() / d.groups(), d.r(), d.s());
                     Tensor bias = t(dev, 13, d.k()); Tensor y = Tensor.empty(dev, d.n(), d.k(), d.outH(), d.outW());
                     Tensor dy = t(dev, 14, d.n(), d.k(), d.outH(), d.outW()); Tensor dx = Tensor.empty(dev, x.shape());
                     Tensor dw = Tensor.empty(dev, w.shape()); Tensor db = Tensor.empty(dev, d.k())) {
                    Conv2d.forward(d, y, x, w, bias);
                    Conv2d.backwardData(d, dx, dy, w);
                    Conv2d.backwardFilter(d, dw, db, dy, x);
                    return new float[][] {y.toArray(), dx.toArray(), dw.toArray(), db.toArray()};
                }
            });
        }
    }

    /**
     * conv + activation in one op (the epilogue: jp_conv2d_fwd_act) equals the reference's conv then
     * activation, for every activation and every path of the forward conv (indirect, im2col, grouped,
     * 1x1 images side by side, batches split over threads; with and without a bias).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("convBackends")
    void conv2dWithFusedActivation(Backend b) {
        int[][] all = java.util.stream.Stream.concat(java.util.Arrays.stream(CONVS), java.util.Arrays.stream(BATCH_CONVS)).toArray(int[][]::new);
        for (int i = 0; i < all.length; i++) {
            Conv2dDesc d = desc(all[i]);
            org.jprune.engine.ops.Activation act = org.jprune.engine.ops.Activation.values()[1 + i % 4];
            boolean withBias = i % 4 != 3;
            compare(b, "conv2d + " + act + (withBias ? "" : " (no bias)") + " " + d, dev -> {
                try (Tensor x = t(dev, 21, d.n(), d.c(), d.h(), d.w()); Tensor w = t(dev, 22, d.k(), d.c() / d.groups(), d.r(), d.s());
                     Tensor bias = withBias ? t(dev, 23, d.k()) : null; Tensor y = Tensor.empty(dev, d.n(), d.k(), d.outH(), d.outW())) {
                    Conv2d.forward(d, y, x, w, bias, act, 0.1f);
                    return new float[][] {y.toArray()};
                }
            });
        }
        // an unknown activation code is refused by the native op, naming it
        b.activate();
        try (b) {
            Conv2dDesc d = desc(CONVS[0]);
            try (Tensor x = t(b.device(), 21, d.n(), d.c(), d.h(), d.w()); Tensor w = t(b.device(), 22, d.k(), d.c(), d.r(), d.s());
                 Tensor y = Tensor.empty(b.device(), d.n(), d.k(), d.outH(), d.outW())) {
                var e = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class,
                        () -> b.device().kernels().conv2dFwdAct(d, y.buf(), x.buf(), w.buf(), null, 9, 0f));
                org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("9"), e.getMessage());
            }
        }
    }

    /**
     * Weights packed once (jp_conv2d_pack: the CPU's indirect-GEMM form; no packed form on the reference
     * and CUDA backends): the packed forward gives the reference result on every path and, where it takes
     * the unpacked forward's path, its bits; a packed form refuses another convolution's weights, naming the op.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("convBackends")
    void conv2dPackedWeights(Backend b) {
        int[][] all = java.util.stream.Stream.concat(java.util.Arrays.stream(CONVS), java.util.Arrays.stream(BATCH_CONVS)).toArray(int[][]::new);
        for (int i = 0; i < all.length; i++) {
            Conv2dDesc d = desc(all[i]);
            org.jprune.engine.ops.Activation act = org.jprune.engine.ops.Activation.values()[i % 5];
            boolean withBias = i % 3 != 2;
            compare(b, "conv2d packed + " + act + (withBias ? "" : " (no bias)") + " " + d, dev -> {
                try (Tensor x = t(dev, 31, d.n(), d.c(), d.h(), d.w()); Tensor w = t(dev, 32, d.k(), d.c() / d.groups(), d.r(), d.s());
                     Tensor bias = withBias ? t(dev, 33, d.k()) : null; Tensor y = Tensor.empty(dev, d.n(), d.k(), d.outH(), d.outW());
                     Tensor y2 = Tensor.empty(dev, d.n(), d.k(), d.outH(), d.outW());
                     Tensor packed = Conv2d.pack(d, w)) {
                    Conv2d.forward(d, y2, x, w, bias, act, 0.1f);
                    if (packed == null) return new float[][] {y2.toArray()};
                    Conv2d.forward(d, y, x, w, packed, bias, act, 0.1f);
                    // a 3x3 takes the same path packed or not: the same bits; a 1x1 packed may take the indirect GEMM
                    // where the unpacked one packs for the SGEMM (conv2d.c v13): the reference's tolerance only
                    if (d.r() > 1) org.junit.jupiter.api.Assertions.assertArrayEquals(y2.toArray(), y.toArray(), 0f, "packed == unpacked, bit for bit: " + d);
                    return new float[][] {y.toArray()};
                }
            });
        }
        b.activate();
        try (b) {
            Conv2dDesc d = desc(CONVS[0]), other = new Conv2dDesc(d.n(), d.c() + 1, d.h(), d.w(), d.k(), d.r(), d.s(), d.strideH(), d.strideW(), d.padH(),
                    d.padW(), d.dilH(), d.dilW(), 1);
            try (Tensor w = t(b.device(), 22, d.k(), d.c(), d.r(), d.s()); Tensor w2 = t(b.device(), 22, other.k(), other.c(), other.r(), other.s());
                 Tensor x = t(b.device(), 21, other.n(), other.c(), other.h(), other.w());
                 Tensor y = Tensor.empty(b.device(), other.n(), other.k(), other.outH(), other.outW()); Tensor packed = Conv2d.pack(d, w)) {
                if (packed != null) {
                    var e = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class,
                            () -> Conv2d.forward(other, y, x, w2, packed, null, org.jprune.engine.ops.Activation.IDENTITY, 0f));
                    org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("jp_conv2d_fwd_packed") && e.getMessage().contains("packed form"),
                            e.getMessage());
                }
            }
        }
    }

    // batches large enough that the CPU backend splits them over threads (images in parallel, conv2d.c v9):
    // 3x3 s1 (indirect), 3x3 s2 (phase planes fwd/bwd-filter, im2col bwd-data), 1x1 below and above the
    // packed-GEMM cut (k >= 192) on small planes (images side by side, v10) and on planes over 400 pixels,
    // grouped, 6x6 s2 stem-like
    static final int[][] BATCH_CONVS = {
        {8, 6, 10, 10, 12, 3, 1, 1, 1, 1}, {9, 5, 11, 9, 7, 3, 2, 1, 1, 1}, {6, 12, 5, 5, 10, 1, 1, 0, 1, 1},
        {4, 20, 4, 4, 200, 1, 1, 0, 1, 1}, {4, 6, 21, 21, 10, 1, 1, 0, 1, 1}, {2, 8, 21, 21, 200, 1, 1, 0, 1, 1},
        {6, 8, 6, 6, 8, 3, 1, 1, 1, 2}, {12, 3, 16, 16, 4, 6, 2, 2, 1, 1},
    };

    /** Every split of the batch over 1..4 threads (even, uneven, fewer images than threads) gives the reference result. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("convBackends")
    void conv2dBatchSplitOverThreads(Backend b) {
        for (int threads = 1; threads <= 4; threads++)
            for (int[] g : BATCH_CONVS) {
                Conv2dDesc d = desc(g);
                final int nt = threads;
                int[] in = subset(3, d.c(), 0.6), out = subset(4, d.k(), 0.6);
                compare(b, "conv2d threads=" + nt + " " + d, dev -> {
                    dev.setThreads(nt);
                    try (Tensor x = t(dev, 11, d.n(), d.c(), d.h(), d.w()); Tensor w = t(dev, 12, d.k(), d.c() / d.groups(), d.r(), d.s());
                         Tensor bias = t(dev, 13, d.k()); Tensor y = Tensor.empty(dev, d.n(), d.k(), d.outH(), d.outW());
                         Tensor dy = t(dev, 14, d.n(), d.k(), d.outH(), d.outW()); Tensor dx = Tensor.empty(dev, x.shape());
                         Tensor dw = Tensor.empty(dev, w.shape()); Tensor db = Tensor.empty(dev, d.k());
                         Tensor ys = t(dev, 99, y.shape()); Tensor dxs = t(dev, 98, x.shape()); Tensor dws = t(dev, 97, w.shape());
                         ChannelIndex ii = new ChannelIndex(dev, in, d.c()); ChannelIndex oi = new ChannelIndex(dev, out, d.k())) {
                        Conv2d.forward(d, y, x, w, bias);
                        Conv2d.backwardData(d, dx, dy, w);
                        Conv2d.backwardFilter(d, dw, db, dy, x);
                        if (d.groups() == 1) {
                            Conv2d.forwardChannelSparse(d, ys, x, w, bias, ii, oi);
                            Conv2d.backwardDataChannelSparse(d, dxs, dy, w, ii, oi);
                            Conv2d.backwardFilterChannelSparse(d, dws, null, dy, x, ii, oi);
                        }
                        return new float[][] {y.toArray(), dx.toArray(), dw.toArray(), db.toArray(), ys.toArray(), dxs.toArray(), dws.toArray()};
                    } finally {
                        dev.setThreads(0);
                    }
                });
            }
    }

    static int[] subset(long seed, int n, double keep) {
        SplittableRandom r = new SplittableRandom(seed);
        return IntStream.range(0, n).filter(i -> r.nextDouble() < keep).toArray();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("convBackends")
    void conv2dChannelSparse(Backend b) {
        double[] keeps = {0.0, 0.3, 0.5, 1.0};
        for (int[] g : CONVS) {
            if (g[9] != 1) continue;
            Conv2dDesc d = desc(g);
            for (double kin : keeps)
                for (double kout : keeps) {
                    int[] in = subset(31 + (long) (kin * 10), d.c(), kin), out = subset(47 + (long) (kout * 10), d.k(), kout);
                    compare(b, "conv2d_cs " + d + " in=" + in.length + " out=" + out.length, dev -> {
                        try (Tensor x = t(dev, 21, d.n(), d.c(), d.h(), d.w()); Tensor w = t(dev, 22, d.k(), d.c(), d.r(), d.s());
                             Tensor bias = t(dev, 23, d.k()); Tensor y = t(dev, 99, d.n(), d.k(), d.outH(), d.outW());
                             Tensor dy = t(dev, 24, d.n(), d.k(), d.outH(), d.outW()); Tensor dx = t(dev, 98, x.shape());
                             Tensor dw = t(dev, 97, w.shape()); Tensor db = t(dev, 96, d.k());
                             ChannelIndex ii = new ChannelIndex(dev, in, d.c()); ChannelIndex oi = new ChannelIndex(dev, out, d.k())) {
                            Conv2d.forwardChannelSparse(d, y, x, w, bias, ii, oi);
                            Conv2d.backwardDataChannelSparse(d, dx, dy, w, ii, oi);
                            Conv2d.backwardFilterChannelSparse(d, dw, db, dy, x, ii, oi);
                            return new float[][] {y.toArray(), dx.toArray(), dw.toArray(), db.toArray()};
                        }
                    });
                }
        }
    }

    /** The definition, checked on the native backend alone: channel-sparse conv == dense conv on masked weights. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("convBackends")
    void channelSparseEqualsDenseOnMaskedWeights(Backend b) {
        b.activate();
        try (b) {
            Device dev = b.device();
            Conv2dDesc d = desc(new int[] {2, 12, 10, 10, 10, 3, 1, 1, 1, 1});
            int[] in = subset(5, d.c(), 0.5), out = subset(6, d.k(), 0.5);
            float[] mi = new float[d.c()], mo = new float[d.k()];
            for (int i : in) mi[i] = 1;
            for (int o : out) mo[o] = 1;
            try (Tensor x = t(dev, 1, d.n(), d.c(), d.h(), d.w()); Tensor w = t(dev, 2, d.k(), d.c(), 3, 3); Tensor bias = t(dev, 3, d.k());
                 Tensor wm = w.copy(); Tensor bm = bias.copy(); Tensor mIn = Tensor.of(dev, mi, d.c()); Tensor mOut = Tensor.of(dev, mo, d.k());
                 Tensor y1 = Tensor.empty(dev, d.n(), d.k(), 10, 10); Tensor y2 = Tensor.empty(dev, d.n(), d.k(), 10, 10);
                 ChannelIndex ii = new ChannelIndex(dev, in, d.c()); ChannelIndex oi = new ChannelIndex(dev, out, d.k())) {
                Channels.mask(wm, 1, mIn);
                Channels.mask(wm, 0, mOut);
                Channels.mask(bm, 0, mOut);
                Conv2d.forward(d, y1, x, wm, bm);
                Conv2d.forwardChannelSparse(d, y2, x, w, bias, ii, oi);
                assertClose(b + " cs == dense(masked)", y1.toArray(), y2.toArray(), 1e-5, 1e-5);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void conv2dCsr(Backend b) {
        for (int[] g : CONVS) {
            Conv2dDesc d = desc(g);
            for (double sparsity : new double[] {0.0, 0.5, 0.9, 1.0}) {
                compare(b, "conv2d_csr " + d + " sparsity " + sparsity, dev -> {
                    float[] wv = random(41, (int) d.weightSize(), -1f, 1f);
                    SplittableRandom r = new SplittableRandom(43);
                    for (int i = 0; i < wv.length; i++) if (r.nextDouble() < sparsity) wv[i] = 0f;
                    try (Tensor x = t(dev, 42, d.n(), d.c(), d.h(), d.w()); Tensor w = Tensor.of(dev, wv, d.k(), d.c() / d.groups(), d.r(), d.s());
                         Tensor bias = t(dev, 44, d.k()); Tensor y = Tensor.empty(dev, d.n(), d.k(), d.outH(), d.outW());
                         Tensor yd = Tensor.empty(dev, y.shape()); CsrMatrix csr = CsrMatrix.fromDense(w, d.k(), 0f)) {
                        Conv2d.forwardCsr(d, y, x, csr, bias);
                        Conv2d.forward(d, yd, x, w, bias);
                        // CSR conv must equal dense conv on the same (pruned) weights, on this backend too
                        assertClose("csr == dense " + d, yd.toArray(), y.toArray(), ABS, REL);
                        return new float[][] {y.toArray(), {csr.nnz()}};
                    }
                });
            }
        }
    }

    /**
     * The detection loss ops against the reference: two levels' worth of shapes (one class, where
     * classes are skipped, and three), groups of one to three matches, each group at a distinct cell,
     * matches that overlap their box and ones that miss it, logits up to +-8.
     */
    /**
     * Detect's decode (jp_yolo_decode) of two levels into one output, every anchor: the reference on
     * every backend (blocks of 64 cells on the CPU: a level of 7 x 13 = 91 cells ends in a partial one),
     * and the rows of the output no call wrote keep their values.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void yoloDecode(Backend b) {
        int n = 2, na = 3, no = 7;
        var l0 = new DetectionLoss.Level(n, na, no, 7, 13, 0, 0, 0, 0, 0);
        var l1 = new DetectionLoss.Level(n, na, no, 4, 3, 0, 0, 0, 0, 0);
        int rows = na * (l0.cells() + l1.cells()) + 5; // 5 rows past the levels: left as they were
        float[] raw0 = random(71, n * na * no * l0.cells(), -8f, 8f), raw1 = random(72, n * na * no * l1.cells(), -8f, 8f);
        float[][] anchors = {{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}};
        compare(b, "yolo decode", dev -> {
            try (Tensor r0 = Tensor.of(dev, raw0, n, na * no, 7, 13); Tensor r1 = Tensor.of(dev, raw1, n, na * no, 4, 3);
                 Tensor out = t(dev, 73, n, rows, no)) {
                for (int a = 0; a < na; a++) {
                    org.jprune.engine.ops.DetectDecode.decode(l0, out, r0, a, anchors[0][2 * a], anchors[0][2 * a + 1], 8, 0, rows);
                    org.jprune.engine.ops.DetectDecode.decode(l1, out, r1, a, anchors[1][2 * a], anchors[1][2 * a + 1], 16, na * l0.cells(), rows);
                }
                return new float[][] {out.toArray()};
            }
        }, 1e-5, 1e-5);
        b.activate();
        try (b; Tensor r1 = Tensor.of(b.device(), raw1, n, na * no, 4, 3); Tensor out = Tensor.empty(b.device(), n, rows, no)) {
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> org.jprune.engine.ops.DetectDecode.decode(l1, out, r1, 0, 1, 1, 16, rows - 2, rows));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("do not fit in " + rows + " rows"), e.getMessage());
            e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> org.jprune.engine.ops.DetectDecode.decode(l1, out, r1, 3, 1, 1, 16, 0, rows));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("anchor 3"), e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void detectionLoss(Backend b) {
        int[][] levels = {{2, 3, 6, 5, 7}, {3, 2, 8, 4, 4}}; // n, anchors, outputs, ny, nx
        for (int[] l : levels) {
            int nc = l[2] - 5;
            var level = new DetectionLoss.Level(l[0], l[1], l[2], l[3], l[4], 0.7f, 0.013f, nc > 1 ? 0.21f : 0f, 0.95f, 0.05f);
            java.util.Random r = new java.util.Random(l[2]);
            int rows = l[0] * l[1], cells = l[3] * l[4];
            // distinct (row, cell) pairs, 1-3 matches each
            java.util.List<Integer> spots = new java.util.ArrayList<>();
            for (int k = 0; k < rows * cells; k++) spots.add(k);
            java.util.Collections.shuffle(spots, r);
            int groups = Math.min(9, spots.size());
            int[] start = new int[groups + 1], cell = new int[2 * groups];
            java.util.List<Float> m = new java.util.ArrayList<>();
            for (int g = 0; g < groups; g++) {
                cell[2 * g] = spots.get(g) / cells;
                cell[2 * g + 1] = spots.get(g) % cells;
                int count = 1 + r.nextInt(3);
                start[g + 1] = start[g] + count;
                for (int k = 0; k < count; k++) {
                    float[] f = {-0.5f + 2 * r.nextFloat(), -0.5f + 2 * r.nextFloat(), 0.2f + 4 * r.nextFloat(), 0.2f + 4 * r.nextFloat(),
                                 0.5f + 3 * r.nextFloat(), 0.5f + 3 * r.nextFloat(), nc > 1 ? r.nextInt(nc) : 0};
                    for (float v : f) m.add(v);
                }
            }
            float[] match = new float[m.size()];
            for (int k = 0; k < match.length; k++) match[k] = m.get(k);
            int[] shape = {l[0], l[1] * l[2], l[3], l[4]};
            float[] logits = random(61 + l[2], (int) Tensor.numel(shape), -8f, 8f);
            compare(b, "detection loss " + java.util.Arrays.toString(l), dev -> {
                try (Tensor out = Tensor.of(dev, logits, shape); Tensor grad = t(dev, 62, shape); Tensor loss = Tensor.zeros(dev, 3);
                     DetectionLoss.Matches mm = new DetectionLoss.Matches(dev, level, match, start, cell, groups)) {
                    DetectionLoss.objectness(level, loss, grad, out);
                    float[] afterObj = grad.toArray();
                    DetectionLoss.matched(level, loss, grad, out, mm);
                    return new float[][] {afterObj, grad.toArray(), loss.toArray()};
                }
            }, 1e-5, 1e-4);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void maskKernels(Backend b) {
        int[][] shapes = {{7, 5, 3, 3}, {1, 13, 1, 1}, {4, 9, 17, 2}};
        for (int[] s : shapes)
            for (int axis = 0; axis < 2; axis++) {
                int ax = axis, ch = s[axis];
                for (int mode = 0; mode < 3; mode++) { // random, all-zero, all-one masks
                    float[] m = mode == 0 ? random(7, ch, 0f, 1f) : new float[ch];
                    for (int i = 0; i < ch; i++) m[i] = mode == 0 ? (m[i] < 0.4f ? 0f : m[i] < 0.7f ? 1f : m[i]) : mode == 2 ? 1f : 0f;
                    int[] idx = mode == 1 ? new int[0] : subset(9 + mode, ch, mode == 2 ? 1.0 : 0.5);
                    compare(b, "mask kernels " + java.util.Arrays.toString(s) + " axis " + ax + " mode " + mode, dev -> {
                        try (Tensor x = t(dev, 51, s); Tensor g = t(dev, 52, s); Tensor mask = Tensor.of(dev, m, ch);
                             Tensor scale = Tensor.of(dev, random(53, ch, 0f, 2f), ch);
                             ChannelIndex ci = new ChannelIndex(dev, idx, ch)) {
                            Channels.mask(x, ax, mask);
                            try (Tensor n1 = Channels.norms(x, ax, 1); Tensor n2 = Channels.norms(g, ax, 2);
                                 Tensor gathered = Channels.gather(g, ax, ci); Tensor s2 = Channels.sum(g, ax)) {
                                Channels.groupRegGrad(g, x, ax, scale, 0.3f);
                                Tensor dst = t(dev, 54, s);
                                Channels.scatter(dst, ax, ci, gathered);
                                float[][] out = {x.toArray(), n1.toArray(), n2.toArray(), g.toArray(), gathered.toArray(), dst.toArray(), s2.toArray()};
                                dst.close();
                                return out;
                            }
                        }
                    });
                }
            }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void batchNorm(Backend b) {
        // the last two are narrow layers over large planes: CUDA splits each channel over several blocks (2 and 5)
        for (int[] s : new int[][] {{2, 3, 5, 7}, {8, 16, 1, 1}, {1, 5, 11, 13}, {3, 2, 80, 70}, {2, 3, 150, 160}}) {
            compare(b, "batchnorm " + java.util.Arrays.toString(s), dev -> {
                int c = s[1];
                try (Tensor x = t(dev, 61, s); Tensor y = Tensor.empty(dev, s); Tensor yi = Tensor.empty(dev, s);
                     Tensor gamma = Tensor.of(dev, random(62, c, 0.5f, 1.5f), c); Tensor beta = t(dev, 63, c);
                     Tensor mean = Tensor.empty(dev, c); Tensor inv = Tensor.empty(dev, c); Tensor rm = t(dev, 64, c);
                     Tensor rv = Tensor.of(dev, random(65, c, 0.5f, 2f), c); Tensor dy = t(dev, 66, s); Tensor dx = Tensor.empty(dev, s);
                     Tensor dg = Tensor.empty(dev, c); Tensor db = Tensor.empty(dev, c)) {
                    BnDesc d = BatchNorm.desc(x, 1e-3f, 0.03f);
                    BatchNorm.forwardTrain(d, y, mean, inv, rm, rv, x, gamma, beta);
                    BatchNorm.backward(d, dx, dg, db, dy, x, gamma, mean, inv);
                    BatchNorm.forwardInfer(d, yi, x, gamma, beta, rm, rv);
                    return new float[][] {y.toArray(), mean.toArray(), inv.toArray(), rm.toArray(), rv.toArray(), dx.toArray(),
                        dg.toArray(), db.toArray(), yi.toArray()};
                }
            }, 5e-4, 5e-4);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void activations(Backend b) {
        for (Activation a : Activation.values())
            compare(b, "act " + a, dev -> {
                try (Tensor x = Tensor.of(dev, random(71, 1001, -6f, 6f), 1001); Tensor dy = t(dev, 72, 1001);
                     Tensor y = a.forward(0.1f, x); Tensor dx = Tensor.empty(dev, 1001)) {
                    a.backward(0.1f, dx, dy, x);
                    return new float[][] {y.toArray(), dx.toArray()};
                }
            }, 1e-5, 1e-5);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void poolUpsampleCopy(Backend b) {
        // last two: pad before, pad after (darknet's 2x2 stride-1 "same" maxpool and its stride 2 on an odd size)
        int[][] pools = {{2, 3, 8, 8, 2, 2, 0, 0}, {1, 4, 9, 7, 5, 1, 2, 2}, {2, 2, 13, 13, 3, 2, 1, 1}, {1, 1, 6, 6, 1, 1, 0, 0},
            {2, 3, 13, 13, 2, 1, 0, 1}, {1, 2, 13, 11, 2, 2, 0, 1}, {4, 64, 20, 20, 5, 1, 2, 2} /* SPPF, large enough for threads */};
        for (int[] p : pools) {
            PoolDesc d = new PoolDesc(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
            compare(b, "maxpool " + d, dev -> {
                try (Tensor x = t(dev, 81, d.n(), d.c(), d.h(), d.w()); Tensor y = Tensor.empty(dev, d.n(), d.c(), d.outH(), d.outW());
                     Tensor dy = t(dev, 82, y.shape()); Tensor dx = Tensor.empty(dev, x.shape());
                     MaxPool2d rec = MaxPool2d.forward(d, y, x)) {
                    rec.backward(dx, dy);
                    return new float[][] {y.toArray(), dx.toArray()};
                }
            }, 1e-6, 1e-6);
        }
        compare(b, "upsample + concat/split + eltwise", dev -> {
            try (Tensor x = t(dev, 91, 2, 3, 5, 4); Tensor y = Tensor.empty(dev, 2, 3, 10, 8); Tensor dy = t(dev, 92, 2, 3, 10, 8);
                 Tensor dx = Tensor.empty(dev, 2, 3, 5, 4); Tensor a = t(dev, 93, 2, 5, 10, 8); Tensor cat = Tensor.empty(dev, 2, 8, 10, 8);
                 Tensor s1 = Tensor.empty(dev, 2, 3, 10, 8); Tensor s2 = Tensor.empty(dev, 2, 5, 10, 8);
                 Tensor e1 = Tensor.empty(dev, 2, 3, 10, 8); Tensor e2 = Tensor.empty(dev, 2, 3, 10, 8)) {
                Upsample.forward(2, y, x);
                Upsample.backward(2, dx, dy);
                Channels.concat(cat, List.of(y, a));
                Channels.split(cat, List.of(s1, s2));
                Eltwise.add(e1, y, dy);
                Eltwise.mul(e2, y, dy);
                e2.axpy(-0.5f, e1).scaleInPlace(1.5f);
                return new float[][] {y.toArray(), dx.toArray(), cat.toArray(), s1.toArray(), s2.toArray(), e1.toArray(), e2.toArray(),
                    {e2.sum(), e2.sumSquares(), e2.absMax()}};
            }
        }, 1e-4, 1e-5);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void optimizers(Backend b) {
        for (boolean nesterov : new boolean[] {false, true})
            compare(b, "sgd nesterov=" + nesterov + " + adamw, masked", dev -> {
                float[] mask = random(101, 300, 0f, 1f);
                for (int i = 0; i < mask.length; i++) mask[i] = mask[i] < 0.3f ? 0f : 1f;
                try (Parameter p = new Parameter("w", t(dev, 102, 300), true); Parameter q = new Parameter("b", t(dev, 103, 300), true)) {
                    p.setMask(Tensor.of(dev, mask, 300));
                    Sgd sgd = new Sgd(List.of(p), 0.1, 0.9, 5e-4, nesterov);
                    AdamW adam = new AdamW(List.of(q), 0.01, 0.9, 0.999, 1e-8, 0.01);
                    for (int step = 0; step < 3; step++) {
                        p.grad().copyFrom(random(104 + step, 300, -1f, 1f));
                        q.grad().copyFrom(random(204 + step, 300, -1f, 1f));
                        sgd.step();
                        adam.step();
                    }
                    return new float[][] {p.value().toArray(), p.state("momentum").toArray(), q.value().toArray(),
                        q.state("exp_avg").toArray(), q.state("exp_avg_sq").toArray()};
                }
            }, 1e-5, 1e-4);
    }
}
