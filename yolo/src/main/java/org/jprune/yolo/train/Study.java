package org.jprune.yolo.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.prune.DependencyGraph;
import org.jprune.engine.prune.GroupRegularizer;
import org.jprune.engine.prune.MagnitudePruner;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.model.YoloModel;

/**
 * A pruning study as the seed study reports it: train a baseline (or take a trained one), then prune
 * iteratively to each level, fine-tuning after each step from the previous step's weights, and print
 * one row per level: pruned fraction of channels, mAP50, mAP50-95, parameters and GFLOPs of the
 * network with the pruned channels removed, dense inference latency (batch 1, this machine), and the
 * epochs spent. Writes OUT/study.md and OUT/study.csv. Two methods, both over the same channel groups
 * ({@link DependencyGraph}) and the same global ranking:
 * <ul>
 * <li>{@code magnitude}: structured magnitude pruning (L2 norm of the producing conv rows), then
 *     fine-tuning;</li>
 * <li>{@code group-reg}: group-regularization pruning: {@code regEpochs} of training with the
 *     {@link GroupRegularizer} (importance-adaptive group lasso, strength {@code reg}, adaptivity
 *     {@code regAlpha}) drive the weak groups towards 0, then the groups of smallest norm are pruned
 *     and the network fine-tuned as above.</li>
 * </ul>
 */
public final class Study {
    public static final List<String> METHODS = List.of("magnitude", "group-reg");

    /**
     * baseline: a checkpoint to start from instead of training one (its row is evaluated on the
     * validation split); null: train it.
     */
    public record Options(String model, Path data, int imgSize, int batch, int nbs, int epochs, int finetuneEpochs, double[] levels,
                          boolean global, long seed, Path out, int workers, Hyp hyp, String optimizer, String anchors,
                          String method, double reg, double regAlpha, int regEpochs, Path baseline) {
        public Options {
            if (!METHODS.contains(method)) throw new IllegalArgumentException("method must be one of " + METHODS + ", got " + method);
            if (method.equals("group-reg") && regEpochs < 1) throw new IllegalArgumentException("group-reg needs at least 1 regularized epoch, got " + regEpochs);
            if (!(reg >= 0) || Double.isInfinite(reg)) throw new IllegalArgumentException("reg must be finite and >= 0, got " + reg);
            if (!(regAlpha >= 1) || Double.isInfinite(regAlpha)) throw new IllegalArgumentException("reg alpha must be finite and >= 1, got " + regAlpha);
            for (double l : levels) if (!(l > 0 && l < 1)) throw new IllegalArgumentException("pruning levels must be in (0, 1), got " + l);
        }

        public Options(String model, Path data, int imgSize, int batch, int nbs, int epochs, int finetuneEpochs, double[] levels,
                       boolean global, long seed, Path out, int workers, Hyp hyp, String optimizer, String anchors) {
            this(model, data, imgSize, batch, nbs, epochs, finetuneEpochs, levels, global, seed, out, workers, hyp, optimizer, anchors,
                    "magnitude", 5e-4, 4, 1, null);
        }

        public Options(String model, Path data, int imgSize, int batch, int nbs, int epochs, int finetuneEpochs, double[] levels,
                       boolean global, long seed, Path out, int workers, Hyp hyp, String optimizer) {
            this(model, data, imgSize, batch, nbs, epochs, finetuneEpochs, levels, global, seed, out, workers, hyp, optimizer, "auto");
        }
    }

    public record Row(double level, double map50, double map5095, long params, double gflops, double latencyMs, int epochs) {}

    private final Options o;
    private final PrintStream log;

    public Study(Options o, PrintStream log) {
        this.o = o;
        this.log = log;
    }

    public List<Row> run() throws IOException {
        List<Row> rows = new ArrayList<>();
        Path baseDir = o.out().resolve("baseline");
        Path prev;
        if (o.baseline() != null) {
            log.printf("== baseline: %s (given, not trained)%n", o.baseline());
            Row r = evaluated(o.baseline());
            log.printf(Locale.ROOT, "== baseline: mAP50 %.3f, mAP50-95 %.3f%n", r.map50(), r.map5095());
            rows.add(r);
            prev = o.baseline();
        } else {
            log.printf("== baseline: %s, %d epochs, %s%s%n", o.model(), o.epochs(), o.optimizer(), o.hyp().diff().isEmpty() ? "" : ", hyp " + o.hyp().diff());
            long t0 = System.nanoTime();
            List<Trainer.EpochStats> base = new Trainer(options(baseDir, o.epochs(), null, null), log).run();
            double secs = (System.nanoTime() - t0) / 1e9;
            log.printf(Locale.ROOT, "== baseline trained in %d min %02d s (training and per-epoch validation): mAP50 %.3f, mAP50-95 %.3f%n",
                    (int) secs / 60, (int) secs % 60, base.get(base.size() - 1).map50(), base.get(base.size() - 1).map5095());
            rows.add(row(0, base, baseDir, null, o.epochs()));
            prev = baseDir.resolve("last.safetensors");
        }
        boolean groupReg = o.method().equals("group-reg");
        for (double level : o.levels()) {
            Path dir = o.out().resolve(String.format(Locale.ROOT, "prune-%02d", Math.round(level * 100)));
            int epochs = o.finetuneEpochs();
            if (groupReg) {
                // sparse training: the channels pruned so far stay at 0 (masked), the regularizer pushes the rest
                log.printf(Locale.ROOT, "== group regularization before pruning to %.0f%%: %d epochs, lambda %g, alpha %g%n", level * 100,
                        o.regEpochs(), o.reg(), o.regAlpha());
                Path sparse = dir.resolve("regularized");
                new Trainer(options(sparse, o.regEpochs(), prev, m -> {
                    DependencyGraph dg = new DependencyGraph(m.graph(), 3);
                    GroupRegularizer reg = new GroupRegularizer(dg, o.reg(), o.regAlpha());
                    new MagnitudePruner(dg, pruneOptions()).pruneZeroGroups(reg.groupNorms());
                    m.addBeforeOptimizerStep(reg::apply);
                }), log).run();
                prev = sparse.resolve("last.safetensors");
                epochs += o.regEpochs();
            }
            log.printf("== prune to %.0f%% of channels%s, fine-tune %d epochs%n", level * 100, groupReg ? " (smallest group norms)" : "", o.finetuneEpochs());
            MagnitudePruner[] pruner = new MagnitudePruner[1];
            List<Trainer.EpochStats> st = new Trainer(options(dir, o.finetuneEpochs(), prev, m -> {
                DependencyGraph dg = new DependencyGraph(m.graph(), 3);
                pruner[0] = new MagnitudePruner(dg, pruneOptions());
                double[] imp = groupReg ? new GroupRegularizer(dg, o.reg(), o.regAlpha()).groupNorms() : pruner[0].importance();
                pruner[0].pruneZeroGroups(imp); // the earlier steps' channels (0 in the weights) count as pruned, not as weak
                pruner[0].step(level, imp);
            }), log).run();
            rows.add(row(pruner[0].prunedFraction(), st, dir, pruner[0], epochs));
            prev = dir.resolve("last.safetensors");
        }
        write(rows);
        return rows;
    }

    private MagnitudePruner.Options pruneOptions() { return new MagnitudePruner.Options(2, o.global(), 8); }

    /** The given baseline's row: its EMA weights evaluated on the validation split; epochs as its checkpoint records them. */
    private Row evaluated(Path ckpt) throws IOException {
        Checkpoint c = Checkpoint.read(ckpt);
        var dc = org.jprune.yolo.data.YoloDataset.readConfig(o.data());
        if (c.classes() != dc.nc()) throw new IllegalArgumentException(ckpt + " has " + c.classes() + " classes, " + o.data() + " has " + dc.nc());
        var val = org.jprune.yolo.data.YoloDataset.load(dc, "val", false);
        try (YoloModel m = c.buildModel();
             var loader = new org.jprune.yolo.data.Loader(val.samples(), o.batch(), o.imgSize(), org.jprune.yolo.data.Loader.Augment.NONE, o.seed(), o.workers())) {
            var r = Trainer.evaluate(m, loader, dc.nc());
            String epoch = c.metadata().get("epoch");
            return new Row(0, r.map50(), r.map5095(), m.parameterCount(), m.gflops(o.imgSize()), latency(m), epoch == null ? 0 : Integer.parseInt(epoch) + 1);
        }
    }

    private Trainer.Options options(Path dir, int epochs, Path init, java.util.function.Consumer<YoloModel> prepare) {
        return new Trainer.Options(o.model(), o.data(), epochs, o.batch(), o.imgSize(), o.seed(), dir, o.workers(), true, false,
                o.hyp(), -1, o.nbs(), init, prepare, o.optimizer(), o.anchors());
    }

    private Row row(double level, List<Trainer.EpochStats> stats, Path dir, MagnitudePruner pruner, int epochs) throws IOException {
        Trainer.EpochStats last = stats.get(stats.size() - 1);
        try (YoloModel m = Checkpoint.read(dir.resolve("last.safetensors")).buildModel()) {
            long params = pruner == null ? m.parameterCount() : pruner.parameterCount();
            double gflops = pruner == null ? m.gflops(o.imgSize()) : pruner.gflops(m.graph().shapes(1, 3, o.imgSize(), o.imgSize()));
            double ms = latency(m);
            return new Row(level, last.map50(), last.map5095(), params, gflops, ms, epochs);
        }
    }

    /** Median batch-1 inference time of the dense (masked) network. */
    private double latency(YoloModel m) {
        try (Tensor x = Tensor.randn(Device.cpu(), 1, 1f, 1, 3, o.imgSize(), o.imgSize())) {
            double[] t = new double[15];
            for (int i = 0; i < t.length; i++) {
                long a = System.nanoTime();
                m.forwardRaw(x);
                t[i] = (System.nanoTime() - a) / 1e6;
            }
            java.util.Arrays.sort(t, 3, t.length);
            return t[3 + (t.length - 3) / 2];
        }
    }

    private void write(List<Row> rows) throws IOException {
        StringBuilder md = new StringBuilder();
        String method = o.method().equals("group-reg")
                ? String.format(Locale.ROOT, "group-regularization pruning (%d regularized epoch(s) per step, lambda %g, alpha %g; group L2 norm, %s, round to 8)",
                        o.regEpochs(), o.reg(), o.regAlpha(), o.global() ? "global" : "uniform")
                : String.format(Locale.ROOT, "structured magnitude pruning (L2, %s, round to 8)", o.global() ? "global" : "uniform");
        md.append(String.format(Locale.ROOT, "Pruning study: %s on %s, %dx%d, %s%n%n", o.model(), o.data(), o.imgSize(), o.imgSize(), method));
        md.append("| Pruning level | mAP50 | mAP50-95 | Parameters | GFLOPs | Latency (ms, batch 1, dense) | Epochs |\n|---|---|---|---|---|---|---|\n");
        StringBuilder csv = new StringBuilder("level,map50,map50_95,params,gflops,latency_ms,epochs\n");
        for (Row r : rows) {
            md.append(String.format(Locale.ROOT, "| %.0f%% | %.3f | %.3f | %.2f M | %.2f | %.1f | %d |%n", r.level() * 100, r.map50(), r.map5095(),
                    r.params() / 1e6, r.gflops(), r.latencyMs(), r.epochs()));
            csv.append(String.format(Locale.ROOT, "%.4f,%.5f,%.5f,%d,%.4f,%.3f,%d%n", r.level(), r.map50(), r.map5095(), r.params(), r.gflops(),
                    r.latencyMs(), r.epochs()));
        }
        Files.createDirectories(o.out());
        Files.writeString(o.out().resolve("study.md"), md.toString());
        Files.writeString(o.out().resolve("study.csv"), csv.toString());
        log.println();
        log.print(md);
    }
}
