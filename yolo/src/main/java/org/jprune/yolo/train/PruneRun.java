package org.jprune.yolo.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jprune.engine.prune.BnSlimming;
import org.jprune.engine.prune.ChannelPruner;
import org.jprune.engine.prune.DependencyGraph;
import org.jprune.engine.prune.GroupRegularizer;
import org.jprune.engine.prune.Importance;
import org.jprune.engine.prune.PruningPlan;
import org.jprune.engine.prune.Schedule;
import org.jprune.engine.prune.SparseKernels;
import org.jprune.engine.prune.WeightPruner;
import org.jprune.yolo.data.Loader;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.eval.CocoEval;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.model.YoloModel;

/**
 * Prunes one trained checkpoint in the steps of a {@link Schedule} and writes, after every step, the
 * compact model (pruned channels physically removed) that a user deploys: OUT/step-N/model.safetensors.
 * Per step: optional group-regularized training (method group-reg), channel ranking by the method's
 * {@link Importance} over the {@link DependencyGraph} groups, pruning to the step's level (of channels,
 * parameters or FLOPs of the original network, found by bisection for the latter two), then fine-tuning.
 * <ul>
 * <li>{@link Finetune#COMPACT} (default): the network is compacted right after pruning and the compact
 *     network fine-tunes (every op shrinks, not only the convolutions);</li>
 * <li>{@link Finetune#MASKED}: the full-size network fine-tunes with the pruning plan on it (channel-sparse
 *     convolutions over the alive channels, pruned entries held at 0) and is compacted afterwards.</li>
 * </ul>
 * Each step's checkpoints carry the plan (masked) or the widths (compact), and the original network's
 * size, so a later run continues from them without re-deriving anything from zero weights.
 */
public final class PruneRun {
    public enum Method {
        MAGNITUDE, GROUP_REG, SLIMMING, UNSTRUCTURED;

        public static Method parse(String s) {
            return switch (s.strip().toLowerCase(Locale.ROOT)) {
                case "magnitude" -> MAGNITUDE;
                case "group-reg" -> GROUP_REG;
                case "slimming" -> SLIMMING;
                case "unstructured" -> UNSTRUCTURED;
                default -> throw new IllegalArgumentException("pruning method must be magnitude, group-reg, slimming or unstructured, got '" + s + "'");
            };
        }

        /** Whether it trains with a regularizer before each step. */
        boolean regularized() { return this == GROUP_REG || this == SLIMMING; }

        public String label() { return name().toLowerCase(Locale.ROOT).replace('_', '-'); }
    }

    public enum Finetune {
        COMPACT, MASKED;

        public static Finetune parse(String s) {
            try {
                return valueOf(s.strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("fine-tuning mode must be compact or masked, got '" + s + "'");
            }
        }
    }

    /**
     * How pruning ranks and where it stops; the regularization settings apply to group-reg and slimming,
     * {@code gradual} to unstructured (GMP: a cubic ramp from the previous step's sparsity over the first
     * half of the step's fine-tuning, instead of one shot).
     */
    public record Strategy(Method method, Importance.Reduce reduce, boolean global, int roundTo, double maxLayerRatio, Set<String> ignored,
                           double reg, double regAlpha, int regEpochs, boolean gradual) {
        public Strategy(Method method, Importance.Reduce reduce, boolean global, int roundTo, double maxLayerRatio, Set<String> ignored,
                        double reg, double regAlpha, int regEpochs) {
            this(method, reduce, global, roundTo, maxLayerRatio, ignored, reg, regAlpha, regEpochs, false);
        }

        public Strategy {
            if (!(reg >= 0) || Double.isInfinite(reg)) throw new IllegalArgumentException("reg must be finite and >= 0, got " + reg);
            if (!(regAlpha >= 1) || Double.isInfinite(regAlpha)) throw new IllegalArgumentException("reg alpha must be finite and >= 1, got " + regAlpha);
            if (method.regularized() && regEpochs < 1)
                throw new IllegalArgumentException(method.label() + " needs at least 1 regularized epoch, got " + regEpochs);
            new ChannelPruner.Options(global, roundTo, maxLayerRatio, ignored); // checks them
        }

        public static Strategy magnitude(boolean global) {
            return new Strategy(Method.MAGNITUDE, Importance.Reduce.SUM, global, 8, 1.0, Set.of(), 5e-4, 4, 1, false);
        }

        /**
         * A method by its command-line name (magnitude, group-reg, slimming, unstructured, or gmp:
         * unstructured with a gradual ramp), coupled scores summed, layers kept at multiples of 8.
         */
        public static Strategy named(String method, boolean global, double reg, double regAlpha, int regEpochs) {
            boolean gmp = method.strip().equalsIgnoreCase("gmp");
            return new Strategy(Method.parse(gmp ? "unstructured" : method), Importance.Reduce.SUM, global, 8, 1.0, Set.of(), reg, regAlpha, regEpochs, gmp);
        }

        /** The same method ranked and bounded otherwise: how coupled scores combine, layer widths' multiple, the per-layer cap, layers left alone. */
        public Strategy withRanking(Importance.Reduce reduce, int roundTo, double maxLayerRatio, Set<String> ignored) {
            return new Strategy(method, reduce, global, roundTo, maxLayerRatio, ignored, reg, regAlpha, regEpochs, gradual);
        }

        /** Unstructured pruning with the gradual (GMP) ramp. */
        public Strategy withGradual(boolean on) {
            return new Strategy(method, reduce, global, roundTo, maxLayerRatio, ignored, reg, regAlpha, regEpochs, gradual || on);
        }

        /**
         * The same ranking without a regularization phase: what a step to a level the model is already at
         * runs (automatic mode's retry fine-tunes a try further; nothing more is pruned, so a regularized
         * epoch would only cost time).
         */
        public Strategy unregularized() {
            return method.regularized() ? new Strategy(Method.MAGNITUDE, reduce, global, roundTo, maxLayerRatio, ignored, reg, regAlpha, regEpochs, gradual) : this;
        }

        ChannelPruner.Options pruner() { return new ChannelPruner.Options(global, roundTo, maxLayerRatio, ignored); }
    }

    /**
     * Training settings of the fine-tuning (and regularized) epochs: {@code base} gives the data, image
     * size, batch, nominal batch, seed, workers, hyperparameters, optimizer and device (its model, output
     * folder, epochs and starting checkpoint are set per step). distill: the weight of knowledge
     * distillation from the unpruned starting model during fine-tuning (0: none; see
     * {@link YoloModel#distillFrom}).
     */
    public record Train(Trainer.Options base, double distill) {
        public Train {
            java.util.Objects.requireNonNull(base, "base");
            if (!(distill >= 0) || Double.isInfinite(distill)) throw new IllegalArgumentException("distillation weight must be finite and >= 0, got " + distill);
        }

        public Train(Trainer.Options base) { this(base, 0); }

        public Path data() { return base.data(); }
        public int imgSize() { return base.imgSize(); }
        public int batch() { return base.batch(); }
        public int nbs() { return base.nbs(); }
        public long seed() { return base.seed(); }
        public int workers() { return base.workers(); }
        public Hyp hyp() { return base.hyp(); }
        public OptimizerKind optimizer() { return base.optimizer(); }
        public org.jprune.engine.Device device() { return base.device(); }

        public Train withHyp(Hyp h) { return new Train(base.toBuilder().hyp(h).build(), distill); }
    }

    /**
     * What the fine-tuning changes from the baseline's training: hyperparameter overrides (e.g. lr0=0.001)
     * and the distillation weight (0: none). Fine-tuning starts from trained weights, so it runs without
     * the warmup (warmup_epochs=0) unless the overrides set warmup_epochs: a short run's warmup keeps
     * every step under lr0 and ends at its highest rate (on the main command's baseline, 2 epochs after
     * each of the 50 / 70 / 90% steps: mAP50 0.887 / 0.877 / 0.734 with the warmup, 0.889 / 0.878 /
     * 0.755 without; one 50% step with 4 epochs: 0.896 with, 0.899 without).
     */
    public record Tuning(List<String> hyp, double distill) {
        public static final Tuning NONE = new Tuning(List.of(), 0);

        public Tuning {
            hyp = List.copyOf(hyp);
            if (!(distill >= 0) || Double.isInfinite(distill)) throw new IllegalArgumentException("distillation weight must be finite and >= 0, got " + distill);
        }

        /** The fine-tuning's settings from a training's: its hyperparameters with the overrides (and no warmup unless they set one), and the distillation. */
        public Train apply(Trainer.Options training) {
            List<String> h = new ArrayList<>();
            if (hyp.stream().noneMatch(kv -> kv.split("=", 2)[0].strip().equalsIgnoreCase("warmup_epochs"))) h.add("warmup_epochs=0");
            h.addAll(hyp);
            return new Train(training.toBuilder().hyp(training.hyp().with(h)).build(), distill);
        }
    }

    /**
     * layerRatios: when given (e.g. from a sensitivity analysis), each step prunes every named layer by
     * its own ratio instead of ranking to the step's level (use one step).
     */
    public record Options(Path weights, Path out, Schedule schedule, Strategy method, Finetune finetune, Train train, Map<String, Double> layerRatios) {
        public Options(Path weights, Path out, Schedule schedule, Strategy method, Finetune finetune, Train train) {
            this(weights, out, schedule, method, finetune, train, null);
        }
    }

    /**
     * Sizes of the network before any pruning (what levels are fractions of): parameters, prunable
     * channels, and GFLOPs at input size {@code img} (they scale with the input's area).
     */
    public record Original(long params, double gflops, int img, int channels) {
        static final String KEY = "original_size";

        String format() { return String.format(Locale.ROOT, "%d,%.6f,%d,%d", params, gflops, img, channels); }

        double gflopsAt(int size) { return gflops * ((double) size / img) * ((double) size / img); }

        static Original parse(String s, Path where) throws IOException {
            String[] p = s.split(",");
            try {
                if (p.length == 4) {
                    Original o = new Original(Long.parseLong(p[0]), Double.parseDouble(p[1]), Integer.parseInt(p[2]), Integer.parseInt(p[3]));
                    if (o.params > 0 && o.gflops > 0 && o.img > 0 && o.channels > 0) return o;
                }
            } catch (NumberFormatException e) {
                // below
            }
            throw new IOException(where + ": metadata " + KEY + " is '" + s + "', expected params,gflops,img,channels (all > 0)");
        }
    }

    /** One finished step. */
    /** One finished step; kernels: for a weight-sparse model, each conv's measured dense / CSR choice (else empty). */
    public record Step(int index, double channels, double paramsRemoved, double flopsRemoved, long params, double gflops, double map50, double map5095,
                       int epochs, double finetuneImgPerSec, Path model, List<SparseKernels.Choice> kernels) {}

    private final Options o;
    private final PrintStream log;

    public PruneRun(Options o, PrintStream log) {
        this.o = o;
        this.log = log;
    }

    public List<Step> run() throws IOException {
        Path prev = o.weights();
        Checkpoint first = Checkpoint.read(prev);
        String modelName = first.model();
        List<String> names = first.names();
        Original orig;
        try (YoloModel m = first.buildModel()) {
            orig = original(first, m);
        }
        log.printf(Locale.ROOT, "original network: %.3f M parameters, %.3f GFLOPs at %d, %d prunable channels%n", orig.params() / 1e6,
                orig.gflopsAt(o.train().imgSize()), o.train().imgSize(), orig.channels());
        Schedule sch = o.schedule();
        List<Step> steps = new ArrayList<>();
        for (int i = 0; i < sch.steps(); i++) {
            double level = sch.levels()[i];
            int epochs = sch.epochs()[i];
            Path dir = o.out().resolve(String.format(Locale.ROOT, "step-%d", i + 1));
            Files.createDirectories(dir);
            int spent = 0;
            if (o.method().method().regularized()) {
                log.printf(Locale.ROOT, "== step %d: %s regularization: %d epoch(s), lambda %g%n", i + 1, o.method().method().label(), o.method().regEpochs(),
                        o.method().reg());
                Path sparse = dir.resolve("regularized");
                new Trainer(trainerOptions(sparse, o.method().regEpochs(), prev, this::regularize, modelName), log).run();
                prev = sparse.resolve("last.safetensors");
                spent += o.method().regEpochs();
            }
            Path pruned = dir.resolve("pruned.safetensors");
            double[] achieved;
            java.util.function.Consumer<YoloModel> gmp = null;
            if (o.method().method() == Method.UNSTRUCTURED) {
                try (YoloModel m = Checkpoint.read(prev).buildModel()) {
                    double before = i == 0 ? 0 : sch.levels()[i - 1];
                    if (o.method().gradual() && epochs > 0) {
                        gmp = gradual(before, level, epochs);
                        log.printf(Locale.ROOT, "== step %d: gradual magnitude pruning of the weights from %.1f%% to %.1f%% over the first half of %d epochs%n",
                                i + 1, before * 100, level * 100, epochs);
                    } else {
                        WeightPruner wp = weightPruner(m);
                        PruningPlan base = basePlan(m);
                        m.applyPlan(base.withWeightMasks(wp.masks(level, base.weightMasks())));
                        log.printf(Locale.ROOT, "== step %d: %.1f%% of the weights of %d layers pruned by magnitude (%s)%n", i + 1, wp.sparsity(m.plan().weightMasks()) * 100,
                                wp.targets().size(), o.method().global() ? "global" : "per layer");
                    }
                    Checkpoint.writeModel(pruned, m, modelName, names, o.train().imgSize(), Map.of(Original.KEY, orig.format()));
                }
                achieved = new double[] {0, level, 0};
            } else try (YoloModel m = Checkpoint.read(prev).buildModel()) {
                achieved = prune(m, level, orig);
                log.printf(Locale.ROOT, "== step %d: pruned to %.1f%% of channels, %.1f%% of parameters, %.1f%% of FLOPs removed (target %.1f%% of %s)%n", i + 1,
                        achieved[0] * 100, achieved[1] * 100, achieved[2] * 100, level * 100, sch.target().label());
                Map<String, String> extra = Map.of(Original.KEY, orig.format());
                if (o.finetune() == Finetune.COMPACT) {
                    try (YoloModel c = m.compact()) {
                        Checkpoint.writeModel(pruned, c, modelName, names, o.train().imgSize(), extra);
                    }
                } else {
                    Checkpoint.writeModel(pruned, m, modelName, names, o.train().imgSize(), extra);
                }
            }
            List<Trainer.EpochStats> st = List.of();
            Path trained = pruned;
            if (epochs > 0) {
                log.printf("== step %d: fine-tune %d epochs (%s)%n", i + 1, epochs, o.method().method() == Method.UNSTRUCTURED ? "pruned weights held at 0"
                        : o.finetune() == Finetune.COMPACT ? "compact network" : "masked, channel-sparse convs");
                st = new Trainer(trainerOptions(dir, epochs, pruned, withTeacher(gmp), modelName), log).run();
                trained = dir.resolve("last.safetensors");
                spent += epochs;
            }
            Path model = dir.resolve("model.safetensors");
            double map50, map5095;
            long params;
            double gflops;
            boolean sparseWeights;
            List<SparseKernels.Choice> kernels = List.of();
            try (YoloModel m = Checkpoint.read(trained).buildModel(o.train().device());
                 YoloModel c = m.plan() == null || !m.plan().weightMasks().isEmpty() ? null : m.compact()) {
                YoloModel out = c != null ? c : m;
                Checkpoint.writeModel(model, out, modelName, names, o.train().imgSize(), Map.of(Original.KEY, orig.format()));
                sparseWeights = out.plan() != null && !out.plan().weightMasks().isEmpty();
                params = sparseWeights ? nonzeroParameters(out) : out.parameterCount();
                gflops = out.gflops(o.train().imgSize());
                if (sparseWeights) {
                    // Checkpoint.buildModel measured them when it loaded the weight-sparse model (at its image size, the run's)
                    var ks = out.sparseKernels();
                    kernels = ks;
                    long csr = ks.stream().filter(SparseKernels.Choice::csr).count();
                    log.printf(Locale.ROOT, "== step %d: %d of %d convolutions run CSR where it measured faster than dense: %s%n", i + 1, csr, ks.size(),
                            ks.stream().filter(SparseKernels.Choice::csr).map(k -> String.format(Locale.ROOT, "%s (%.0f%% dense, b1 %.2fx, b16 %.2fx)", k.layer(),
                                    k.density() * 100, k.denseMs() / k.csrMs(), k.denseMs16() / k.csrMs16())).toList());
                }
                if (st.isEmpty()) {
                    CocoEval.Result r = evaluate(out);
                    map50 = r.map50();
                    map5095 = r.map5095();
                } else {
                    map50 = st.get(st.size() - 1).map50();
                    map5095 = st.get(st.size() - 1).map5095();
                }
            }
            double ips = st.stream().mapToDouble(Trainer.EpochStats::imgPerSec).average().orElse(Double.NaN);
            Step s = new Step(i + 1, achieved[0], 1 - (double) params / orig.params(), 1 - gflops / orig.gflopsAt(o.train().imgSize()), params, gflops, map50,
                    map5095, spent, ips, model, kernels);
            log.printf(Locale.ROOT, "== step %d: mAP50 %.3f, mAP50-95 %.3f, %.3f M parameters (%.1f%% removed), %.3f GFLOPs, %s (%.2f MB)%n", i + 1, map50, map5095,
                    params / 1e6, s.paramsRemoved() * 100, gflops, model, Files.size(model) / 1e6);
            steps.add(s);
            prev = trained;
        }
        return steps;
    }

    /** Parameters that are not pruned away by the plan's element masks (what a sparse format stores). */
    static long nonzeroParameters(YoloModel m) {
        long zeros = 0;
        for (float[] mask : m.plan().weightMasks().values()) for (float v : mask) if (v == 0f) zeros++;
        return m.parameterCount() - zeros;
    }

    private WeightPruner weightPruner(YoloModel m) {
        return new WeightPruner(m.dependencyGraph(), new WeightPruner.Options(o.method().global(), o.method().ignored()));
    }

    /** The model's plan, or one that prunes no channel. */
    private static PruningPlan basePlan(YoloModel m) {
        if (m.plan() != null) return m.plan();
        DependencyGraph dg = m.dependencyGraph();
        boolean[] all = new boolean[dg.groups().size()];
        java.util.Arrays.fill(all, true);
        return PruningPlan.of(dg, all);
    }

    /**
     * The fine-tuning's hook for gradual magnitude pruning: every few optimizer steps the masks are
     * recomputed at the GMP sparsity, from {@code from} to {@code to} over the first half of the epochs.
     */
    private java.util.function.Consumer<YoloModel> gradual(double from, double to, int epochs) throws IOException {
        YoloDataset.DataConfig dc = YoloDataset.readConfig(o.train().data());
        int images = YoloDataset.load(dc, "train", false).samples().size();
        long batches = (images + o.train().batch() - 1) / o.train().batch();
        long perStep = Math.max(Math.round((double) o.train().nbs() / o.train().batch()), 1);
        long optSteps = Math.max(1, batches * epochs / perStep);
        long end = Math.max(1, optSteps / 2);
        WeightPruner.Gmp g = new WeightPruner.Gmp(from, to, 0, end, Math.max(1, end / 16));
        return m -> {
            WeightPruner wp = weightPruner(m);
            PruningPlan base = basePlan(m);
            long[] n = {0};
            m.addBeforeOptimizerStep(() -> {
                long k = n[0]++;
                if (g.updates(k)) m.applyPlan(base.withWeightMasks(wp.masks(g.sparsity(k), m.plan() == null ? null : m.plan().weightMasks())));
            });
        };
    }

    /** The original network's sizes: from the checkpoint's metadata when it was pruned before, else from the model itself. */
    static Original original(Checkpoint c, YoloModel m) throws IOException {
        String s = c.metadata().get(Original.KEY);
        if (s != null) return Original.parse(s, c.file());
        if (m.widths() != null) throw new IOException(c.file() + ": a compact model without metadata " + Original.KEY + " (not written by jprune prune?)");
        // a masked (not yet compacted) checkpoint: the full-size graph is the original
        ChannelPruner p = new ChannelPruner(m.dependencyGraph(), new ChannelPruner.Options(true, 1));
        return new Original(m.graph().parameterCount(), m.gflops(c.imageSize()), c.imageSize(), p.prunableCount());
    }

    /**
     * Prunes {@code m} (its plan, if any, is the starting point) to {@code level} of the original's
     * channels / parameters / FLOPs and puts the new plan on it; returns the fractions of channels,
     * parameters and FLOPs removed relative to the original.
     */
    private double[] prune(YoloModel m, double level, Original orig) {
        DependencyGraph dg = m.dependencyGraph();
        PruningPlan start = m.plan();
        double[] imp = importance().of(dg);
        int img = o.train().imgSize();
        int[][] shapes = m.graph().shapes(1, 3, img, img);
        int total = new ChannelPruner(dg, o.method().pruner()).prunableCount();
        double origGflops = orig.gflopsAt(img);
        java.util.function.DoubleFunction<ChannelPruner> at = chLevel -> {
            ChannelPruner p = start == null ? new ChannelPruner(dg, o.method().pruner()) : new ChannelPruner(dg, o.method().pruner(), start);
            double ratio = 1 - (1 - chLevel) * orig.channels() / total;
            if (ratio > 0) p.step(Math.min(ratio, 0.999), imp);
            return p;
        };
        ChannelPruner best;
        if (o.layerRatios() != null) {
            best = start == null ? new ChannelPruner(dg, o.method().pruner()) : new ChannelPruner(dg, o.method().pruner(), start);
            best.step(o.layerRatios(), imp);
        } else if (o.schedule().target() == Schedule.Target.CHANNELS) {
            best = at.apply(level);
        } else {
            // bisection on the channel level: parameters and FLOPs fall monotonically with it; the
            // smallest channel level that removes at least the target (or the most there is)
            double lo = 0, hi = 0.999;
            for (int it = 0; it < 30; it++) {
                double mid = (lo + hi) / 2;
                ChannelPruner p = at.apply(mid);
                double removed = o.schedule().target() == Schedule.Target.PARAMS ? 1 - (double) p.parameterCount() / orig.params()
                        : 1 - p.gflops(shapes) / origGflops;
                if (removed < level) lo = mid;
                else hi = mid;
            }
            best = at.apply(hi);
        }
        m.applyPlan(best.plan());
        int alive = best.prunableCount() - best.prunedCount();
        return new double[] {1 - (double) alive / orig.channels(), 1 - (double) best.parameterCount() / orig.params(),
                1 - best.gflops(shapes) / origGflops};
    }

    private Importance importance() {
        return switch (o.method().method()) {
            case MAGNITUDE -> Importance.magnitude(2, o.method().reduce());
            case GROUP_REG -> Importance.groupNorm();
            case SLIMMING -> Importance.bnScale(o.method().reduce());
            case UNSTRUCTURED -> throw new IllegalStateException("unstructured pruning ranks weights, not channels");
        };
    }

    /** The regularized epochs' hook: group lasso (group-reg) or L1 on the BN scales (slimming). */
    private void regularize(YoloModel m) {
        DependencyGraph dg = m.dependencyGraph();
        if (o.method().method() == Method.GROUP_REG) {
            GroupRegularizer reg = new GroupRegularizer(dg, o.method().reg(), o.method().regAlpha());
            m.addBeforeOptimizerStep(reg::apply);
        } else {
            m.addBeforeOptimizerStep(() -> BnSlimming.apply(dg, (float) o.method().reg()));
        }
    }

    /** The fine-tuning's preparation: {@code then}, after setting the starting checkpoint as the teacher when distilling. */
    private java.util.function.Consumer<YoloModel> withTeacher(java.util.function.Consumer<YoloModel> then) {
        if (o.train().distill() == 0) return then;
        return m -> {
            try {
                m.distillFrom(Checkpoint.read(o.weights()).buildModel(), o.train().distill());
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            if (then != null) then.accept(m);
        };
    }

    /**
     * A run from a trained checkpoint: the biases start at lr0 rather than warming down from YOLOv5's
     * warmup_bias_lr (0.1), which is meant for a network trained from scratch and throws a trained one's
     * biases off (on the main command's baseline, one step to 50% of parameters with 2 epochs: mAP50
     * 0.877 with it, 0.879 without, 0.887 also with lr0 0.001).
     */
    private Trainer.Options trainerOptions(Path dir, int epochs, Path init, java.util.function.Consumer<YoloModel> prepare, String modelName) {
        Train t = o.train();
        Hyp h = t.hyp().warmupBiasLr() > t.hyp().lr0() ? t.hyp().with(List.of("warmup_bias_lr=" + t.hyp().lr0())) : t.hyp();
        return t.base().toBuilder().model(modelName).out(dir).epochs(epochs).cosine(true).resume(false).hyp(h).stopAfterEpochs(-1).initFrom(init)
                .prepare(prepare).anchors(AnchorMode.MODEL).build();
    }

    private CocoEval.Result evaluate(YoloModel m) throws IOException {
        YoloDataset.DataConfig dc = YoloDataset.readConfig(o.train().data());
        YoloDataset val = YoloDataset.load(dc, "val", false);
        try (Loader loader = new Loader(val.samples(), o.train().batch(), o.train().imgSize(), Loader.Augment.NONE, o.train().seed(), o.train().workers())) {
            return Trainer.evaluate(m, loader, dc.nc());
        }
    }
}
