package org.jprune.bench;

import java.io.IOException;
import java.lang.ProcessBuilder.Redirect;
import org.jprune.engine.CpuThreads;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;

/**
 * The CPU backend when it does not have the machine to itself (section {@code contention}): the
 * YOLOv5n training step (batch 16) and inference (batch 1 and 16) measured alone, then with a
 * CPU-bound competitor process ({@code yes > /dev/null}, one core's worth of work, not pinned) started
 * by the benchmark, then alone again; the ratios are contended / alone. On a machine with c cores the
 * fair share under one competitor is (c - 1) / c of the speed (0.5x on two cores).
 */
final class Contention extends Section {
    Contention(Report report, Device cpu, boolean smoke) { super(report, cpu, smoke); }

    private static double[] samples(Runnable r, int minReps, double minSeconds) { return Timer.samples(r, 1, minReps, minSeconds); }

    private static double pct(double[] sorted, double p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(p * sorted.length))];
    }

    /** One core's worth of CPU-bound work in another process, as an operator's neighbour would be. */
    static Process competitor() throws IOException {
        return new ProcessBuilder("yes").redirectOutput(Redirect.DISCARD).redirectError(Redirect.DISCARD).start();
    }

    @Override
    void run() throws Exception {
        int cores = Runtime.getRuntime().availableProcessors();
        report.section("YOLOv5n under contention: alone and beside a CPU-bound process (all cores)",
                "Each case is measured with teams of fixed size (OpenMP's own behaviour, `JPRUNE_ADAPTIVE_THREADS=0`) and with the "
                        + "adaptive thread limit (native/cpu/team.c, the default), alone, with `yes > /dev/null` running (started by the benchmark, "
                        + "not pinned: one of the " + cores + " cores' worth of work), then alone again (the better alone figure is the baseline); "
                        + "ratios are contended / alone, and for latency the rise. "
                        + "Training: forward, loss, backward and SGD step at batch 16, img/s. Inference: eval-mode forward (raw Detect maps), "
                        + "img/s at batch 16, median and p99 latency at batch 1. Fair share beside one competitor: "
                        + String.format(java.util.Locale.ROOT, "%.2fx", (cores - 1) / (double) cores) + " of the speed.",
                "image size", "measure", "fixed: alone", "fixed: contended", "fixed: ratio", "adaptive: alone", "adaptive: contended",
                "adaptive: ratio", "adaptive / fixed, alone");
        ModelConfig cfg = ModelConfig.load("yolov5n").withClasses(80);
        double secs = smoke ? 0.01 : 2.0;
        int reps = smoke ? 1 : 5;
        for (int size : smoke ? new int[] {64} : new int[] {256, 320, 640}) {
            try (YoloModel m = YoloModel.build(cfg, cpu, 0);
                 Tensor x1 = Tensor.randn(cpu, 5, 0.5f, 1, 3, size, size);
                 Tensor x16 = Tensor.randn(cpu, 6, 0.5f, smoke ? 2 : 16, 3, size, size)) {
                int batch = smoke ? 2 : 16;
                Runnable train = BenchMain.trainStep(m, BenchMain.randomBatch(batch, size, 80, 9), size);
                Runnable infer16 = () -> m.forwardRaw(x16);
                Runnable infer1 = () -> m.forwardRaw(x1);
                Runnable[] work = {train, infer16, infer1};
                int[] minReps = {reps, reps, reps * 4};
                // [mode: 0 fixed teams, 1 adaptive][phase: 0 alone, 1 contended][measure] -> sorted seconds
                double[][][][] t = new double[2][2][3][];
                for (int phase : new int[] {0, 1, 0}) {
                    Process p = phase == 1 ? competitor() : null;
                    try {
                        if (p != null) Thread.sleep(200);
                        for (int mode = 0; mode < 2; mode++) {
                            CpuThreads.setAdaptive(mode == 1);
                            CpuThreads.Stats before = CpuThreads.stats();
                            for (int i = 0; i < 3; i++) {
                                double[] s = samples(work[i], minReps[i], secs);
                                if (t[mode][phase][i] == null || pct(s, 0.5) < pct(t[mode][phase][i], 0.5)) t[mode][phase][i] = s;
                            }
                            CpuThreads.Stats after = CpuThreads.stats();
                            System.out.printf("%d px, %s, %s: %d late starts, %d drops, %d rises%n", size, mode == 1 ? "adaptive" : "fixed",
                                    phase == 1 ? "contended" : "alone", after.lateStarts() - before.lateStarts(), after.drops() - before.drops(),
                                    after.rises() - before.rises());
                        }
                    } finally {
                        CpuThreads.setAdaptive(true);
                        if (p != null) {
                            p.destroy();
                            p.waitFor();
                        }
                    }
                }
                String[] what = {"training img/s (b" + batch + ")", "inference img/s (b" + batch + ")", "b1 latency p50 ms", "b1 latency p99 ms"};
                for (int i = 0; i < 4; i++) {
                    double[] v = new double[4]; // fixed alone, fixed contended, adaptive alone, adaptive contended
                    for (int k = 0; k < 4; k++) {
                        double[] s = t[k / 2][k % 2][Math.min(i, 2)];
                        v[k] = i < 2 ? batch / pct(s, 0.5) : pct(s, i == 2 ? 0.5 : 0.99) * 1e3;
                    }
                    report.row("contention", Report.map("size", size, "measure", what[i], "fixed_alone", v[0], "fixed_contended", v[1],
                            "fixed_ratio", v[1] / v[0], "adaptive_alone", v[2], "adaptive_contended", v[3], "adaptive_ratio", v[3] / v[2],
                            "adaptive_vs_fixed_alone", v[2] / v[0]));
                }
            }
        }
    }

}
