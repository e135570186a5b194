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
import org.jprune.engine.prune.MagnitudePruner;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.model.YoloModel;

/**
 * A pruning study as the seed study reports it: train a baseline, then prune iteratively to each
 * level (structured magnitude pruning of channel groups, global ranking), fine-tuning after each step
 * from the previous step's weights, and print one row per level: pruned fraction of channels, mAP50,
 * mAP50-95, parameters and GFLOPs of the network with the pruned channels removed, dense inference
 * latency (batch 1, this machine), and the epochs spent. Writes OUT/study.md and OUT/study.csv.
 */
public final class Study {
    public record Options(String model, Path data, int imgSize, int batch, int nbs, int epochs, int finetuneEpochs, double[] levels,
                          boolean global, long seed, Path out, int workers, Hyp hyp, String optimizer, String anchors) {
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
        log.printf("== baseline: %s, %d epochs, %s%s%n", o.model(), o.epochs(), o.optimizer(), o.hyp().diff().isEmpty() ? "" : ", hyp " + o.hyp().diff());
        long t0 = System.nanoTime();
        List<Trainer.EpochStats> base = new Trainer(options(baseDir, o.epochs(), null, null), log).run();
        double secs = (System.nanoTime() - t0) / 1e9;
        log.printf(Locale.ROOT, "== baseline trained in %d min %02d s (training and per-epoch validation): mAP50 %.3f, mAP50-95 %.3f%n",
                (int) secs / 60, (int) secs % 60, base.get(base.size() - 1).map50(), base.get(base.size() - 1).map5095());
        rows.add(row(0, base, baseDir, null, o.epochs()));
        Path prev = baseDir.resolve("last.safetensors");
        for (double level : o.levels()) {
            Path dir = o.out().resolve(String.format(Locale.ROOT, "prune-%02d", Math.round(level * 100)));
            log.printf("== prune to %.0f%% of channels, fine-tune %d epochs%n", level * 100, o.finetuneEpochs());
            MagnitudePruner[] pruner = new MagnitudePruner[1];
            List<Trainer.EpochStats> st = new Trainer(options(dir, o.finetuneEpochs(), prev, m -> {
                pruner[0] = new MagnitudePruner(new DependencyGraph(m.graph(), 3), new MagnitudePruner.Options(2, o.global(), 8));
                pruner[0].step(level);
            }), log).run();
            rows.add(row(pruner[0].prunedFraction(), st, dir, pruner[0], o.finetuneEpochs()));
            prev = dir.resolve("last.safetensors");
        }
        write(rows);
        return rows;
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
        md.append(String.format(Locale.ROOT, "Pruning study: %s on %s, %dx%d, structured magnitude pruning (L2, %s, round to 8)%n%n", o.model(),
                o.data(), o.imgSize(), o.imgSize(), o.global() ? "global" : "uniform"));
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
