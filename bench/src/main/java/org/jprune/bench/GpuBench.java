package org.jprune.bench;

import static org.jprune.bench.Report.map;

import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jprune.engine.Device;
import org.jprune.engine.DeviceKind;
import org.jprune.engine.Tensor;
import org.jprune.engine.ops.ChannelIndex;
import org.jprune.engine.ops.Channels;
import org.jprune.engine.ops.Conv2d;
import org.jprune.engine.ops.Conv2dDesc;
import org.jprune.engine.ops.CsrMatrix;

/**
 * The GPU summary (issue 3's benchmarks), run on the GPU machine by scripts/device/gpu-suite.sh:
 * {@code java -jar benchmarks.jar gpu [--smoke] [--device cuda|cuda-emu] [--out DIR] [--name STEM] [--only conv,cs,csr,mask,yolo]
 * [--batches 16,64]}. The summary is rewritten after every row, so a run cut off by its time box keeps what it measured.
 *
 * <p>Every ratio is measured side by side in this one run: the two implementations alternate (a, b,
 * a, b; the better median of each), each timed call followed by a device synchronisation, so times
 * are wall-clock GPU work plus one launch latency. Rows: conv2d forward and forward + backward for
 * every YOLOv5s layer at batch 16 and 64 (640 x 640 input), native vs cuDNN, FP32 and TF32, with the
 * geometric means the targets are stated in; channel-sparse conv at 25/50/75% kept vs dense; CSR
 * conv at 50..95% sparsity vs dense; the mask kernels' bandwidth vs a device-to-device copy; one
 * YOLOv5s training step in images/s. {@code --smoke --device cuda-emu} runs every path at tiny sizes
 * (the test suite does, so this code cannot rot without a GPU).
 */
public final class GpuBench {
    private final boolean smoke;
    private final Device dev;
    private final Report report = new Report();
    private java.util.Set<String> only = java.util.Set.of();
    private int[] batches;  // conv rows' batch sizes (--batches)

    private GpuBench(boolean smoke, Device dev) {
        this.smoke = smoke;
        this.dev = dev;
    }

    public static void main(String[] args) throws Exception {
        boolean smoke = false;
        Path out = Path.of("bench", "results");
        String name = null;
        DeviceKind kind = DeviceKind.CUDA;
        int[] batches = {16, 64};
        java.util.Set<String> only = new java.util.HashSet<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--smoke" -> smoke = true;
                case "--out" -> out = Path.of(args[++i]);
                case "--name" -> name = args[++i];
                case "--device" -> kind = DeviceKind.parse(args[++i]);
                case "--only" -> only.addAll(List.of(args[++i].split(",")));
                case "--batches" -> batches = java.util.Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                default -> {
                    System.err.println("usage: benchmarks.jar gpu [--smoke] [--device cuda|cuda-emu] [--out DIR] [--name STEM] [--only conv,cs,csr,mask,yolo] [--batches 16,64]");
                    System.exit(2);
                }
            }
        }
        try (Device dev = Device.open(kind, 0)) {
            GpuBench b = new GpuBench(smoke, dev);
            b.only = only;
            b.batches = batches;
            String stem = name != null ? name : "gpu-" + LocalDate.now() + (smoke ? "-smoke" : "");
            b.report.autosave(out, stem);
            b.run(String.join(" ", args));
            b.report.write(out, stem);
        }
    }

    private boolean want(String s) { return only.isEmpty() || only.contains(s); }

    void run(String argLine) throws Exception {
        report.machine.put("date", ZonedDateTime.now().toString());
        report.machine.put("command", "java -jar benchmarks.jar gpu " + argLine);
        report.machine.put("device", dev.describe());
        report.machine.put("jdk", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        Device.Capabilities caps = dev.capabilities();
        boolean cudnn = caps.convProviders().contains("cudnn"), tf32 = caps.tf32();
        report.machine.put("cudnn", cudnn ? "loaded (baseline rows present)" : "absent (native rows only)");
        report.machine.put("tf32", tf32 ? "available" : "unavailable on this device");
        report.header("jprune GPU benchmarks, " + LocalDate.now(), "Made by `scripts/device/gpu-suite.sh` (bench/src/main/java/org/jprune/bench/GpuBench.java). "
                + "Ratios compare two implementations timed side by side in this run (alternating, median wall time with a device sync per call, better median of each).");
        // the quick sections first: on a time-boxed lease the long per-layer conv table comes last
        if (want("mask")) masks();
        if (want("yolo")) yolo(cudnn, tf32);
        if (want("infer")) inference();
        if (want("cs")) channelSparse();
        if (want("csr")) csr();
        if (want("conv")) conv(cudnn, tf32);
    }

    /** r followed by a device synchronisation, so a time covers the work, not its launch. */
    private Runnable synced(Runnable r) { return r == null ? null : () -> { r.run(); dev.sync(); }; }

    private double time(Runnable r) { return Timer.median(synced(r), smoke ? 0 : 2, smoke ? 1 : 5, smoke ? 0 : 0.15); }

    /** Better median of each over two alternating rounds. */
    private double[] sideBySide(Runnable a, Runnable b) {
        return Timer.inTurns(smoke ? 1 : 2, smoke ? 0 : 2, smoke ? 1 : 5, smoke ? 0 : 0.15, synced(a), synced(b));
    }

    private Tensor rand(long seed, int... shape) { return Tensor.randn(dev, seed, 0.5f, shape); }

    /** Forward, or forward + backward-data + backward-filter, of one layer with the device's current options. */
    private static Runnable convOp(Conv2dDesc d, Tensor x, Tensor w, Tensor b, Tensor y, Tensor dy, Tensor dx, Tensor dw, Tensor db, boolean bwd) {
        return () -> {
            Conv2d.forward(d, y, x, w, b);
            if (bwd) {
                Conv2d.backwardData(d, dx, dy, w);
                Conv2d.backwardFilter(d, dw, db, dy, x);
            }
        };
    }

    private Runnable withOptions(String conv, String tf32, String pipeline, Runnable r) {
        return () -> {
            dev.setOption("conv", conv);
            dev.setOption("tf32", tf32);
            dev.setOption("pipeline", pipeline);
            r.run();
        };
    }

    private void conv(boolean cudnn, boolean tf32) {
        report.section("Dense conv2d: native implicit GEMM vs cuDNN (YOLOv5s layers, 640 x 640 input)",
                "Per layer: milliseconds per call of forward (fwd) and of forward + backward-data + backward-filter (train). "
                        + "FP32: our FP32 kernel vs cuDNN with CUDNN_FMA_MATH (no tensor cores); fp32-db: our FP32 kernel with double-buffered "
                        + "shared memory (pipeline=1, conv2d.cu v5), fp32-async: our FP32 kernel on a cp.async ring with 16-byte copies (pipeline=2, v7), each vs the same cuDNN. TF32: our mma.sync + cp.async kernel (conv2d.cu v6) vs cuDNN with CUDNN_TENSOR_OP_MATH. "
                        + "speed ratio = cuDNN time / ours (> 1: ours faster).",
                "layer", "batch", "math", "ours fwd ms", "cuDNN fwd ms", "fwd ratio", "ours train ms", "cuDNN train ms", "train ratio");
        List<String> maths = new ArrayList<>(List.of("fp32", "fp32-db", "fp32-async"));
        if (tf32) maths.add("tf32");
        Map<String, double[]> logSums = new LinkedHashMap<>(); // math/batch -> {sum log fwd ratio, sum log train ratio, n}
        int[] batches = smoke ? new int[] {1} : this.batches;
        for (int batch : batches)
            for (YoloShapes.Shape l : smoke ? YoloShapes.layers("yolov5s", 64).subList(0, 3) : YoloShapes.layers("yolov5s", 640)) {
                Conv2dDesc d = new Conv2dDesc(batch, l.cin(), l.hw(), l.hw(), l.cout(), l.k(), l.k(), l.s(), l.s(), l.pad(), l.pad(), 1, 1, 1);
                try (Tensor x = rand(1, batch, l.cin(), l.hw(), l.hw()); Tensor w = rand(2, l.cout(), l.cin(), l.k(), l.k()); Tensor b = rand(3, l.cout());
                     Tensor y = Tensor.empty(dev, batch, l.cout(), d.outH(), d.outW()); Tensor dy = rand(4, y.shape());
                     Tensor dx = Tensor.empty(dev, x.shape()); Tensor dw = Tensor.empty(dev, w.shape()); Tensor db = Tensor.empty(dev, l.cout())) {
                    for (String math : maths) {
                        String t = math.equals("tf32") ? "1" : "0", pipe = math.equals("fp32-db") ? "1" : math.equals("fp32-async") ? "2" : "0";
                        double[] fwd = sideBySide(withOptions("native", t, pipe, convOp(d, x, w, b, y, dy, dx, dw, db, false)),
                                cudnn ? withOptions("cudnn", t, "0", convOp(d, x, w, b, y, dy, dx, dw, db, false)) : null);
                        double[] train = sideBySide(withOptions("native", t, pipe, convOp(d, x, w, b, y, dy, dx, dw, db, true)),
                                cudnn ? withOptions("cudnn", t, "0", convOp(d, x, w, b, y, dy, dx, dw, db, true)) : null);
                        Object rf = cudnn ? fwd[1] / fwd[0] : "-", rt = cudnn ? train[1] / train[0] : "-";
                        report.row("conv2d", map("layer", l.name(), "batch", batch, "math", math, "ours_fwd_ms", fwd[0] * 1e3,
                                "cudnn_fwd_ms", cudnn ? (Object) (fwd[1] * 1e3) : "-", "fwd_speed_ratio", rf, "ours_train_ms", train[0] * 1e3,
                                "cudnn_train_ms", cudnn ? (Object) (train[1] * 1e3) : "-", "train_speed_ratio", rt));
                        if (cudnn) {
                            double[] s = logSums.computeIfAbsent(math + " batch " + batch, k -> new double[3]);
                            s[0] += Math.log(fwd[1] / fwd[0]);
                            s[1] += Math.log(train[1] / train[0]);
                            s[2]++;
                        }
                    }
                }
            }
        dev.setOption("conv", "native");
        dev.setOption("tf32", "0");
        dev.setOption("pipeline", "0");
        if (!logSums.isEmpty()) {
            report.md.append("\nGeometric means of the speed ratio (cuDNN time / ours) over the layers (target: train >= 0.7 for FP32 and for TF32):\n\n");
            for (var e : logSums.entrySet()) {
                double gf = Math.exp(e.getValue()[0] / e.getValue()[2]), gt = Math.exp(e.getValue()[1] / e.getValue()[2]);
                report.md.append("- ").append(e.getKey()).append(": fwd **").append(Report.fmt(gf)).append("**, train **").append(Report.fmt(gt)).append("**\n");
                report.data(map("section", "conv2d_geomean", "config", e.getKey(), "fwd", gf, "train", gt, "layers", (int) e.getValue()[2]));
            }
        }
    }

    static int[] keep(int n, double frac, long seed) { return BenchMain.keep(n, frac, seed); }

    private void channelSparse() {
        int batch = smoke ? 1 : 16;
        report.section("Channel-sparse conv vs our dense conv (batch " + batch + ", 640 x 640 model input)",
                "Forward + backward over the kept input and output channels only (the same fraction of each) vs dense forward + backward of "
                        + "the full layer, FP32. Target: >= 3x at 50% / 50%.",
                "layer", "kept in / out", "dense ms", "sparse ms", "speedup");
        int[][] shapes = smoke ? new int[][] {{16, 16, 3, 8}} : new int[][] {{64, 64, 3, 160}, {128, 128, 3, 80}, {256, 256, 3, 40}, {256, 256, 1, 40}, {512, 512, 1, 20}};
        for (int[] s : shapes) {
            Conv2dDesc d = new Conv2dDesc(batch, s[0], s[3], s[3], s[1], s[2], s[2], 1, 1, s[2] / 2, s[2] / 2, 1, 1, 1);
            try (Tensor x = rand(1, batch, s[0], s[3], s[3]); Tensor w = rand(2, s[1], s[0], s[2], s[2]); Tensor b = rand(3, s[1]);
                 Tensor y = Tensor.empty(dev, batch, s[1], s[3], s[3]); Tensor dy = rand(4, y.shape()); Tensor dx = Tensor.empty(dev, x.shape());
                 Tensor dw = Tensor.empty(dev, w.shape()); Tensor db = Tensor.empty(dev, s[1])) {
                for (double frac : new double[] {0.25, 0.5, 0.75}) {
                    try (ChannelIndex in = new ChannelIndex(dev, keep(s[0], frac, 5), s[0]); ChannelIndex out = new ChannelIndex(dev, keep(s[1], frac, 6), s[1])) {
                        double[] t = sideBySide(convOp(d, x, w, b, y, dy, dx, dw, db, true), () -> {
                            Conv2d.forwardChannelSparse(d, y, x, w, b, in, out);
                            Conv2d.backwardDataChannelSparse(d, dx, dy, w, in, out);
                            Conv2d.backwardFilterChannelSparse(d, dw, db, dy, x, in, out);
                        });
                        report.row("channel_sparse", map("layer", String.format("%dx%d %d->%d @%d", s[2], s[2], s[0], s[1], s[3]),
                                "kept", (int) Math.round(frac * 100) + "% / " + (int) Math.round(frac * 100) + "%", "dense_ms", t[0] * 1e3,
                                "sparse_ms", t[1] * 1e3, "speedup", t[0] / t[1]));
                    }
                }
            }
        }
    }

    private void csr() {
        int batch = smoke ? 1 : 16;
        report.section("Weight-sparse (CSR) conv forward vs our dense forward (batch " + batch + ")",
                "Unstructured magnitude sparsity (smallest weights zeroed), FP32.", "layer", "sparsity", "dense ms", "CSR ms", "speedup");
        int[][] shapes = smoke ? new int[][] {{16, 16, 3, 8}} : new int[][] {{128, 128, 3, 80}, {256, 256, 3, 40}, {512, 512, 1, 20}};
        for (int[] s : shapes) {
            Conv2dDesc d = new Conv2dDesc(batch, s[0], s[3], s[3], s[1], s[2], s[2], 1, 1, s[2] / 2, s[2] / 2, 1, 1, 1);
            float[] wv = Tensor.randn(Device.cpu(), 2, 0.5f, s[1], s[0], s[2], s[2]).toArray();
            float[] sorted = wv.clone();
            for (int i = 0; i < sorted.length; i++) sorted[i] = Math.abs(sorted[i]);
            java.util.Arrays.sort(sorted);
            try (Tensor x = rand(1, batch, s[0], s[3], s[3]); Tensor b = rand(3, s[1]); Tensor y = Tensor.empty(dev, batch, s[1], s[3], s[3])) {
                for (double sp : new double[] {0.5, 0.75, 0.9, 0.95}) {
                    float thr = sorted[(int) (sp * (sorted.length - 1))];
                    float[] pruned = wv.clone();
                    for (int i = 0; i < pruned.length; i++) if (Math.abs(pruned[i]) <= thr) pruned[i] = 0f;
                    try (Tensor w = Tensor.of(dev, pruned, s[1], s[0], s[2], s[2]); CsrMatrix m = CsrMatrix.fromDense(w, s[1], 0f)) {
                        double[] t = sideBySide(() -> Conv2d.forward(d, y, x, w, b), () -> Conv2d.forwardCsr(d, y, x, m, b));
                        report.row("csr", map("layer", String.format("%dx%d %d->%d @%d", s[2], s[2], s[0], s[1], s[3]), "sparsity",
                                (int) Math.round(sp * 100) + "%", "dense_ms", t[0] * 1e3, "csr_ms", t[1] * 1e3, "speedup", t[0] / t[1]));
                    }
                }
            }
        }
    }

    private void masks() {
        long n = smoke ? 1 << 12 : 1L << 26; // 256 MiB of floats
        int channels = smoke ? 16 : 256, outer = smoke ? 4 : 16;
        long inner = n / ((long) channels * outer);
        report.section("Mask kernels: bandwidth vs a device-to-device copy",
                "GB/s counts bytes read + written once each, on " + (n * 4 >> 20) + " MiB tensors [" + outer + "][" + channels + "][" + inner + "]. Target: >= 0.75x the copy.",
                "kernel", "GB/s", "copy GB/s", "ratio");
        int[] half = keep(channels, 0.5, 7);
        float[] mv = new float[channels];
        for (int c : half) mv[c] = 1f;
        try (Tensor x = Tensor.zeros(dev, outer, channels, (int) inner); Tensor y = Tensor.zeros(dev, outer, channels, (int) inner);
             Tensor mask = Tensor.of(dev, mv, channels); Tensor g = Tensor.zeros(dev, outer, half.length, (int) inner);
             ChannelIndex idx = new ChannelIndex(dev, half, channels)) {
            double copyBytes = 2.0 * n * 4;
            List<Object[]> kernels = List.of(
                    new Object[] {"mask_channels (in place)", (Runnable) () -> Channels.mask(x, 1, mask), 2.0 * n * 4},
                    new Object[] {"gather_channels (50%)", (Runnable) () -> { try (Tensor t = Channels.gather(x, 1, idx)) { /* timed: the gather */ } }, 2.0 * n * 4 / 2},
                    new Object[] {"scatter_channels (50%)", (Runnable) () -> Channels.scatter(y, 1, idx, g), 2.0 * n * 4 / 2});
            for (Object[] k : kernels) {
                double[] t = sideBySide((Runnable) k[1], () -> y.copyFrom(x));
                double gbs = (double) k[2] / t[0] / 1e9, copy = copyBytes / t[1] / 1e9;
                report.row("mask", map("kernel", k[0], "gb_per_s", gbs, "copy_gb_per_s", copy, "ratio", gbs / copy));
            }
        }
    }

    /**
     * YOLOv5s inference as the Detector runs it on a GPU (batch norms folded, each activation in its
     * conv's epilogue: jp_conv2d_fwd_act) against the activations as separate kernels, side by side.
     */
    private void inference() throws java.io.IOException {
        int size = smoke ? 64 : 640;
        report.section("YOLOv5s inference: activations fused into the conv epilogue vs separate kernels (" + size + " x " + size + ", 80 classes)",
                "Forward pass to the raw head outputs on the host, batch norms folded in both; 'fused': each SiLU applied in the GEMM's store "
                        + "(one pass over the output fewer, one launch fewer per conv); ratio = separate / fused (above 1: fusing is faster).",
                "batch", "fused ms", "separate ms", "ratio");
        org.jprune.yolo.model.ModelConfig cfg = org.jprune.yolo.model.ModelConfig.load("yolov5s").withClasses(80);
        try (org.jprune.yolo.model.YoloModel fused = org.jprune.yolo.model.YoloModel.build(cfg, dev, 0);
             org.jprune.yolo.model.YoloModel separate = org.jprune.yolo.model.YoloModel.build(cfg, dev, 0)) {
            fused.graph().foldBatchNorms();
            fused.graph().fuseActivations();
            separate.graph().foldBatchNorms();
            for (int batch : smoke ? new int[] {2} : new int[] {1, 16}) {
                try (Tensor x = rand(batch, batch, 3, size, size)) {
                    double[] t = sideBySide(() -> fused.forwardRaw(x), () -> separate.forwardRaw(x));
                    report.row("infer_fusion", map("batch", batch, "fused_ms", t[0] * 1e3, "separate_ms", t[1] * 1e3, "ratio", t[1] / t[0]));
                }
            }
        }
    }

    private void yolo(boolean cudnn, boolean tf32) throws Exception {
        int size = smoke ? 64 : 640, batch = smoke ? 2 : 16;
        report.section("YOLOv5s training step (batch " + batch + ", " + size + " x " + size + ", 80 classes)",
                "Forward, loss, backward, SGD step, FP32; images per second (median step). Loss on the device (what training "
                        + "uses on a GPU: matching on the host, three floats back; images uploaded asynchronously through an InputStager) "
                        + "against the loss on the host (outputs down, gradients up, images uploaded synchronously), each with our convolutions and with cuDNN's (conv=cudnn: everything else is ours). "
                        + "PyTorch's number for the same step on this machine is in torch-step.json beside this file.",
                "model", "conv", "loss", "batch", "step ms", "img/s");
        org.jprune.yolo.model.ModelConfig cfg = org.jprune.yolo.model.ModelConfig.load("yolov5s").withClasses(80);
        try (org.jprune.yolo.model.YoloModel m = org.jprune.yolo.model.YoloModel.build(cfg, dev, 0)) {
            var b = BenchMain.randomBatch(batch, size, 80, 9);
            var hyp = org.jprune.yolo.loss.Hyp.SCRATCH_LOW.scaled(m.levels(), 80, size);
            var loss = new org.jprune.yolo.loss.YoloLoss(80, m.anchorsPx(), m.strides(), hyp);
            var sgd = new org.jprune.engine.optim.Sgd(m.graph().parameters(), 0.001, 0.937, 5e-4, true);
            stager = new org.jprune.engine.InputStager(dev);
            // in pairs timed side by side: the loss's placement with our kernels, then our double-buffered
            // conv kernel against cuDNN's convolutions (both with the loss on the device)
            // conv kernels by name: native (v4), native-db (v5, pipeline=1), native-async (v7, pipeline=2), native-tf32 (v6)
            String[][][] pairs = {{{"native", "device"}, {"native", "host"}}, {{"native-db", "device"}, cudnn ? new String[] {"cudnn", "device"} : null},
                {{"native-async", "device"}, tf32 ? new String[] {"native-tf32", "device"} : null}};
            for (String[][] pair : pairs) {
                double[] t = sideBySide(stepWith(m, loss, sgd, b, pair[0]), pair[1] == null ? null : stepWith(m, loss, sgd, b, pair[1]));
                for (int i = 0; i < 2; i++)
                    if (pair[i] != null)
                        report.row("yolo", map("model", "yolov5s", "conv", pair[i][0], "loss", pair[i][1], "batch", batch, "step_ms", t[i] * 1e3,
                                "img_per_s", batch / t[i]));
            }
            dev.setOption("conv", "native");
            dev.setOption("pipeline", "0");
            dev.setOption("tf32", "0");
            phases(m, loss, sgd, b);
        } finally {
            if (stager != null) stager.close();
            stager = null;
        }
    }

    /** The training step's image uploads with the loss on the device, as the Trainer does it (asynchronous on a GPU). */
    private org.jprune.engine.InputStager stager;

    /** One training step with conv = native | native-db | native-async | native-tf32 | cudnn and the loss on the device or the host. */
    private Runnable stepWith(org.jprune.yolo.model.YoloModel m, org.jprune.yolo.loss.YoloLoss loss, org.jprune.engine.optim.Sgd sgd,
                              org.jprune.yolo.data.Loader.Batch b, String[] convAndLoss) {
        return () -> {
            dev.setOption("conv", convAndLoss[0].equals("cudnn") ? "cudnn" : "native");
            dev.setOption("pipeline", convAndLoss[0].equals("native-db") ? "1" : convAndLoss[0].equals("native-async") ? "2" : "0");
            dev.setOption("tf32", convAndLoss[0].equals("native-tf32") ? "1" : "0");
            boolean deviceLoss = convAndLoss[1].equals("device");
            org.jprune.yolo.train.Trainer.step(m, loss, b, deviceLoss ? stager : null, deviceLoss, phase -> {});
            sgd.step();
            m.graph().zeroGrad();
        };
    }

    /**
     * Where one training step's time goes: Trainer.step's phases and the SGD step, each ended by a
     * device sync (so the sum exceeds the pipelined step a little), with the loss on the device and on
     * the host. Median of 5 steps per phase.
     */
    private void phases(org.jprune.yolo.model.YoloModel m, org.jprune.yolo.loss.YoloLoss loss, org.jprune.engine.optim.Sgd sgd,
                        org.jprune.yolo.data.Loader.Batch b) {
        int reps = smoke ? 1 : 5;
        report.section("Where a YOLOv5s training step's time goes (batch " + b.n() + ", " + b.size() + " x " + b.size() + ")",
                "The step above cut into phases, each ended by a device sync; median of " + reps + " steps per phase, "
                        + "with the loss on the device and on the host (where the head's outputs and gradients cross PCIe).",
                "loss", "phase", "ms", "share");
        for (boolean deviceLoss : new boolean[] {true, false}) {
            Map<String, double[]> t = new LinkedHashMap<>();
            for (int rep = 0; rep < reps; rep++) {
                long[] last = {System.nanoTime()};
                int r = rep;
                java.util.function.Consumer<String> mark = name -> {
                    dev.sync();
                    long now = System.nanoTime();
                    t.computeIfAbsent(name, k -> new double[reps])[r] = (now - last[0]) / 1e6;
                    last[0] = now;
                };
                org.jprune.yolo.train.Trainer.step(m, loss, b, deviceLoss ? stager : null, deviceLoss, mark);
                sgd.step();
                m.graph().zeroGrad();
                mark.accept("SGD step + zero grad");
            }
            double total = 0;
            Map<String, Double> med = new LinkedHashMap<>();
            for (var e : t.entrySet()) {
                double[] v = e.getValue().clone();
                java.util.Arrays.sort(v);
                med.put(e.getKey(), v[reps / 2]);
                total += v[reps / 2];
            }
            for (var e : med.entrySet())
                report.row("yolo_phase", map("loss", deviceLoss ? "device" : "host", "phase", e.getKey(), "ms", e.getValue(), "share", e.getValue() / total));
        }
    }
}
