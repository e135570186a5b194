package org.jprune.yolo.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jprune.engine.io.SafeTensors;
import org.jprune.engine.prune.Schedule;
import org.jprune.yolo.data.Loader;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.report.Plots;

/**
 * The seed study ({@code ../shared/seed}) as one command, {@code jprune study --preset seed}: the same
 * experiments on the built-in benchmarks, levels given as parameters removed like the seed's tables.
 * <ol type="a">
 * <li>one-shot structured magnitude pruning to 25% and to 50% of the parameters (fine-tuned 2 and 3 epochs, as the seed);</li>
 * <li>iterative magnitude pruning in 6 steps to the seed's sizes (7.07 M to 5.53 / 4.46 / 3.50 / 2.68 / 2.04 / 1.57 M,
 *     i.e. 22% ... 78% removed), fine-tuning 3, 4, 5, 6, 7, 8 epochs;</li>
 * <li>the same with group-regularization pruning (one regularized epoch before each step, counted);</li>
 * <li>the same with BN-scale slimming;</li>
 * <li>automatic mode towards the last level with an allowed mAP50 drop of 0.02, given the epochs of (b) in all: steps
 *     of 25% (halved on a back-off), 3 fine-tuning epochs per try at lr0 0.002 and 3 more for a try under the floor;</li>
 * <li>Tiny YOLO (yolov4-tiny and yolov3-tiny) on the face benchmark, pruned by 36% of parameters in two steps (the
 *     seed's 4.70 M to 3.00 M on WIDER Face).</li>
 * </ol>
 * (a)-(e) prune one YOLOv5n baseline trained on the shapes benchmark (or {@code --baseline}). Every step's compact
 * model is timed side by side with its baseline at batch 1 and 16. Writes OUT/study-seed.md, .csv and .png (mAP50
 * against parameters removed, one line per method, the seed's own points as reference series).
 *
 * <p>Epochs: the seed's counts, or with a time budget all fine-tuning epochs scaled by one factor so the whole run
 * fits it (estimated from the baselines' measured epoch times; at least one epoch per step; the factor is stated).
 * {@code quick} is the same study on smaller datasets and a 17-minute budget.
 */
public final class SeedStudy {
    /** A point of the seed's tables: model parameters (M) and mAP50. */
    public record SeedPoint(double paramsM, double map50) {}

    /** A series of the seed's tables, with the source it comes from; x is measured against its first point. */
    public record SeedSeries(String label, List<SeedPoint> points) {}

    private static final String SOURCE = "../shared/seed";
    /** The seed's iterative schedule: parameters after each of its 6 steps (YOLOv5s, 7.07 M) and epochs. */
    static final double SEED_BASE = 7.07;
    static final double[] SEED_STEPS = {5.53, 4.46, 3.50, 2.68, 2.04, 1.57};
    static final int[] SEED_EPOCHS = {3, 4, 5, 6, 7, 8};
    /** The seed's Tiny YOLO on WIDER Face: 4.70 M -> 3.00 M. */
    static final double TINY_LEVEL = 1 - 3.00 / 4.70;

    public static final List<SeedSeries> SEED = List.of(
            new SeedSeries("seed: YOLOv5s on VOC, magnitude one-shot", List.of(new SeedPoint(7.07, 0.74), new SeedPoint(5.30, 0.664), new SeedPoint(2.47, 0.30))),
            new SeedSeries("seed: YOLOv5s on VOC, magnitude 6 steps", List.of(new SeedPoint(7.07, 0.792), new SeedPoint(5.53, 0.79), new SeedPoint(4.46, 0.71),
                    new SeedPoint(3.50, 0.66), new SeedPoint(2.68, 0.47), new SeedPoint(2.04, 0.25), new SeedPoint(1.57, 0.08))),
            new SeedSeries("seed: YOLOv5s on VOC, group-reg 6 steps", List.of(new SeedPoint(7.07, 0.792), new SeedPoint(4.20, 0.76), new SeedPoint(4.46, 0.72),
                    new SeedPoint(3.0, 0.65), new SeedPoint(2.05, 0.38), new SeedPoint(1.27, 0.12), new SeedPoint(0.70, 0.08))),
            new SeedSeries("seed: Tiny YOLO on WIDER Face", List.of(new SeedPoint(4.70, 0.123), new SeedPoint(3.00, 0.10))));

    /** The training recipe of the main command (scripts/run.sh): AdamW, short schedule, fitted anchors. */
    static final List<String> HYP = List.of("lr0=0.003", "box=0.4", "cls=4.0", "obj=4.0", "warmup_epochs=1", "mosaic=0", "scale=0.25");
    /**
     * Fine-tuning at lr0 0.002 (the main command's since 2026-12-02): with three epochs per step, 0.002 recovered
     * more than 0.001 at every level (bench/results/finetune-recipe-2026-12-02-2.md); with two epochs at 50%, 0.001
     * had been the best (0.887, against 0.879 at 0.003).
     */
    static final PruneRun.Tuning FINETUNE = new PruneRun.Tuning(List.of("lr0=0.002"), 0);
    /** The rate automatic mode fine-tunes with after every step (one rate, more epochs: auto-prune-2026-12-02-2.md). */
    static final double[] AUTO_LRS = {0.002};

    /** Automatic mode's fine-tuning epochs per try (and per retry) within its budget: 3, fewer when the budget is tiny. */
    static int autoEpochsPerTry(int budget) { return Math.max(1, Math.min(3, budget / 4)); }

    /**
     * data / baseline: the shapes dataset and a trained YOLOv5n on it to use instead of generating and
     * training them (both or neither); budgetMinutes: NaN for the seed's epochs (the quick form: 17).
     */
    public record Options(Path out, boolean quick, double budgetMinutes, Path data, Path baseline, long seed, int workers, java.util.Set<String> only,
                          Sizes sizes) {
        public static final List<String> SECTIONS = List.of("a", "b", "c", "d", "e", "f");

        public Options(Path out, boolean quick, double budgetMinutes, Path data, Path baseline, long seed, int workers, java.util.Set<String> only) {
            this(out, quick, budgetMinutes, data, baseline, seed, workers, only, Sizes.of(quick));
        }

        public Options {
            if (sizes == null) sizes = Sizes.of(quick);
            if (only == null || only.isEmpty()) only = java.util.Set.copyOf(SECTIONS);
            for (String k : only)
                if (!SECTIONS.contains(k)) throw new IllegalArgumentException("--sections takes letters of " + SECTIONS + ", got '" + k + "'");
            only = java.util.Set.copyOf(only);
            if (!Double.isNaN(budgetMinutes) && !(budgetMinutes > 0 && budgetMinutes <= 100_000))
                throw new IllegalArgumentException("--budget must be in (0, 100000] minutes, got " + budgetMinutes);
            if ((data == null) != (baseline == null)) throw new IllegalArgumentException("--preset seed takes --data and --baseline together (a trained "
                    + "baseline and its dataset) or neither (both made here)");
            if (workers < 1) throw new IllegalArgumentException("--workers must be >= 1, got " + workers);
        }

        double budget() { return Double.isNaN(budgetMinutes) && quick ? 17 : budgetMinutes; }
    }

    /** The sizes a form runs at: datasets (images), image side and baseline epochs, per benchmark. */
    public record Sizes(int train, int val, int img, int epochs, int faceTrain, int faceVal, int faceImg, int faceEpochs) {
        public static Sizes of(boolean quick) {
            return quick ? new Sizes(1000, 150, 160, 8, 400, 100, 160, 6) : new Sizes(4000, 300, 160, 12, 1500, 300, 160, 12);
        }
    }

    /** One experiment: a method on a baseline, its levels (parameters removed) and the seed's epochs per step. */
    record Section(String key, String label, String family, String method, double[] levels, int[] epochs, boolean auto) {}

    /** A row of the combined table. */
    public record Row(String section, String method, String model, int step, double channels, double paramsRemoved, double map50, double map5095,
                      long params, double gflops, double latencyB1, double latencyB16, double speedupB1, double speedupB16, int epochs, String note) {}

    private record Baseline(String family, String model, Path data, Path weights, int img, double map50, double map5095, long params, double gflops,
                            double secondsPerEpoch, int epochs, Path modelFile) {}

    private final Options o;
    private final PrintStream log;

    public SeedStudy(Options o, PrintStream log) {
        this.o = o;
        this.log = log;
    }

    static List<Section> sections() {
        double[] seedLevels = new double[SEED_STEPS.length];
        for (int i = 0; i < seedLevels.length; i++) seedLevels[i] = 1 - SEED_STEPS[i] / SEED_BASE;
        return List.of(
                new Section("a-25", "(a) magnitude, one shot", "shapes", "magnitude", new double[] {0.25}, new int[] {2}, false),
                new Section("a-50", "(a) magnitude, one shot", "shapes", "magnitude", new double[] {0.50}, new int[] {3}, false),
                new Section("b", "(b) magnitude, 6 steps", "shapes", "magnitude", seedLevels, SEED_EPOCHS, false),
                new Section("c", "(c) group-reg, 6 steps", "shapes", "group-reg", seedLevels, SEED_EPOCHS, false),
                new Section("d", "(d) BN slimming, 6 steps", "shapes", "slimming", seedLevels, SEED_EPOCHS, false),
                new Section("e", "(e) automatic, drop <= 0.02", "shapes", "magnitude", new double[] {seedLevels[seedLevels.length - 1]},
                        new int[] {java.util.Arrays.stream(SEED_EPOCHS).sum()}, true),
                new Section("f-v4", "(f) yolov4-tiny, faces", "faces-yolov4-tiny", "magnitude", new double[] {TINY_LEVEL / 2, TINY_LEVEL}, new int[] {3, 3},
                        false),
                new Section("f-v3", "(f) yolov3-tiny, faces", "faces-yolov3-tiny", "magnitude", new double[] {TINY_LEVEL / 2, TINY_LEVEL}, new int[] {3, 3},
                        false));
    }

    public List<Row> run() throws IOException {
        long t0 = System.nanoTime();
        Sizes sz = o.sizes();
        Files.createDirectories(o.out());
        log.printf(Locale.ROOT, "== seed study%s: %s%n", o.quick() ? " (quick)" : "", Double.isNaN(o.budget()) ? "the seed's fine-tuning epochs"
                : String.format(Locale.ROOT, "a budget of %.0f minutes", o.budget()));
        List<Section> sections = sections().stream().filter(s -> o.only().contains(s.key().substring(0, 1))).toList();
        Map<String, Baseline> bases = new LinkedHashMap<>();
        if (sections.stream().anyMatch(s -> s.family().equals("shapes")))
            bases.put("shapes", o.baseline() != null ? given(o.data(), o.baseline())
                    : train("shapes", "yolov5n", dataset(SynthDataset.Kind.SHAPES, sz.train(), sz.val(), sz.img()), sz.img(), sz.epochs()));
        if (o.only().contains("f")) {
            Path faces = dataset(SynthDataset.Kind.FACES, sz.faceTrain(), sz.faceVal(), sz.faceImg());
            for (String m : List.of("yolov4-tiny", "yolov3-tiny")) bases.put("faces-" + m, train("faces-" + m, m, faces, sz.faceImg(), sz.faceEpochs()));
        }

        double scale = scale(sections, bases, (System.nanoTime() - t0) / 60e9);
        List<Row> rows = new ArrayList<>();
        Map<String, List<Path>> files = new LinkedHashMap<>();
        Map<String, List<Integer>> rowOf = new LinkedHashMap<>();
        for (Baseline b : bases.values()) {
            files.computeIfAbsent(b.family(), k -> new ArrayList<>()).add(b.modelFile());
            rowOf.computeIfAbsent(b.family(), k -> new ArrayList<>()).add(rows.size());
            rows.add(new Row(b.family().equals("shapes") ? "baseline" : "baseline, faces", "-", b.model(), 0, 0, 0, b.map50(), b.map5095(), b.params(),
                    b.gflops(), Double.NaN, Double.NaN, 1, 1, b.epochs(), b.family().equals("shapes") ? "shapes benchmark" : "face benchmark"));
        }
        for (Section s : sections) {
            Baseline b = bases.get(s.family());
            int[] epochs = scaled(s.epochs(), scale);
            PruneRun.Strategy strategy = PruneRun.Strategy.named(s.method(), true, s.method().equals("slimming") ? 1e-4 : 5e-4, 4, 1);
            Path dir = o.out().resolve(s.key());
            PruneRun.Train train = FINETUNE.apply(training(b.model(), b.data(), b.img(), dir).build());
            log.printf(Locale.ROOT, "== %s: %s%n", s.label(), s.auto() ? "budget " + epochs[0] + " epochs" : "levels " + levels(s.levels()) + ", epochs "
                    + java.util.Arrays.toString(epochs));
            if (s.auto()) {
                int perTry = autoEpochsPerTry(epochs[0]);
                double[] lrs = AUTO_LRS;
                AutoPrune.Search search = new AutoPrune.Search(Schedule.Target.PARAMS, s.levels()[0], 0.25, 0.05, 0.02, Double.NaN, lrs, perTry,
                        Math.max(epochs[0], perTry * lrs.length), perTry);
                AutoPrune.Result r = new AutoPrune(new AutoPrune.Options(b.weights(), dir, search, strategy, PruneRun.Finetune.COMPACT, train), log).run();
                int step = 0, spent = 0, triesSince = 0, backoffsSince = 0;
                for (int round = 1; round <= r.tries().stream().mapToInt(AutoPrune.Try::round).max().orElse(0); round++) {
                    final int rd = round;
                    List<AutoPrune.Try> ts = r.tries().stream().filter(t -> t.round() == rd).toList();
                    spent += ts.stream().mapToInt(t -> t.step().epochs()).sum();
                    triesSince += ts.size();
                    AutoPrune.Try kept = ts.stream().filter(AutoPrune.Try::kept).findFirst().orElse(null);
                    if (kept == null) {
                        backoffsSince++;
                        continue;
                    }
                    PruneRun.Step ps = kept.step();
                    files.get(s.family()).add(ps.model());
                    rowOf.get(s.family()).add(rows.size());
                    rows.add(new Row(s.label(), s.method(), b.model(), ++step, ps.channels(), ps.paramsRemoved(), ps.map50(), ps.map5095(), ps.params(),
                            ps.gflops(), Double.NaN, Double.NaN, Double.NaN, Double.NaN, spent, String.format(Locale.ROOT, "round %d: lr0 %s kept of %d tries "
                                    + "since the last kept step, %d back-off(s)", rd, kept.lr(), triesSince, backoffsSince)));
                    triesSince = 0;
                    backoffsSince = 0;
                }
                log.printf(Locale.ROOT, "== %s: reached %.1f%% of parameters with %d back-off(s), %d epochs%n", s.label(), r.reached() * 100, r.backoffs(),
                        r.epochs());
                continue;
            }
            List<PruneRun.Step> steps = new PruneRun(new PruneRun.Options(b.weights(), dir, new Schedule(Schedule.Target.PARAMS, s.levels(), epochs),
                    strategy, PruneRun.Finetune.COMPACT, train), log).run();
            int spent = 0;
            for (PruneRun.Step ps : steps) {
                spent += ps.epochs();
                files.get(s.family()).add(ps.model());
                rowOf.get(s.family()).add(rows.size());
                rows.add(new Row(s.label(), s.method(), b.model(), ps.index(), ps.channels(), ps.paramsRemoved(), ps.map50(), ps.map5095(), ps.params(),
                        ps.gflops(), Double.NaN, Double.NaN, Double.NaN, Double.NaN, spent, s.levels().length == 1
                                ? String.format(Locale.ROOT, "one shot from the baseline to %.0f%%", s.levels()[0] * 100) : ""));
            }
        }
        // latency: each benchmark's models side by side with their baseline (first), compact models
        for (var e : files.entrySet()) {
            Baseline b = bases.get(e.getKey());
            log.printf("== latency (%s): %d models side by side, batch 1 and 16 at %d px%n", e.getKey(), e.getValue().size(), b.img());
            double[][] lat = Study.Latency.sideBySide(e.getValue(), b.img(), 16);
            List<Integer> idx = rowOf.get(e.getKey());
            for (int i = 0; i < idx.size(); i++) {
                Row r = rows.get(idx.get(i));
                rows.set(idx.get(i), new Row(r.section(), r.method(), r.model(), r.step(), r.channels(), r.paramsRemoved(), r.map50(), r.map5095(), r.params(),
                        r.gflops(), lat[i][0], lat[i][1], lat[0][0] / lat[i][0], lat[0][1] / lat[i][1], r.epochs(), r.note()));
            }
        }
        write(rows, bases, scale, sz, (System.nanoTime() - t0) / 60e9);
        return rows;
    }

    /**
     * The factor every fine-tuning epoch count is scaled by so the run fits the budget: 1 without one, else
     * the largest factor whose estimated cost fits what is left of it. The estimate, per training run (a
     * fine-tuning or regularized run of a step): its epochs times the baseline's measured epoch time
     * (training and validation) times the fraction of parameters left, but at least half of it (small
     * models are bound by data loading and per-op costs, not FLOPs), plus a fixed cost of 5 s and a
     * quarter epoch (loading the data and the model, pruning, compaction, checkpoints); measured against
     * the quick form's run on 2 cores to within 10%.
     */
    private double scale(List<Section> sections, Map<String, Baseline> bases, double elapsedMinutes) {
        if (Double.isNaN(o.budget())) return 1;
        double left = o.budget() - elapsedMinutes - 0.5; // the latency measurement at the end
        java.util.function.DoubleUnaryOperator cost = f -> {
            double s = 0;
            for (Section sec : sections) {
                double epochSec = bases.get(sec.family()).secondsPerEpoch(), perRun = 5 + 0.25 * epochSec;
                int[] e = scaled(sec.epochs(), f);
                if (sec.auto()) {
                    int perTry = autoEpochsPerTry(e[0]), budget = Math.max(e[0], perTry);
                    s += budget * epochSec * 0.75 + (double) budget / perTry * perRun;
                    continue;
                }
                boolean reg = sec.method().equals("group-reg") || sec.method().equals("slimming");
                for (int i = 0; i < e.length; i++)
                    s += (e[i] + (reg ? 1 : 0)) * epochSec * Math.max(0.5, 1 - sec.levels()[i]) + (reg ? 2 : 1) * perRun;
            }
            return s / 60;
        };
        double planned = cost.applyAsDouble(1), f;
        if (planned <= left) f = 1;
        else {
            double lo = 0, hi = 1;
            for (int it = 0; it < 30; it++) {
                double mid = (lo + hi) / 2;
                if (cost.applyAsDouble(mid) <= left) lo = mid;
                else hi = mid;
            }
            f = lo;
        }
        log.printf(Locale.ROOT, "== budget: %.1f of %.0f minutes spent on data and baselines; the seed's epochs would take about %.0f minutes here: %s%n",
                elapsedMinutes, o.budget(), planned, f >= 1 ? "they fit" : String.format(Locale.ROOT, "scaled by %.2f (at least 1 per step), about %.0f "
                        + "minutes%s", f, cost.applyAsDouble(f), cost.applyAsDouble(f) > left + 0.01 ? ": over the budget even so" : ""));
        return f;
    }

    static int[] scaled(int[] epochs, double f) {
        int[] e = new int[epochs.length];
        for (int i = 0; i < e.length; i++) e[i] = Math.max(1, (int) Math.round(epochs[i] * f));
        return e;
    }

    private static String levels(double[] l) {
        StringBuilder sb = new StringBuilder();
        for (double v : l) sb.append(sb.isEmpty() ? "" : ", ").append(String.format(Locale.ROOT, "%.1f%%", v * 100));
        return sb.toString();
    }

    /** The benchmark dataset under OUT/data, named by its sizes; written only if absent (data.yaml is written last). */
    private Path dataset(SynthDataset.Kind kind, int train, int val, int img) throws IOException {
        Path dir = o.out().resolve("data").resolve(String.format(Locale.ROOT, "%s-%d-%d-%dpx-seed%d", kind.name().toLowerCase(Locale.ROOT), train, val, img, o.seed()));
        Path yaml = dir.resolve("data.yaml");
        if (Files.isRegularFile(yaml)) {
            log.printf("== data: %s (made earlier)%n", yaml);
            return yaml;
        }
        long t = System.nanoTime();
        SynthDataset.write(dir, new SynthDataset.Spec(train, val, img, o.seed(), SynthDataset.Difficulty.HARD, kind));
        log.printf(Locale.ROOT, "== data: %d + %d %s images at %d px in %.0f s: %s%n", train, val, kind.name().toLowerCase(Locale.ROOT), img,
                (System.nanoTime() - t) / 1e9, yaml);
        return yaml;
    }

    /** The study's training settings (baselines and fine-tuning): batch 16 = nominal batch, AdamW, the study's hyperparameters. */
    private Trainer.Options.Builder training(String model, Path data, int img, Path dir) {
        return Trainer.Options.builder(model, data, dir).batch(16).nbs(16).imgSize(img).seed(o.seed()).workers(o.workers()).hyp(Hyp.SCRATCH_LOW.with(HYP))
                .optimizer(OptimizerKind.ADAMW);
    }

    private Baseline train(String family, String model, Path data, int img, int epochs) throws IOException {
        Path dir = o.out().resolve(family).resolve("baseline");
        log.printf("== baseline (%s): %s, %d epochs at %d px%n", family, model, epochs, img);
        List<Trainer.EpochStats> st = new Trainer(training(model, data, img, dir).epochs(epochs).anchors(AnchorMode.EVOLVE).build(), log).run();
        Trainer.EpochStats last = st.get(st.size() - 1);
        double secs = st.stream().mapToDouble(Trainer.EpochStats::seconds).average().orElseThrow();
        Path weights = dir.resolve("last.safetensors");
        Checkpoint c = Checkpoint.read(weights);
        try (YoloModel m = c.buildModel()) {
            return describe(family, c, m, data, weights, img, last.map50(), last.map5095(), secs, epochs);
        }
    }

    /**
     * A given trained baseline, scored on its dataset's validation split; its epoch time from the
     * results.csv beside it, else estimated from the time that scoring took.
     */
    private Baseline given(Path data, Path weights) throws IOException {
        Checkpoint c = Checkpoint.read(weights);
        YoloDataset.DataConfig dc = YoloDataset.readConfig(data);
        if (c.classes() != dc.nc()) throw new IllegalArgumentException(weights + " has " + c.classes() + " classes, " + data + " has " + dc.nc());
        int img = c.imageSize(), epochs = c.metadata().containsKey("epoch") ? c.intMeta("epoch") + 1 : 0;
        long t = System.nanoTime();
        List<YoloDataset.Sample> val = YoloDataset.load(dc, "val", false).samples();
        try (YoloModel m = c.buildModel(); Loader loader = new Loader(val, 16, img, Loader.Augment.NONE, o.seed(), o.workers())) {
            var r = Trainer.evaluate(m, loader, dc.nc());
            double secsPerEpoch = measuredEpochSeconds(weights.resolveSibling("results.csv"));
            if (Double.isNaN(secsPerEpoch)) {
                // no training record beside it: an epoch costs about 3 forward passes per training image (forward, backward), plus validation
                double evalSecs = (System.nanoTime() - t) / 1e9;
                int trainImages = YoloDataset.load(dc, "train", false).samples().size();
                secsPerEpoch = evalSecs * (1 + 3.0 * trainImages / Math.max(1, val.size()));
            }
            log.printf(Locale.ROOT, "== baseline (shapes): %s given: mAP50 %.3f, mAP50-95 %.3f%n", weights, r.map50(), r.map5095());
            return describe("shapes", c, m, data, weights, img, r.map50(), r.map5095(), secsPerEpoch, epochs);
        }
    }

    /** The mean of the seconds column of a trainer's results.csv (its training time per epoch), or NaN when there is none. */
    static double measuredEpochSeconds(Path csv) {
        try {
            List<String> lines = Files.readAllLines(csv);
            if (lines.size() < 2 || !lines.get(0).endsWith(",seconds")) return Double.NaN;
            return lines.subList(1, lines.size()).stream().mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(',') + 1))).average().orElse(Double.NaN);
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** The baseline's row data and its model file (OUT/family/baseline-model.safetensors), from its checkpoint and the model built from it. */
    private Baseline describe(String family, Checkpoint c, YoloModel m, Path data, Path weights, int img, double map50, double map5095, double secsPerEpoch,
                              int epochs) throws IOException {
        Path file = o.out().resolve(family).resolve("baseline-model.safetensors");
        Files.createDirectories(file.getParent());
        Checkpoint.writeModel(file, m, c.model(), c.names(), img, Map.of());
        return new Baseline(family, c.model(), data, weights, img, map50, map5095, m.parameterCount(), m.gflops(img), secsPerEpoch, epochs, file);
    }

    private void write(List<Row> rows, Map<String, Baseline> bases, double scale, Sizes sz, double minutes) throws IOException {
        StringBuilder md = new StringBuilder();
        Baseline shapes = bases.getOrDefault("shapes", bases.values().iterator().next());
        md.append(String.format(Locale.ROOT, "Seed study%s (`jprune study --preset seed%s`), sections %s: the experiments of %s on the built-in benchmarks. "
                        + "(a)-(e): %s on the shapes benchmark (%s, %d px); (f): Tiny YOLO on the face benchmark (%d + %d images, %d px, %d baseline epochs). "
                        + "Levels are parameters removed, as the seed's tables; structured pruning with channels ranked globally, rounded to 8, the compact "
                        + "network fine-tuned (AdamW, lr0 0.002) after every step. Epochs: %s. Whole run: %.0f minutes on %d cores.%n%n",
                o.quick() ? " (quick form)" : "", o.quick() ? " --quick" : "", String.join("", new java.util.TreeSet<>(o.only())), SOURCE, shapes.model(), o.baseline() != null ? "given baseline " + o.baseline()
                        : String.format(Locale.ROOT, "%d + %d images, %d baseline epochs", sz.train(), sz.val(), sz.epochs()), shapes.img(), sz.faceTrain(),
                sz.faceVal(), sz.faceImg(), sz.faceEpochs(), scale >= 1 ? "the seed's (2 and 3 one-shot; 3, 4, 5, 6, 7, 8 per step; group-reg and slimming add "
                        + "one regularized epoch per step; (e) gets the 33 of (b) in all, 2 per try)"
                        : String.format(Locale.ROOT, "the seed's scaled by %.2f to fit %.0f minutes (at least 1 per step)", scale, o.budget()), minutes,
                Runtime.getRuntime().availableProcessors()));
        md.append("| Method | Step | Channels pruned | Params removed | mAP50 | Δ mAP50 | mAP50-95 | Parameters | GFLOPs | Latency b1 (ms) | Latency b16 (ms) "
                + "| Speed-up b1 / b16 | Epochs | Note |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        StringBuilder csv = new StringBuilder("section,method,model,step,channels_pruned,params_removed,map50,map50_95,params,gflops,latency_b1_ms,latency_b16_ms,"
                + "speedup_b1,speedup_b16,epochs,note\n");
        Map<String, Double> baseMap = new LinkedHashMap<>();
        for (Baseline b : bases.values()) baseMap.put(b.model(), b.map50());
        for (Row r : rows) {
            md.append(String.format(Locale.ROOT, "| %s | %s | %.0f%% | %.1f%% | %.3f | %s | %.3f | %.2f M | %.3f | %.1f | %.1f | %.2fx / %.2fx | %d | %s |%n",
                    r.step() == 0 ? r.section() + " (" + r.model() + ")" : r.section(), r.step() == 0 ? "-" : String.valueOf(r.step()), r.channels() * 100,
                    r.paramsRemoved() * 100, r.map50(), r.step() == 0 ? "-" : String.format(Locale.ROOT, "%+.3f", r.map50() - baseMap.get(r.model())),
                    r.map5095(), r.params() / 1e6, r.gflops(), r.latencyB1(), r.latencyB16(), r.speedupB1(), r.speedupB16(), r.epochs(), r.note()));
            csv.append(String.format(Locale.ROOT, "\"%s\",%s,%s,%d,%.4f,%.4f,%.5f,%.5f,%d,%.5f,%.3f,%.3f,%.3f,%.3f,%d,\"%s\"%n", r.section(), r.method(), r.model(),
                    r.step(), r.channels(), r.paramsRemoved(), r.map50(), r.map5095(), r.params(), r.gflops(), r.latencyB1(), r.latencyB16(), r.speedupB1(),
                    r.speedupB16(), r.epochs(), r.note()));
        }
        md.append(String.format(Locale.ROOT, "%nThe seed's own figures (YOLOv5s on Pascal VOC, Tiny YOLO on WIDER Face) are drawn in %s/study-seed.png as reference "
                + "series; they come from other data and models, so compare the drops (Δ mAP50), not the levels of mAP50. Latency: median CPU forward "
                + "pass of each compact model, each benchmark's models timed in turns with their baseline in one run (same-run ratios). Models: "
                + "%s/<section>/step-N/model.safetensors (automatic mode: %s/e/round-R-lrK/step-1/).%n", o.out(), o.out(), o.out()));
        SafeTensors.atomicWrite(o.out().resolve("study-seed.md"), md.toString().getBytes(StandardCharsets.UTF_8));
        SafeTensors.atomicWrite(o.out().resolve("study-seed.csv"), csv.toString().getBytes(StandardCharsets.UTF_8));
        Plots.optional(o.out().resolve("study-seed.png"), () -> plot(rows), log);  // the table is in study-seed.md/.csv
        log.println();
        log.print(md);
    }

    /** mAP50 against parameters removed: one line per method from its baseline at 0%, the seed's series beside them. */
    private void plot(List<Row> rows) throws IOException {
        Map<String, double[]> base = new LinkedHashMap<>();
        for (Row r : rows) if (r.step() == 0) base.put(r.model(), new double[] {0, r.map50()});
        Map<String, List<double[]>> ours = new LinkedHashMap<>();
        for (Row r : rows)
            if (r.step() > 0)
                ours.computeIfAbsent(r.section().contains(r.model()) ? r.section() : r.section() + ", " + r.model(), k -> new ArrayList<>(List.of(base.get(r.model())))).add(new double[] {r.paramsRemoved() * 100,
                        r.map50()});
        Map<String, List<double[]>> ref = new LinkedHashMap<>();
        for (SeedSeries s : SEED) {
            double p0 = s.points().get(0).paramsM();
            ref.put(s.label() + " (" + SOURCE + ")", s.points().stream().map(p -> new double[] {(1 - p.paramsM() / p0) * 100, p.map50()}).toList());
        }
        Plots.lines(o.out().resolve("study-seed.png"), "mAP50 against parameters removed: jprune and the seed's tables", "parameters removed (%)", "mAP50", ours,
                ref);
    }
}
