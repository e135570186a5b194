package org.jprune.yolo.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.prune.Schedule;
import org.jprune.yolo.data.Loader;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.model.YoloModel;

/**
 * A pruning study as the seed study reports it, on what a user deploys: train a baseline (or take a
 * trained one), prune it iteratively with {@link PruneRun} (fine-tuning after each step from the
 * previous step's weights), and print one row per step for the compact model written after it:
 * channels, parameters and FLOPs removed, mAP50, mAP50-95, parameters, GFLOPs, file size, CPU latency at
 * batch 1 and 16 measured side by side with the baseline in the same run (speed-up columns), the
 * fine-tuning images/s and the epochs spent. Writes OUT/study.md and OUT/study.csv; each step's compact
 * model is OUT/step-N/model.safetensors. Methods: {@code magnitude} (L2 norm of the producing conv
 * rows), {@code group-reg} ({@code regEpochs} with the {@link org.jprune.engine.prune.GroupRegularizer}
 * before each step, then the groups of smallest norm) and {@code slimming} (L1 on the batch-norm scales
 * for {@code regEpochs}, then the smallest |gamma|).
 */
public final class Study {
    /**
     * training: the baseline's training (model, data, image size, batch, seed, workers, hyperparameters,
     * optimizer, anchors, device; its output folder is the study's); fine-tuning takes the same settings
     * with {@code tuning}'s overrides. schedule: levels of its target (channels, parameters or FLOPs
     * removed), increasing, with each step's fine-tuning epochs. baseline: a checkpoint to start from
     * instead of training one (its row is evaluated on the validation split); null: train it.
     */
    public record Options(Trainer.Options training, Schedule schedule, PruneRun.Strategy strategy, PruneRun.Finetune finetune, PruneRun.Tuning tuning,
                          Path baseline) {
        public Options {
            Objects.requireNonNull(training, "training");
            Objects.requireNonNull(schedule, "schedule");
            Objects.requireNonNull(strategy, "strategy");
            Objects.requireNonNull(finetune, "fine-tuning mode");
            Objects.requireNonNull(tuning, "tuning");
        }

        /** Structured magnitude pruning ranked globally, the compact network fine-tuned as trained. */
        public static Options of(Trainer.Options training, Schedule schedule) {
            return new Options(training, schedule, PruneRun.Strategy.magnitude(true), PruneRun.Finetune.COMPACT, PruneRun.Tuning.NONE, null);
        }

        public Options withStrategy(PruneRun.Strategy s) { return new Options(training, schedule, s, finetune, tuning, baseline); }
        public Options withFinetune(PruneRun.Finetune f) { return new Options(training, schedule, strategy, f, tuning, baseline); }
        public Options withTuning(PruneRun.Tuning t) { return new Options(training, schedule, strategy, finetune, t, baseline); }
        public Options withBaseline(Path b) { return new Options(training, schedule, strategy, finetune, tuning, b); }

        Path out() { return training.out(); }
    }

    /** One row: the baseline (step 0) or a step's compact model. Latencies are medians in ms (batch 16: per batch). */
    public record Row(int step, double channels, double paramsRemoved, double flopsRemoved, double map50, double map5095, long params, double gflops,
                      long fileBytes, double latencyB1, double latencyB16, double finetuneImgPerSec, int epochs) {
        /** Kept for callers of the earlier study: the fraction of channels pruned. */
        public double level() { return channels; }
    }

    private final Options o;
    private final PrintStream log;
    private List<PruneRun.Step> lastSteps = List.of();

    public Study(Options o, PrintStream log) {
        this.o = o;
        this.log = log;
    }

    public List<Row> run() throws IOException {
        Trainer.Options t = o.training();
        Path baseDir = o.out().resolve("baseline");
        Path base;
        double[] baseMap = null; // a trained baseline's last epoch scored its EMA weights on the validation split already
        if (o.baseline() != null) {
            log.printf("== baseline: %s (given, not trained)%n", o.baseline());
            base = o.baseline();
        } else {
            log.printf("== baseline: %s, %d epochs, %s%s%n", t.model(), t.epochs(), t.optimizer(), t.hyp().diff().isEmpty() ? "" : ", hyp " + t.hyp().diff());
            long t0 = System.nanoTime();
            List<Trainer.EpochStats> st = new Trainer(t.toBuilder().out(baseDir).build(), log).run();
            double secs = (System.nanoTime() - t0) / 1e9;
            log.printf(Locale.ROOT, "== baseline trained in %d min %02d s (training and per-epoch validation): mAP50 %.3f, mAP50-95 %.3f%n",
                    (int) secs / 60, (int) secs % 60, st.get(st.size() - 1).map50(), st.get(st.size() - 1).map5095());
            base = baseDir.resolve("last.safetensors");
            baseMap = new double[] {st.get(st.size() - 1).map50(), st.get(st.size() - 1).map5095()};
        }
        // the baseline's row, its model file, and for a given baseline its score here (it may come from another data seed)
        Files.createDirectories(baseDir);
        Path baseModel = baseDir.resolve("model.safetensors");
        long baseParams;
        double baseGflops;
        Checkpoint bc = Checkpoint.read(base);
        int baseEpochs = o.baseline() == null ? t.epochs() : bc.metadata().containsKey("epoch") ? bc.intMeta("epoch") + 1 : 0;
        try (YoloModel m = bc.buildModel(t.device())) {
            if (baseMap == null) {
                YoloDataset.DataConfig dc = YoloDataset.readConfig(t.data());
                if (bc.classes() != dc.nc()) throw new IllegalArgumentException(base + " has " + bc.classes() + " classes, " + t.data() + " has " + dc.nc());
                try (Loader loader = new Loader(YoloDataset.load(dc, "val", false).samples(), t.batch(), t.imgSize(), Loader.Augment.NONE, t.seed(), t.workers())) {
                    var r = Trainer.evaluate(m, loader, dc.nc());
                    baseMap = new double[] {r.map50(), r.map5095()};
                }
                log.printf(Locale.ROOT, "== baseline: mAP50 %.3f, mAP50-95 %.3f%n", baseMap[0], baseMap[1]);
            }
            Checkpoint.writeModel(baseModel, m, bc.model(), bc.names(), t.imgSize(), Map.of());
            baseParams = m.parameterCount();
            baseGflops = m.gflops(t.imgSize());
        }

        List<PruneRun.Step> steps = new PruneRun(new PruneRun.Options(base, o.out(), o.schedule(), o.strategy(), o.finetune(), o.tuning().apply(t)), log).run();

        List<Path> files = new ArrayList<>(List.of(baseModel));
        steps.forEach(s -> files.add(s.model()));
        log.printf("== latency: %d models side by side, batch 1 and 16 at %d px, %s%n", files.size(), t.imgSize(), t.device().describe());
        double[][] lat = Latency.sideBySide(files, t.imgSize(), 16, t.device());
        List<Row> rows = new ArrayList<>();
        rows.add(new Row(0, 0, 0, 0, baseMap[0], baseMap[1], baseParams, baseGflops, Files.size(baseModel), lat[0][0], lat[0][1], Double.NaN, baseEpochs));
        for (int i = 0; i < steps.size(); i++) {
            PruneRun.Step s = steps.get(i);
            rows.add(new Row(s.index(), s.channels(), s.paramsRemoved(), s.flopsRemoved(), s.map50(), s.map5095(), s.params(), s.gflops(),
                    Files.size(s.model()), lat[i + 1][0], lat[i + 1][1], s.finetuneImgPerSec(), s.epochs()));
        }
        lastSteps = steps;
        write(rows);
        return rows;
    }

    private String methodLine() {
        PruneRun.Strategy st = o.strategy();
        String rank = st.global() ? "global" : "uniform";
        String how = switch (st.method()) {
            case GROUP_REG -> String.format(Locale.ROOT, "group-regularization pruning (%d regularized epoch(s) per step, lambda %g, alpha %g; group L2 norm, %s, round to %d)",
                    st.regEpochs(), st.reg(), st.regAlpha(), rank, st.roundTo());
            case SLIMMING -> String.format(Locale.ROOT, "BN-scale slimming (%d epoch(s) of L1 on BN gamma per step, lambda %g; |gamma|, %s, round to %d)",
                    st.regEpochs(), st.reg(), rank, st.roundTo());
            case UNSTRUCTURED -> String.format(Locale.ROOT, "unstructured magnitude pruning of the conv weights (%s, %s; stem and head kept; "
                    + "levels are the pruned fraction of those weights, parameters count the nonzeros; each conv runs CSR or dense at inference, whichever is faster)",
                    st.gradual() ? "gradual, GMP cubic ramp over the first half of each step's fine-tuning" : "one shot per step",
                    st.global() ? "global" : "per layer");
            case MAGNITUDE -> String.format(Locale.ROOT, "structured magnitude pruning (L2, %s, round to %d)", rank, st.roundTo());
        };
        if (st.method() == PruneRun.Method.UNSTRUCTURED) return how;
        return how + ", levels of " + o.schedule().target().label() + ", fine-tuning the " + (o.finetune() == PruneRun.Finetune.COMPACT ? "compact" : "masked (channel-sparse)")
                + " network" + (o.tuning().hyp().isEmpty() ? "" : " with " + String.join(",", o.tuning().hyp()))
                + (o.tuning().distill() > 0 ? String.format(Locale.ROOT, ", distilled from the unpruned model (weight %g)", o.tuning().distill()) : "");
    }

    private void write(List<Row> rows) throws IOException {
        StringBuilder md = new StringBuilder();
        Trainer.Options t = o.training();
        md.append(String.format(Locale.ROOT, "Pruning study: %s on %s, %dx%d, %s%n%n", t.model(), t.data(), t.imgSize(), t.imgSize(), methodLine()));
        md.append("| Step | Channels pruned | Params removed | FLOPs removed | mAP50 | mAP50-95 | Parameters | GFLOPs | File (MB) "
                + "| Latency b1 (ms) | Latency b16 (ms) | Speed-up b1 / b16 | Fine-tune img/s | Epochs |\n"
                + "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        StringBuilder csv = new StringBuilder("step,channels_pruned,params_removed,flops_removed,map50,map50_95,params,gflops,file_bytes,latency_b1_ms,"
                + "latency_b16_ms,speedup_b1,speedup_b16,finetune_img_per_s,epochs\n");
        Row b = rows.get(0);
        for (Row r : rows) {
            double s1 = b.latencyB1() / r.latencyB1(), s16 = b.latencyB16() / r.latencyB16();
            md.append(String.format(Locale.ROOT, "| %s | %.0f%% | %.0f%% | %.0f%% | %.3f | %.3f | %.2f M | %.3f | %.2f | %.1f | %.1f | %.2fx / %.2fx | %s | %d |%n",
                    r.step() == 0 ? "baseline" : String.valueOf(r.step()), r.channels() * 100, r.paramsRemoved() * 100, r.flopsRemoved() * 100, r.map50(),
                    r.map5095(), r.params() / 1e6, r.gflops(), r.fileBytes() / 1e6, r.latencyB1(), r.latencyB16(), s1, s16,
                    Double.isNaN(r.finetuneImgPerSec()) ? "-" : String.format(Locale.ROOT, "%.1f", r.finetuneImgPerSec()), r.epochs()));
            csv.append(String.format(Locale.ROOT, "%d,%.4f,%.4f,%.4f,%.5f,%.5f,%d,%.5f,%d,%.3f,%.3f,%.3f,%.3f,%.2f,%d%n", r.step(), r.channels(), r.paramsRemoved(),
                    r.flopsRemoved(), r.map50(), r.map5095(), r.params(), r.gflops(), r.fileBytes(), r.latencyB1(), r.latencyB16(), s1, s16,
                    r.finetuneImgPerSec(), r.epochs()));
        }
        for (PruneRun.Step s : lastSteps) {
            if (s.kernels().isEmpty()) continue;
            md.append(String.format(Locale.ROOT, "%nStep %d, per convolution (%d px): weight density, dense and CSR forward time at batch 1 and 16 "
                    + "(median of 5, ms), and the kernel the model runs:%n%n| layer | density | b1 dense / CSR | b1 CSR speed-up | b16 dense / CSR "
                    + "| b16 CSR speed-up | runs |%n|---|---|---|---|---|---|---|%n", s.index(), t.imgSize()));
            for (var k : s.kernels())
                md.append(Double.isNaN(k.csrMs())
                        ? String.format(Locale.ROOT, "| %s | %.0f%% | - | - | - | - | dense (not measured: denser than 60%%) |%n", k.layer(), k.density() * 100)
                        : String.format(Locale.ROOT, "| %s | %.0f%% | %.3f / %.3f | %.2fx | %.3f / %.3f | %.2fx | %s |%n", k.layer(), k.density() * 100, k.denseMs(),
                                k.csrMs(), k.denseMs() / k.csrMs(), k.denseMs16(), k.csrMs16(), k.denseMs16() / k.csrMs16(),
                                k.csrMaxBatch() == Integer.MAX_VALUE ? "CSR" : k.csr() ? "CSR up to batch " + k.csrMaxBatch() : "dense"));
        }
        md.append(String.format(Locale.ROOT, "%nLatency: median of the models' forward passes on %s (compact for structured pruning; weight-sparse ones run each conv CSR or dense as measured), measured in one run, the models taking "
                + "turns (baseline first), so the speed-ups are same-run ratios. Models: %s/baseline/model.safetensors and %s/step-N/model.safetensors.%n",
                t.device().describe(), o.out(), o.out()));
        Files.createDirectories(o.out());
        org.jprune.engine.io.SafeTensors.atomicWrite(o.out().resolve("study.md"), md.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        org.jprune.engine.io.SafeTensors.atomicWrite(o.out().resolve("study.csv"), csv.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        log.println();
        log.print(md);
    }

    /** Side-by-side latency of model files. */
    public static final class Latency {
        private Latency() {}

        /**
         * Median forward time (ms) of each model at batch 1 and at batch {@code batch}, the models taking
         * turns in every round so that machine noise spreads evenly over them: [model][0 = b1, 1 = bN].
         */
        public static double[][] sideBySide(List<Path> models, int img, int batch) throws IOException { return sideBySide(models, img, batch, Device.cpu()); }

        /** {@link #sideBySide(List, int, int)} on {@code device} (each forward pass ends with its outputs on the host). */
        public static double[][] sideBySide(List<Path> models, int img, int batch, Device device) throws IOException {
            List<YoloModel> ms = new ArrayList<>();
            try (Tensor x1 = Tensor.randn(device, 1, 1f, 1, 3, img, img); Tensor xb = Tensor.randn(device, 2, 1f, batch, 3, img, img)) {
                for (Path p : models) ms.add(Checkpoint.read(p).buildModel(device));
                int rounds1 = 15, roundsB = 5;
                double[][][] t = new double[ms.size()][2][];
                for (int i = 0; i < ms.size(); i++) { t[i][0] = new double[rounds1]; t[i][1] = new double[roundsB]; }
                for (YoloModel m : ms) { m.forwardRaw(x1); m.forwardRaw(xb); } // warm up scratch buffers and caches
                for (int r = 0; r < rounds1; r++)
                    for (int i = 0; i < ms.size(); i++) t[i][0][r] = time(ms.get(i), x1);
                for (int r = 0; r < roundsB; r++)
                    for (int i = 0; i < ms.size(); i++) t[i][1][r] = time(ms.get(i), xb);
                double[][] out = new double[ms.size()][2];
                for (int i = 0; i < ms.size(); i++) { out[i][0] = median(t[i][0]); out[i][1] = median(t[i][1]); }
                return out;
            } finally {
                ms.forEach(YoloModel::close);
            }
        }

        private static double time(YoloModel m, Tensor x) {
            long a = System.nanoTime();
            m.forwardRaw(x);
            return (System.nanoTime() - a) / 1e6;
        }

        static double median(double[] v) {
            double[] s = v.clone();
            Arrays.sort(s);
            return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }
    }
}
