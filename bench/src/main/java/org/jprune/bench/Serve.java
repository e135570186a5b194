package org.jprune.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.awt.image.BufferedImage;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.prune.ChannelPruner;
import org.jprune.engine.prune.Importance;
import org.jprune.yolo.eval.Postprocess;
import org.jprune.yolo.export.OnnxExport;
import org.jprune.yolo.infer.Detector;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;

/**
 * Inference as a server runs it (section {@code serve}): jprune against ONNX Runtime on the same
 * exported model, and one {@link Detector} shared by 1, 2, 4 and 8 request threads.
 */
final class Serve extends Section {
    private static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();

    Serve(Report report, Device cpu, boolean smoke) { super(report, cpu, smoke); }

    @Override
    void run() throws Exception {
        versusOnnxRuntime();
        requestThreads();
    }

    /** Median seconds per call of each runnable, taking turns over two rounds (the better round each). */
    private double[] sideBySide(int reps, double seconds, Runnable... rs) { return Timer.inTurns(2, 1, reps, seconds, rs); }

    /** The model with `kept` of every prunable layer's channels (magnitude, multiples of 8), compacted; kept 1: the dense one. */
    static YoloModel variant(ModelConfig cfg, Device cpu, double kept) {
        if (kept >= 1) return YoloModel.build(cfg, cpu, 0);
        try (YoloModel masked = YoloModel.build(cfg, cpu, 0)) {
            pruneUniform(masked, kept);
            return masked.compact();
        }
    }

    /** Masks m to `kept` of every prunable layer's channels (L2 magnitude, multiples of 8): the benchmarks' pruned networks. */
    static void pruneUniform(YoloModel m, double kept) {
        var p = new ChannelPruner(m.dependencyGraph(), new ChannelPruner.Options(false, 8));
        p.step(1 - kept, Importance.magnitude(2, Importance.Reduce.SUM));
        m.applyPlan(p.plan());
    }

    private void versusOnnxRuntime() throws Exception {
        int cores = Runtime.getRuntime().availableProcessors();
        int big = smoke ? 2 : 16;
        report.section("Inference: jprune vs ONNX Runtime on the same model (all cores)",
                "The model is exported by `jprune export` (opset 13, Detect decode inside, conv+BN not fused in the file: ONNX Runtime fuses "
                        + "them itself) and run by ONNX Runtime " + OrtEnvironment.getEnvironment().getVersion() + " (CPU execution provider, "
                        + cores + " intra-op threads, all graph optimizations). jprune runs the same weights: forward pass in eval mode plus the "
                        + "same decode into the (batch, boxes, 5 + classes) output (YoloModel.predict: jp_yolo_decode on the backend, one download), as "
                        + "the Detector runs it: batch norms folded into the convolutions, their weights packed once, each activation in its "
                        + "convolution's epilogue. Inputs are prepared beforehand for both. Compact: 50% of "
                        + "every prunable layer's channels removed by magnitude and the network compacted. Ratios are ONNX Runtime's time over "
                        + "ours (above 1: jprune is faster), measured side by side; 'fusion' is the time of the same model with the activations as "
                        + "separate ops over ours (above 1: fusing is faster), in the same rounds.",
                "model", "size", "variant", "params", "b1 jprune ms", "b1 ORT ms", "b1 ratio", "b1 fusion", "b" + big + " jprune img/s",
                "b" + big + " ORT img/s", "b" + big + " ratio", "b" + big + " fusion");
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setIntraOpNumThreads(cores);
            so.setInterOpNumThreads(1);
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            boolean first = true;
            for (String name : smoke ? new String[] {"yolov5n"} : new String[] {"yolov5n", "yolov5s"}) {
                ModelConfig cfg = ModelConfig.load(name).withClasses(80);
                for (int size : smoke ? new int[] {64} : new int[] {320, 640}) {
                    for (double kept : smoke ? new double[] {0.5} : new double[] {1.0, 0.5}) {
                        try (YoloModel m = variant(cfg, cpu, kept); YoloModel unfused = variant(cfg, cpu, kept);
                             OrtSession s = ENV.createSession(OnnxExport.toBytes(m, names(80), new OnnxExport.Options(size, 13, false)), so)) {
                            m.graph().foldBatchNorms(); // as the Detector runs it
                            m.graph().fuseActivations();
                            unfused.graph().foldBatchNorms(); // the alternative: activations as separate ops
                            // a fresh JVM's JIT threads hold the cores for the first seconds (the first row ran 1.5-2x
                            // slow in every run, its activation-fused twin not): the first model is timed twice
                            if (first && !smoke) time(m, unfused, s, size, 1);
                            first = false;
                            double[] t1 = time(m, unfused, s, size, 1), tb = time(m, unfused, s, size, big);
                            report.row("serve_ort", Report.map("model", name, "size", size, "variant", kept < 1 ? "compact 50%" : "dense",
                                    "params", m.parameterCount(), "b1_jprune_ms", t1[0] * 1e3, "b1_ort_ms", t1[2] * 1e3, "b1_ratio", t1[2] / t1[0],
                                    "b1_fusion", t1[1] / t1[0], "bN_jprune_img_s", big / tb[0], "bN_ort_img_s", big / tb[2], "bN_ratio", tb[2] / tb[0],
                                    "bN_fusion", tb[1] / tb[0]));
                        }
                    }
                }
            }
        }
    }

    /** Seconds per batch: {m (as the Detector runs it), unfused (activations as separate ops), ONNX Runtime}. */
    private double[] time(YoloModel m, YoloModel unfused, OrtSession s, int size, int batch) throws Exception {
        float[] x = new float[batch * 3 * size * size];
        SplittableRandom r = new SplittableRandom(batch);
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextDouble();
        try (Tensor t = Tensor.of(cpu, x, batch, 3, size, size);
             OnnxTensor in = OnnxTensor.createTensor(ENV, FloatBuffer.wrap(x), new long[] {batch, 3, size, size})) {
            Map<String, OnnxTensor> feed = Map.of("images", in);
            Runnable ours = () -> m.predict(t);
            Runnable withoutFusion = () -> unfused.predict(t);
            Runnable ort = () -> {
                try (OrtSession.Result res = s.run(feed)) {
                    if (((float[][][]) res.get(0).getValue()).length != batch) throw new IllegalStateException("ORT output batch");
                } catch (ai.onnxruntime.OrtException e) {
                    throw new IllegalStateException(e);
                }
            };
            int reps = smoke ? 1 : batch == 1 ? 10 : 3;
            double secs = smoke ? 0.01 : batch == 1 ? 1.0 : 2.0;
            return sideBySide(reps, secs, ours, withoutFusion, ort);
        }
    }

    static List<String> names(int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add("class" + i);
        return out;
    }

    /**
     * One Detector (YOLOv5n, compact 50%, 320 px) shared by request threads, each sending single images
     * back to back (letterbox, forward, decode, NMS: the whole detect call), against one thread
     * sending batches of 4.
     */
    private void requestThreads() throws Exception {
        int size = smoke ? 64 : 320, perThread = smoke ? 2 : 48;
        report.section("One Detector shared by request threads (YOLOv5n compact 50%, " + size + " px, all cores)",
                "Each request thread sends " + perThread + " single-image detect calls back to back (letterbox from a BufferedImage, "
                        + "forward, decode, NMS) after a warmup; the baseline is one thread sending batches of 4 images. Threads per call: "
                        + "the Detector's default (the cores divided among the calls in flight). Latency is per call.",
                "request threads", "images", "img/s", "p50 ms", "p99 ms", "img/s vs 1 thread x batch 4");
        BufferedImage[] imgs = new BufferedImage[8];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < imgs.length; i++) {
            imgs[i] = new BufferedImage(size + 40 * i, size, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < imgs[i].getHeight(); y++)
                for (int x = 0; x < imgs[i].getWidth(); x++) imgs[i].setRGB(x, y, r.nextInt(1 << 24));
        }
        try (Detector d = Detector.of(variant(ModelConfig.load("yolov5n").withClasses(80), cpu, 0.5), size, names(80))) {
            var settings = Postprocess.Settings.DETECT;
            for (int i = 0; i < 4; i++) d.detect(List.of(imgs[i % 8], imgs[(i + 1) % 8], imgs[(i + 2) % 8], imgs[(i + 3) % 8]), settings);
            // baseline: one thread, batches of 4
            int batches = Math.max(1, perThread / 4) * 2;
            long t0 = System.nanoTime();
            double[] lat = new double[batches];
            for (int i = 0; i < batches; i++) {
                long a = System.nanoTime();
                d.detect(List.of(imgs[i % 8], imgs[(i + 1) % 8], imgs[(i + 2) % 8], imgs[(i + 3) % 8]), settings);
                lat[i] = (System.nanoTime() - a) * 1e-9;
            }
            double baseline = 4.0 * batches / ((System.nanoTime() - t0) * 1e-9);
            Arrays.sort(lat);
            report.row("serve_threads", Report.map("threads", "1 x batch 4", "images", 4 * batches, "img_s", baseline, "p50_ms", lat[batches / 2] * 1e3,
                    "p99_ms", lat[Math.min(batches - 1, (int) (0.99 * batches))] * 1e3, "vs_baseline", 1.0));
            for (int threads : smoke ? new int[] {1, 2} : new int[] {1, 2, 4, 8}) {
                List<Double> all = Collections.synchronizedList(new ArrayList<>());
                AtomicInteger errors = new AtomicInteger();
                CountDownLatch start = new CountDownLatch(1);
                List<Thread> ts = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    Thread th = new Thread(() -> {
                        try {
                            d.detect(imgs[id % 8]); // warm this thread
                            start.await();
                            for (int i = 0; i < perThread; i++) {
                                long a = System.nanoTime();
                                d.detect(imgs[(id + i) % 8]);
                                all.add((System.nanoTime() - a) * 1e-9);
                            }
                        } catch (Exception e) {
                            errors.incrementAndGet();
                        }
                    }, "request-" + t);
                    th.start();
                    ts.add(th);
                }
                Thread.sleep(smoke ? 10 : 500);
                long a = System.nanoTime();
                start.countDown();
                for (Thread th : ts) th.join();
                double secs = (System.nanoTime() - a) * 1e-9;
                if (errors.get() > 0) throw new IllegalStateException(errors.get() + " request threads failed");
                double[] l = all.stream().mapToDouble(Double::doubleValue).sorted().toArray();
                double ips = l.length / secs;
                report.row("serve_threads", Report.map("threads", threads, "images", l.length, "img_s", ips, "p50_ms", l[l.length / 2] * 1e3,
                        "p99_ms", l[Math.min(l.length - 1, (int) (0.99 * l.length))] * 1e3, "vs_baseline", ips / baseline));
            }
        }
    }
}
