package org.jprune.bench;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.jprune.bindings.jprune_h;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.ops.ChannelIndex;
import org.jprune.engine.ops.Channels;
import org.jprune.engine.ops.Conv2d;
import org.jprune.engine.ops.Conv2dDesc;
import org.jprune.engine.ops.CsrMatrix;
import org.jprune.engine.ops.Eltwise;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * The throughput summary: {@code scripts/bench.sh cpu} runs it and it writes
 * bench/results/cpu-DATE.md and .json. Every ratio compares two implementations measured side by
 * side in this one run (ours, then the baseline, then both again; the better median of each).
 *
 * <p>Options: {@code cpu} (the suite), {@code --smoke} (tiny sizes, for the test suite),
 * {@code --out DIR}, {@code --no-jmh}, {@code --threads 1,2}.
 */
public final class BenchMain {
    private final boolean smoke;
    private final Device cpu = Device.cpu();
    private final Report report = new Report();
    private final StringBuilder md = report.md;
    private final Map<String, Object> machine = report.machine;
    private final int[] threadCounts;
    private java.util.Set<String> only = java.util.Set.of();

    private boolean want(String section) { return only.isEmpty() || only.contains(section); }

    BenchMain(boolean smoke, int[] threads) {
        this.smoke = smoke;
        this.threadCounts = threads;
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("gpu")) { // the GPU suite (GpuBench)
            GpuBench.main(java.util.Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        boolean smoke = false, jmh = true;
        java.util.Set<String> only = new java.util.HashSet<>();
        Path out = Path.of("bench", "results");
        int[] threads = {1, Runtime.getRuntime().availableProcessors()};
        String suite = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "cpu" -> suite = "cpu";
                case "--smoke" -> smoke = true;
                case "--no-jmh" -> jmh = false;
                case "--only" -> only.addAll(List.of(args[++i].split(",")));
                case "--out" -> out = Path.of(args[++i]);
                case "--threads" -> threads = java.util.Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                default -> {
                    System.err.println("usage: BenchMain cpu [--smoke] [--no-jmh] [--out DIR] [--threads 1,2] [--only downcall,sgemm,conv,cs,csr,mask,yolo,prune,contention,serve]");
                    System.exit(2);
                }
            }
        }
        if (suite == null) {
            System.err.println("usage: BenchMain cpu [--smoke] [--no-jmh] [--out DIR] [--threads 1,2]");
            System.exit(2);
        }
        threads = IntStream.of(threads).distinct().toArray();
        BenchMain b = new BenchMain(smoke, threads);
        b.only = only;
        b.run(out, jmh && !smoke, String.join(" ", args));
    }

    void run(Path outDir, boolean jmh, String argLine) throws Exception {
        describeMachine(argLine);
        if (jmh && want("downcall")) downcalls();
        if (want("sgemm")) sgemm();
        if (want("conv")) conv();
        if (want("cs")) channelSparse();
        if (want("csr")) csr();
        if (want("mask")) masks();
        if (want("yolo")) yolo();
        if (want("prune")) prune();
        if (want("contention")) new Contention(report, cpu, smoke).run();
        if (want("serve")) new Serve(report, cpu, smoke).run();
        write(outDir);
    }

    // ------------------------------------------------------------------ output helpers

    private void section(String title, String intro, String... header) { report.section(title, intro, header); }

    private void row(String section, Map<String, Object> values) { report.row(section, values); }

    private static String fmt(Object v) { return Report.fmt(v); }

    private static Map<String, Object> map(Object... kv) { return Report.map(kv); }

    /** Better of two medians each, measured a, b, a, b. */
    private double[] sideBySide(Runnable a, Runnable b, double seconds) { return Timer.inTurns(2, 1, smoke ? 1 : 3, seconds, a, b); }

    private void describeMachine(String argLine) throws IOException {
        machine.put("date", ZonedDateTime.now().toString());
        machine.put("command", "scripts/bench.sh " + argLine);
        String model = "unknown", flags = "";
        for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
            if (l.startsWith("model name") && model.equals("unknown")) model = l.substring(l.indexOf(':') + 1).trim();
            if (l.startsWith("flags") && flags.isEmpty()) flags = l.substring(l.indexOf(':') + 1).trim();
        }
        List<String> simd = new ArrayList<>();
        for (String f : flags.split(" ")) if (f.startsWith("avx") || f.equals("fma") || f.startsWith("sse4")) simd.add(f);
        machine.put("cpu", model);
        machine.put("cores", Runtime.getRuntime().availableProcessors());
        machine.put("simd_flags", String.join(" ", simd));
        machine.put("jdk", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        machine.put("backend", cpu.describe());
        String[] isa = {"scalar", "avx2", "avx512"};
        machine.put("jprune_isa", isa[jprune_h.jp_cpu_isa()]);
        machine.put("OPENBLAS_CORETYPE", String.valueOf(System.getenv("OPENBLAS_CORETYPE")));
        report.header("jprune CPU benchmarks, " + LocalDate.now(), "Made by `" + machine.get("command") + "` (bench/src/main/java/org/jprune/bench/BenchMain.java). "
                + "Every ratio compares two implementations timed side by side in this run: median wall time, measured ours, baseline, ours, baseline, better median of each.");
    }

    // ------------------------------------------------------------------ sections

    private void downcalls() {
        section("FFM downcall cost", "JMH (DowncallBench), average time per call, 1 fork, 3x1 s warmup, 5x1 s measurement.", "call", "ns/op", "error (99.9%)");
        try {
            var opts = new OptionsBuilder().include(DowncallBench.class.getName()).forks(1).warmupIterations(3).warmupTime(TimeValue.seconds(1))
                    .measurementIterations(5).measurementTime(TimeValue.seconds(1)).build();
            for (RunResult r : new Runner(opts).run()) {
                String name = r.getParams().getBenchmark().replaceAll(".*\\.", "");
                String label = name.equals("trivial") ? "jp_noop(int) (trivial)" : "jp_fill(ctx, ptr, 1f, 16) (segment arguments)";
                row("downcall", map("call", label, "ns_per_op", r.getPrimaryResult().getScore(), "error", r.getPrimaryResult().getScoreError()));
            }
        } catch (Exception e) {
            md.append("\nJMH failed: ").append(e).append('\n');
        }
    }

    private void sgemm() {
        StringBuilder why = new StringBuilder();
        Optional<OpenBlas> blas = OpenBlas.load(why);
        String intro = blas.map(b -> "Baseline: OpenBLAS " + b.config() + ", core " + b.coreName() + " (cblas_sgemm through FFM).")
                .orElse("OpenBLAS not available (" + why + "): ours only.");
        machine.put("openblas", blas.map(b -> b.config() + " core=" + b.coreName()).orElse("absent"));
        section("SGEMM (row-major, C = A B)", intro, "m x n x k", "threads", "ours GFLOP/s", "OpenBLAS GFLOP/s", "ours / OpenBLAS");
        List<int[]> shapes = new ArrayList<>();
        for (int s : smoke ? new int[] {64} : new int[] {256, 512, 1024, 2048}) shapes.add(new int[] {s, s, s});
        if (!smoke) // the GEMMs of YOLOv5s convolutions at 320x320, per image: M = cout, N = H*W, K = cin*k*k
            for (int[] g : new int[][] {{64, 6400, 288}, {128, 1600, 576}, {256, 400, 1152}, {128, 1600, 128}, {512, 100, 2304}, {255, 1600, 128}})
                shapes.add(g);
        for (int th : threadCounts) {
            cpu.setThreads(th);
            blas.ifPresent(b -> b.setThreads(th));
            for (int[] s : shapes) {
                int m = s[0], n = s[1], k = s[2];
                try (Tensor a = Tensor.randn(cpu, 1, 1f, m, k); Tensor b = Tensor.randn(cpu, 2, 1f, k, n); Tensor c = Tensor.zeros(cpu, m, n);
                     java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                    Runnable ours = () -> Eltwise.matmul(c, a, b, false, false, 1f, 0f);
                    // OpenBLAS on its own native copies of the same matrices (64-byte aligned, as our allocator's)
                    MemorySegment sa = seg(arena, a), sb = seg(arena, b), sc = seg(arena, c);
                    Runnable base = blas.<Runnable>map(bl -> () -> bl.sgemm(false, false, m, n, k, 1f, sa, k, sb, n, 0f, sc, n)).orElse(null);
                    double[] t = sideBySide(ours, base, smoke ? 0.01 : 0.4);
                    double flop = 2.0 * m * n * k;
                    row("sgemm", map("shape", m + "x" + n + "x" + k, "threads", th, "ours_gflops", flop / t[0] / 1e9,
                            "openblas_gflops", base == null ? "-" : flop / t[1] / 1e9, "ratio", base == null ? "-" : t[1] / t[0]));
                }
            }
        }
        cpu.setThreads(0);
    }

    private static MemorySegment seg(java.lang.foreign.Arena arena, Tensor t) {
        MemorySegment s = arena.allocate(t.numel() * Float.BYTES, 64);
        MemorySegment.copy(t.toArray(), 0, s, java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, (int) t.numel());
        return s;
    }

    private Optional<ConvBaseline> torch(StringBuilder why) {
        try {
            Class<?> c = Class.forName("org.jprune.bench.TorchConv");
            return Optional.of((ConvBaseline) c.getConstructor(int.class).newInstance(Runtime.getRuntime().availableProcessors()));
        } catch (ClassNotFoundException e) {
            why.append("not built: run scripts/bench.sh with --torch (Maven profile 'torch', DJL + PyTorch 2.7.1 CPU)");
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            why.append("failed to start: ").append(e);
        }
        return Optional.empty();
    }

    private void conv() {
        StringBuilder why = new StringBuilder();
        Optional<ConvBaseline> torch = torch(why);
        int batch = smoke ? 1 : 8, img = smoke ? 64 : 320;
        section("conv2d forward + backward (YOLOv5 layers, batch " + batch + ", " + img + "x" + img + " input, all cores)",
                "One step = forward, backward-data and backward-filter (+bias). GFLOP/s counts 6 x MACs. Baseline: "
                        + torch.map(ConvBaseline::describe).orElse("PyTorch " + why),
                "model", "layer", "ours ms", "ours GFLOP/s", "PyTorch ms", "ours / PyTorch");
        double logSum = 0;
        int n = 0;
        for (String model : smoke ? new String[] {"yolov5n"} : new String[] {"yolov5n", "yolov5s"}) {
            List<YoloShapes.Shape> shapes = YoloShapes.layers(model, img);
            if (smoke) shapes = shapes.subList(0, 3);
            for (YoloShapes.Shape s : shapes) {
                Conv2dDesc d = Conv2dDesc.of(batch, s.cin(), s.hw(), s.hw(), s.cout(), s.k(), s.s(), s.pad(), 1);
                try (Tensor x = Tensor.randn(cpu, 1, 1f, batch, s.cin(), s.hw(), s.hw()); Tensor w = Tensor.randn(cpu, 2, 0.1f, s.cout(), s.cin(), s.k(), s.k());
                     Tensor b = Tensor.zeros(cpu, s.cout()); Tensor y = Tensor.empty(cpu, batch, s.cout(), d.outH(), d.outW());
                     Tensor dy = Tensor.randn(cpu, 3, 1f, y.shape()); Tensor dx = Tensor.empty(cpu, x.shape()); Tensor dw = Tensor.empty(cpu, w.shape());
                     Tensor db = Tensor.empty(cpu, s.cout())) {
                    Runnable ours = () -> {
                        Conv2d.forward(d, y, x, w, b);
                        Conv2d.backwardData(d, dx, dy, w);
                        Conv2d.backwardFilter(d, dw, db, dy, x);
                    };
                    torch.ifPresent(t -> t.prepare(d));
                    double[] t = sideBySide(ours, torch.<Runnable>map(tc -> tc::run).orElse(null), smoke ? 0.01 : 0.3);
                    double gf = 6.0 * d.macs() / t[0] / 1e9;
                    Object tms = torch.isPresent() ? t[1] * 1e3 : "-", ratio = torch.isPresent() ? t[1] / t[0] : "-";
                    if (torch.isPresent()) { logSum += Math.log(t[1] / t[0]); n++; }
                    row("conv2d", map("model", model, "layer", s.name(), "ours_ms", t[0] * 1e3, "ours_gflops", gf, "torch_ms", tms, "ratio", ratio));
                }
            }
        }
        torch.ifPresent(ConvBaseline::close);
        if (n > 0) {
            double gm = Math.exp(logSum / n);
            md.append("\nGeometric mean of ours / PyTorch speed over ").append(n).append(" layers: **").append(fmt(gm)).append("**\n");
            report.data(map("section", "conv2d_summary", "geomean_ratio_vs_torch", gm, "layers", n));
        }
    }

    /**
     * YOLOv5n end to end on this CPU: inference latency (eval mode, batch 1 and 16) and training
     * throughput (forward + YOLOv5 loss + backward + SGD step, batch 16) at 320 and 640, plus 256 (the
     * main job's size). Inputs are random; targets are 6 random boxes per image.
     */
    private void yolo() throws Exception {
        section("YOLOv5n inference latency and training throughput (all cores)",
                "Latency: median time of one forward pass in eval mode (raw Detect maps, before NMS). Training: forward, loss and "
                        + "gradient on the host, backward, SGD (Nesterov) step; images per second at batch 16.",
                "image size", "batch", "inference ms / batch", "inference ms / image", "training img/s");
        org.jprune.yolo.model.ModelConfig cfg = org.jprune.yolo.model.ModelConfig.load("yolov5n").withClasses(80);
        int[] sizes = smoke ? new int[] {64} : new int[] {256, 320, 640};
        for (int size : sizes) {
            try (org.jprune.yolo.model.YoloModel m = org.jprune.yolo.model.YoloModel.build(cfg, cpu, 0)) {
                for (int batch : smoke ? new int[] {1} : new int[] {1, 16}) {
                    double inf;
                    try (Tensor x = Tensor.randn(cpu, 5, 0.5f, batch, 3, size, size)) {
                        inf = Timer.median(() -> m.forwardRaw(x), 1, smoke ? 1 : 5, smoke ? 0.01 : 1.0);
                    }
                    Object train = "-";
                    if (batch == 16 || smoke) {
                        double step = Timer.median(trainStep(m, randomBatch(batch, size, 80, 9), size), 1, smoke ? 1 : 3, smoke ? 0.01 : 2.0);
                        train = batch / step;
                    }
                    row("yolo", map("size", size, "batch", batch, "infer_ms", inf * 1e3, "infer_ms_per_image", inf * 1e3 / batch, "train_img_per_s", train));
                }
            }
        }
    }

    /**
     * What pruning buys on this CPU: for YOLOv5n and YOLOv5s with 25 / 50 / 75% of the prunable channels
     * kept (every layer the same fraction, multiples of 8), the training step of the full-size network
     * masked by the plan (channel-sparse convolutions, what masked fine-tuning runs), of the compact
     * network (pruned channels removed, what the default fine-tuning runs), against the dense step; and
     * inference of the compact network against the dense one at batch 1 and 16. All side by side.
     */
    private void prune() throws Exception {
        int size = smoke ? 64 : 320, batch = smoke ? 2 : 16;
        section("Pruned YOLOv5: training step and inference vs dense (" + size + "x" + size + ", all cores)",
                "Training: forward, loss, backward, SGD step at batch " + batch + ", images/s. Masked: the full-size network with the pruning plan on it "
                        + "(channel-sparse convolutions over the alive channels, masks in the optimizer). Compact: the network with the pruned channels "
                        + "removed. Inference: median forward time in eval mode; speed-ups are dense time / pruned time, measured side by side.",
                "model", "channels kept", "params", "dense train img/s", "masked train img/s", "compact train img/s", "masked / dense", "compact / dense",
                "dense b1 ms", "compact b1 ms", "b1 speed-up", "dense b16 ms/img", "compact b16 ms/img", "b16 speed-up");
        for (String name : smoke ? new String[] {"yolov5n"} : new String[] {"yolov5n", "yolov5s"}) {
            org.jprune.yolo.model.ModelConfig cfg = org.jprune.yolo.model.ModelConfig.load(name).withClasses(80);
            for (double kept : smoke ? new double[] {0.5} : new double[] {0.75, 0.5, 0.25}) {
                try (org.jprune.yolo.model.YoloModel dense = org.jprune.yolo.model.YoloModel.build(cfg, cpu, 0);
                     org.jprune.yolo.model.YoloModel masked = org.jprune.yolo.model.YoloModel.build(cfg, cpu, 0)) {
                    Serve.pruneUniform(masked, kept);
                    try (org.jprune.yolo.model.YoloModel compact = masked.compact()) {
                        var b = randomBatch(batch, size, 80, 9);
                        Runnable denseStep = trainStep(dense, b, size);
                        double[] t1 = sideBySide(trainStep(masked, b, size), denseStep, smoke ? 0.01 : 2.0);
                        double[] t2 = sideBySide(trainStep(compact, b, size), denseStep, smoke ? 0.01 : 2.0);
                        double tMasked = t1[0], tCompact = t2[0], tDense = Math.min(t1[1], t2[1]);
                        double[] i1, i16;
                        try (Tensor x1 = Tensor.randn(cpu, 5, 0.5f, 1, 3, size, size); Tensor x16 = Tensor.randn(cpu, 6, 0.5f, batch, 3, size, size)) {
                            i1 = sideBySide(() -> compact.forwardRaw(x1), () -> dense.forwardRaw(x1), smoke ? 0.01 : 1.0);
                            i16 = sideBySide(() -> compact.forwardRaw(x16), () -> dense.forwardRaw(x16), smoke ? 0.01 : 1.5);
                        }
                        row("prune", map("model", name, "kept", kept, "params", compact.parameterCount(), "dense_train_img_s", batch / tDense,
                                "masked_train_img_s", batch / tMasked, "compact_train_img_s", batch / tCompact, "masked_vs_dense", tDense / tMasked,
                                "compact_vs_dense", tDense / tCompact, "dense_b1_ms", i1[1] * 1e3, "compact_b1_ms", i1[0] * 1e3, "b1_speedup", i1[1] / i1[0],
                                "dense_b16_ms_per_img", i16[1] * 1e3 / batch, "compact_b16_ms_per_img", i16[0] * 1e3 / batch, "b16_speedup", i16[1] / i16[0]));
                    }
                }
            }
        }
    }

    /** One training step (forward, loss, backward, SGD step) of a model on a fixed batch. */
    static Runnable trainStep(org.jprune.yolo.model.YoloModel m, org.jprune.yolo.data.Loader.Batch b, int size) {
        var hyp = org.jprune.yolo.loss.Hyp.SCRATCH_LOW.scaled(m.levels(), 80, size);
        var loss = new org.jprune.yolo.loss.YoloLoss(80, m.anchorsPx(), m.strides(), hyp);
        var sgd = new org.jprune.engine.optim.Sgd(m.graph().parameters(), 0.001, 0.937, 5e-4, true);
        return () -> {
            org.jprune.yolo.train.Trainer.step(m, loss, b);
            sgd.step();
            m.graph().zeroGrad();
        };
    }

    /** A training batch of random pixels with 6 random boxes per image (shared with GpuBench). */
    static org.jprune.yolo.data.Loader.Batch randomBatch(int batch, int size, int classes, long seed) {
        float[] img = new float[batch * 3 * size * size];
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (int i = 0; i < img.length; i++) img[i] = (float) r.nextDouble();
        float[] t = new float[batch * 6 * 6];
        for (int k = 0; k < batch * 6; k++) {
            double w = 0.05 + 0.4 * r.nextDouble(), h = 0.05 + 0.4 * r.nextDouble();
            float[] row = {k / 6, r.nextInt(classes), (float) (w / 2 + (1 - w) * r.nextDouble()), (float) (h / 2 + (1 - h) * r.nextDouble()), (float) w, (float) h};
            System.arraycopy(row, 0, t, k * 6, 6);
        }
        return new org.jprune.yolo.data.Loader.Batch(img, batch, size, t, batch * 6, List.of(), new float[batch][], new int[batch][]);
    }

    static int[] keep(int n, double frac, long seed) {
        int k = Math.max(1, (int) Math.round(n * frac));
        SplittableRandom r = new SplittableRandom(seed);
        int[] all = IntStream.range(0, n).toArray();
        for (int i = n - 1; i > 0; i--) { int j = r.nextInt(i + 1); int t = all[i]; all[i] = all[j]; all[j] = t; }
        int[] out = java.util.Arrays.copyOf(all, k);
        java.util.Arrays.sort(out);
        return out;
    }

    /** cin, cout, k, hw of representative YOLOv5s layers at 320 (batch 8). */
    private int[][] sparseShapes() {
        return smoke ? new int[][] {{16, 16, 3, 16}} : new int[][] {{64, 64, 3, 80}, {128, 128, 3, 40}, {256, 256, 1, 20}, {256, 256, 3, 20}};
    }

    private void channelSparse() {
        int batch = smoke ? 1 : 8;
        section("Channel-sparse conv vs dense (same shapes, batch " + batch + ", all cores)",
                "Forward + backward on the kept input and output channels only (the same fraction of each) vs dense forward + backward.",
                "layer (cin->cout, k, hw)", "kept in/out", "dense ms", "sparse ms", "speedup");
        for (int[] s : sparseShapes()) {
            Conv2dDesc d = Conv2dDesc.of(batch, s[0], s[3], s[3], s[1], s[2], 1, s[2] / 2, 1);
            try (Tensor x = Tensor.randn(cpu, 1, 1f, batch, s[0], s[3], s[3]); Tensor w = Tensor.randn(cpu, 2, 0.1f, s[1], s[0], s[2], s[2]);
                 Tensor y = Tensor.empty(cpu, batch, s[1], s[3], s[3]); Tensor dy = Tensor.randn(cpu, 3, 1f, y.shape());
                 Tensor dx = Tensor.empty(cpu, x.shape()); Tensor dw = Tensor.empty(cpu, w.shape())) {
                Runnable dense = () -> {
                    Conv2d.forward(d, y, x, w, null);
                    Conv2d.backwardData(d, dx, dy, w);
                    Conv2d.backwardFilter(d, dw, null, dy, x);
                };
                for (double f : new double[] {0.25, 0.5, 0.75}) {
                    try (ChannelIndex in = new ChannelIndex(cpu, keep(s[0], f, 7), s[0]); ChannelIndex out = new ChannelIndex(cpu, keep(s[1], f, 8), s[1])) {
                        Runnable sparse = () -> {
                            Conv2d.forwardChannelSparse(d, y, x, w, null, in, out);
                            Conv2d.backwardDataChannelSparse(d, dx, dy, w, in, out);
                            Conv2d.backwardFilterChannelSparse(d, dw, null, dy, x, in, out);
                        };
                        double[] t = sideBySide(sparse, dense, smoke ? 0.01 : 0.3);
                        row("conv2d_cs", map("layer", s[0] + "->" + s[1] + " k" + s[2] + " @" + s[3], "kept", f, "dense_ms", t[1] * 1e3,
                                "sparse_ms", t[0] * 1e3, "speedup", t[1] / t[0]));
                    }
                }
            }
        }
    }

    private void csr() {
        int batch = smoke ? 1 : 8;
        section("Weight-sparse (CSR) conv forward vs dense forward (same shapes, batch " + batch + ", all cores)",
                "Unstructured magnitude-style sparsity (random positions); CSR built once, outside the timing.",
                "layer (cin->cout, k, hw)", "sparsity", "dense ms", "CSR ms", "speedup");
        for (int[] s : sparseShapes()) {
            Conv2dDesc d = Conv2dDesc.of(batch, s[0], s[3], s[3], s[1], s[2], 1, s[2] / 2, 1);
            try (Tensor x = Tensor.randn(cpu, 1, 1f, batch, s[0], s[3], s[3]); Tensor y = Tensor.empty(cpu, batch, s[1], s[3], s[3])) {
                for (double sp : new double[] {0.5, 0.7, 0.9, 0.95}) {
                    float[] wv = Tensor.randnArray(2, 0.1f, s[1] * s[0] * s[2] * s[2]);
                    SplittableRandom r = new SplittableRandom(5);
                    for (int i = 0; i < wv.length; i++) if (r.nextDouble() < sp) wv[i] = 0f;
                    try (Tensor w = Tensor.of(cpu, wv, s[1], s[0], s[2], s[2]); CsrMatrix m = CsrMatrix.fromDense(w, s[1], 0f)) {
                        double[] t = sideBySide(() -> Conv2d.forwardCsr(d, y, x, m, null), () -> Conv2d.forward(d, y, x, w, null), smoke ? 0.01 : 0.3);
                        row("conv2d_csr", map("layer", s[0] + "->" + s[1] + " k" + s[2] + " @" + s[3], "sparsity", sp, "dense_ms", t[1] * 1e3,
                                "csr_ms", t[0] * 1e3, "speedup", t[1] / t[0]));
                    }
                }
            }
        }
    }

    private void masks() {
        int channels = 512, inner = smoke ? 256 : 32768; // 64 MiB: far beyond the caches
        long n = (long) channels * inner;
        section("Channel-mask kernels vs memcpy (" + n * 4 / (1 << 20) + " MiB tensor, all cores)",
                "GB/s counts bytes read + written. memcpy = jp_copy_d2d of the same tensor (reads n, writes n).",
                "kernel", "GB/s", "memcpy GB/s", "ratio");
        // 0 or 0.5: every element is processed (a 1 would let the kernel skip its channel, a 0 is
        // a write-only memset), and the byte count below says exactly what is touched
        float[] mv = new float[channels];
        int zeros = 0;
        for (int i = 0; i < channels; i++) {
            mv[i] = i % 3 == 0 ? 0f : 0.5f;
            if (mv[i] == 0f) zeros++;
        }
        double maskBytes = (4.0 * zeros + 8.0 * (channels - zeros)) / channels;
        try (Tensor t = Tensor.randn(cpu, 1, 1f, channels, inner); Tensor g = Tensor.randn(cpu, 2, 1f, channels, inner);
             Tensor dst = Tensor.empty(cpu, channels, inner); Tensor mask = Tensor.of(cpu, mv, channels); Tensor scale = Tensor.full(cpu, 0.5f, channels);
             ChannelIndex all = ChannelIndex.all(cpu, channels)) {
            Runnable copy = () -> dst.copyFrom(t);
            record K(String name, double bytesPerElem, Runnable r) {}
            List<K> ks = List.of(
                    new K("mask_channels (1/3 zeroed: write; 2/3 scaled: read+write)", maskBytes, () -> Channels.mask(t, 0, mask)),
                    new K("channel_norms L2 (read)", 4, () -> Channels.norms(t, 0, 2).close()),
                    new K("group_reg_grad (read 2, write 1)", 12, () -> Channels.groupRegGrad(g, t, 0, scale, 1e-4f)),
                    new K("gather_channels, all kept (read+write)", 8, () -> Channels.gather(t, 0, all).close()),
                    new K("scatter_channels, all (read+write)", 8, () -> Channels.scatter(dst, 0, all, t)));
            for (K k : ks) {
                double[] tt = sideBySide(k.r(), copy, smoke ? 0.01 : 0.3);
                double gbs = k.bytesPerElem() * n / tt[0] / 1e9, copyGbs = 8.0 * n / tt[1] / 1e9;
                row("mask", map("kernel", k.name(), "gbs", gbs, "memcpy_gbs", copyGbs, "ratio", gbs / copyGbs));
            }
        }
    }

    private void write(Path dir) throws IOException {
        String stem = "cpu-" + LocalDate.now() + (only.isEmpty() ? "" : "-" + String.join("-", new java.util.TreeSet<>(only))) + (smoke ? "-smoke" : "");
        report.write(dir, Report.freeStem(dir, stem));
    }
}
