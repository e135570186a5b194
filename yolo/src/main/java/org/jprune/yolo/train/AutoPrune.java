package org.jprune.yolo.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jprune.engine.io.SafeTensors;
import org.jprune.engine.prune.Schedule;
import org.jprune.yolo.data.Loader;
import org.jprune.yolo.data.YoloDataset;

/**
 * The seed's recommendation as a procedure: prune step by step towards a target size; after each step
 * fine-tune once per learning rate in a small set and keep the best model as the input of the next
 * step; if even the best does not come back within the allowed mAP50 drop (against the starting
 * model, on the validation split), undo the step, halve it and try again; stop at the target or when
 * the step falls under {@code minStep}. Every try is a {@link PruneRun} of one step (so its model is
 * compact and carries the original size); the path taken (tries, back-offs, chosen rate) is logged and
 * written to OUT/auto.md.
 */
public final class AutoPrune {
    /**
     * The search: goal, firstStep and minStep are fractions of the original network's {@code target}
     * (channels, parameters or FLOPs); maxDrop: the mAP50 a step may lose against the starting model;
     * minMap50: an absolute floor instead (NaN: use the drop); lrs: the lr0 values tried after every
     * step, {@code epochs} of fine-tuning each; epochBudget: the most epochs (fine-tuning and
     * regularized, over every try) the run may spend, 0 for no limit.
     */
    public record Search(Schedule.Target target, double goal, double firstStep, double minStep, double maxDrop, double minMap50, double[] lrs, int epochs,
                         int epochBudget, int retryEpochs) {
        /** Without retries: a round whose best try is under the floor backs off at once. */
        public Search(Schedule.Target target, double goal, double firstStep, double minStep, double maxDrop, double minMap50, double[] lrs, int epochs,
                      int epochBudget) {
            this(target, goal, firstStep, minStep, maxDrop, minMap50, lrs, epochs, epochBudget, 0);
        }

        public Search {
            if (retryEpochs < 0) throw new IllegalArgumentException("retry epochs must be >= 0 (0: none), got " + retryEpochs);
            java.util.Objects.requireNonNull(target, "target");
            if (epochBudget < 0) throw new IllegalArgumentException("epoch budget must be >= 0 (0: none), got " + epochBudget);
            if (!(goal > 0 && goal < 1)) throw new IllegalArgumentException("target size must be in (0, 1), got " + goal);
            if (!(firstStep > 0 && firstStep <= goal)) throw new IllegalArgumentException("first step must be in (0, target], got " + firstStep);
            if (!(minStep > 0 && minStep <= firstStep)) throw new IllegalArgumentException("minimum step must be in (0, first step], got " + minStep);
            if (!(maxDrop >= 0 && maxDrop < 1)) throw new IllegalArgumentException("allowed mAP50 drop must be in [0, 1), got " + maxDrop);
            if (lrs.length == 0) throw new IllegalArgumentException("give at least one learning rate");
            for (double lr : lrs) if (!(lr > 0 && lr < 1)) throw new IllegalArgumentException("learning rates must be in (0, 1), got " + lr);
            if (epochs < 1) throw new IllegalArgumentException("fine-tuning epochs per try must be >= 1, got " + epochs);
            lrs = lrs.clone();
        }

        @Override
        public double[] lrs() { return lrs.clone(); }
    }

    /** A run: start from {@code weights}, write under {@code out}; how to prune, fine-tune and train each try. */
    public record Options(Path weights, Path out, Search search, PruneRun.Strategy method, PruneRun.Finetune finetune, PruneRun.Train train) {
        public Options {
            java.util.Objects.requireNonNull(search, "search");
            java.util.Objects.requireNonNull(method, "method");
            java.util.Objects.requireNonNull(finetune, "finetune");
            java.util.Objects.requireNonNull(train, "train");
        }

        Schedule.Target target() { return search.target(); }
        double goal() { return search.goal(); }
        double firstStep() { return search.firstStep(); }
        double minStep() { return search.minStep(); }
        double maxDrop() { return search.maxDrop(); }
        double minMap50() { return search.minMap50(); }
        double[] lrs() { return search.lrs(); }
        int epochs() { return search.epochs(); }
        int epochBudget() { return search.epochBudget(); }
        int retryEpochs() { return search.retryEpochs(); }
    }

    /**
     * One try: the level it pruned to, the rate, its mAP50 / mAP50-95 and parameters, whether it was
     * kept, its pruning step, and whether it is a retry (the round's best try fine-tuned further).
     */
    public record Try(int round, double level, double lr, double map50, double map5095, long params, boolean kept, Path model, PruneRun.Step step,
                      boolean retry) {
        public Try(int round, double level, double lr, double map50, double map5095, long params, boolean kept, Path model, PruneRun.Step step) {
            this(round, level, lr, map50, map5095, params, kept, model, step, false);
        }

        Try accepted() { return new Try(round, level, lr, map50, map5095, params, true, model, step, retry); }
    }

    /** The path taken; reached: the level of the last accepted step (0 if none); epochs: spent over every try. */
    public record Result(double baseline, double reached, List<Try> tries, int backoffs, Path model, int epochs) {}

    private final Options o;
    private final PrintStream log;

    public AutoPrune(Options o, PrintStream log) {
        this.o = o;
        this.log = log;
    }

    public Result run() throws IOException {
        double base = baseline();
        double floor = Double.isNaN(o.minMap50()) ? base - o.maxDrop() : o.minMap50();
        log.printf(Locale.ROOT, "auto: baseline mAP50 %.3f; prune towards %.0f%% of %s, keeping mAP50 >= %.3f; rates %s, %d epoch(s) per try%s%n", base,
                o.goal() * 100, o.target().label(), floor, java.util.Arrays.toString(o.lrs()), o.epochs(),
                o.retryEpochs() > 0 ? String.format(Locale.ROOT, ", %d more for a round's best try under the floor", o.retryEpochs()) : "");
        Path current = o.weights();
        double level = 0, step = o.firstStep();
        int round = 0, backoffs = 0, spent = 0;
        int perTry = o.epochs() + (o.method().method().regularized() ? o.method().regEpochs() : 0);
        List<Try> tries = new ArrayList<>();
        while (level < o.goal() - 1e-9 && step >= o.minStep() - 1e-12) {
            if (o.epochBudget() > 0 && spent + perTry * o.lrs().length > o.epochBudget()) {
                log.printf(Locale.ROOT, "auto: the next round would spend %d epochs, %d of the budget's %d are left: stop%n", perTry * o.lrs().length,
                        o.epochBudget() - spent, o.epochBudget());
                break;
            }
            round++;
            double next = Math.min(o.goal(), level + step);
            Try best = null;
            for (int k = 0; k < o.lrs().length; k++) {
                Path dir = o.out().resolve(String.format(Locale.ROOT, "round-%d-lr%d", round, k));
                PruneRun.Step s = pruneAndTune(current, dir, next, o.epochs(), o.lrs()[k], o.method());
                spent += s.epochs();
                Try tr = new Try(round, next, o.lrs()[k], s.map50(), s.map5095(), s.params(), false, dir.resolve("step-1"), s);
                log.printf(Locale.ROOT, "auto: round %d, %.1f%% of %s, lr0 %s: mAP50 %.3f%n", round, next * 100, o.target().label(), o.lrs()[k], s.map50());
                tries.add(tr);
                if (best == null || tr.map50() > best.map50()) best = tr;
            }
            if (best.map50() < floor && o.retryEpochs() > 0) {
                // a short fine-tune can stop short of what the level recovers to: give the round's best
                // try more epochs at its rate before undoing the step (the level stays; nothing more is pruned)
                Path dir = o.out().resolve(String.format(Locale.ROOT, "round-%d-retry", round));
                PruneRun.Step s = pruneAndTune(best.model().resolve("last.safetensors"), dir, next, o.retryEpochs(), best.lr(), o.method().unregularized());
                spent += s.epochs();
                Try tr = new Try(round, next, best.lr(), s.map50(), s.map5095(), s.params(), false, dir.resolve("step-1"), s, true);
                log.printf(Locale.ROOT, "auto: round %d, %d more epoch(s) at lr0 %s: mAP50 %.3f%n", round, o.retryEpochs(), best.lr(), s.map50());
                tries.add(tr);
                if (tr.map50() > best.map50()) best = tr;
            }
            if (best.map50() >= floor) {
                tries.set(tries.indexOf(best), best.accepted());
                current = best.model().resolve("last.safetensors");
                level = next;
                log.printf(Locale.ROOT, "auto: kept %.1f%% (lr0 %s, mAP50 %.3f)%n", level * 100, best.lr(), best.map50());
            } else {
                step /= 2;
                backoffs++;
                log.printf(Locale.ROOT, "auto: best mAP50 %.3f < %.3f: step undone, halved to %.1f%%%s%n", best.map50(), floor, step * 100,
                        step < o.minStep() ? " (under the minimum: stop)" : "");
            }
        }
        Result r = new Result(base, level, List.copyOf(tries), backoffs, level > 0 ? current : o.weights(), spent);
        write(r);
        return r;
    }

    /** One pruning step by {@code method} from {@code from} to {@code level} (none further if it is there already), then {@code epochs} of fine-tuning at lr0 {@code lr}. */
    private PruneRun.Step pruneAndTune(Path from, Path dir, double level, int epochs, double lr, PruneRun.Strategy method) throws IOException {
        PruneRun.Train withLr = o.train().withHyp(o.train().hyp().with(List.of("lr0=" + lr)));
        return new PruneRun(new PruneRun.Options(from, dir, new Schedule(o.target(), new double[] {level}, new int[] {epochs}), method, o.finetune(),
                withLr), log).run().get(0);
    }

    private double baseline() throws IOException {
        Checkpoint c = Checkpoint.read(o.weights());
        YoloDataset.DataConfig dc = YoloDataset.readConfig(o.train().data());
        if (c.classes() != dc.nc()) throw new IllegalArgumentException(o.weights() + " has " + c.classes() + " classes, " + o.train().data() + " has " + dc.nc());
        try (var m = c.buildModel(o.train().device());
             Loader loader = new Loader(YoloDataset.load(dc, "val", false).samples(), o.train().batch(), o.train().imgSize(), Loader.Augment.NONE, o.train().seed(),
                     o.train().workers())) {
            return Trainer.evaluate(m, loader, dc.nc()).map50();
        }
    }

    private void write(Result r) throws IOException {
        StringBuilder md = new StringBuilder(String.format(Locale.ROOT, "Automatic pruning of %s: towards %.0f%% of %s, allowed mAP50 drop %.3f (baseline %.3f); "
                + "reached %.1f%% with %d back-off(s) in %d epochs. Model: %s%n%n| round | level | lr0 | mAP50 | mAP50-95 | parameters | kept |%n|---|---|---|---|---|---|---|%n",
                o.weights(), o.goal() * 100, o.target().label(), o.maxDrop(), r.baseline(), r.reached() * 100, r.backoffs(), r.epochs(), r.model()));
        for (Try t : r.tries())
            md.append(String.format(Locale.ROOT, "| %d | %.1f%% | %s | %.3f | %.3f | %.3f M | %s |%n", t.round(), t.level() * 100,
                    t.retry() ? t.lr() + " (+" + o.retryEpochs() + " epochs)" : String.valueOf(t.lr()), t.map50(), t.map5095(),
                    t.params() / 1e6, t.kept() ? "yes" : ""));
        Files.createDirectories(o.out());
        SafeTensors.atomicWrite(o.out().resolve("auto.md"), md.toString().getBytes(StandardCharsets.UTF_8));
        log.println();
        log.print(md);
    }
}
