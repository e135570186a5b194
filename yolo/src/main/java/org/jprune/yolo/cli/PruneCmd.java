package org.jprune.yolo.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.jprune.engine.Device;
import org.jprune.engine.prune.Importance;
import org.jprune.engine.prune.Schedule;
import org.jprune.yolo.train.AutoPrune;
import org.jprune.yolo.train.Checkpoint;
import org.jprune.yolo.train.PruneRun;
import org.jprune.yolo.train.Sensitivity;
import org.jprune.yolo.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "prune", mixinStandardHelpOptions = true, description = "Prune a trained checkpoint in steps (to each of --levels, fine-tuning after each) and write "
        + "the compact model (pruned channels removed: smaller file, faster) after every step: OUT/step-N/model.safetensors, which val, "
        + "detect, the Detector and train --weights load like any checkpoint.")
final class PruneCmd implements Callable<Integer> {
    @Mixin WeightsOption weights;
    @Option(names = "--data", required = true, description = "Data YAML for fine-tuning and validation.")
    Path data;
    @Option(names = "--levels", defaultValue = "0.5", split = ",", description = "Cumulative fractions of the original network (of --target) "
            + "to remove, one pruning step each, increasing. Default: ${DEFAULT-VALUE}.")
    double[] levels;
    @Mixin PruningOptions p;
    @Option(names = "--finetune-epochs", defaultValue = "2", split = ",", description = "Fine-tuning epochs after each step: one number "
            + "for every step, or one per step. 0: none. Default: ${DEFAULT-VALUE}.")
    int[] epochs;
    @Option(names = "--importance-reduce", defaultValue = "sum", description = "How coupled layers' scores combine (magnitude, slimming): sum, mean or max. Default: ${DEFAULT-VALUE}.")
    String reduce;
    @Option(names = "--round-to", defaultValue = "8", description = "Each layer keeps a multiple of this many channels (at least this many). Default: ${DEFAULT-VALUE}.")
    int roundTo;
    @Option(names = "--max-layer-ratio", defaultValue = "1.0", description = "At most this fraction of a layer's channels is removed. Default: ${DEFAULT-VALUE}.")
    double maxLayerRatio;
    @Option(names = "--ignore", split = ",", description = "Conv layers (node names, e.g. model.0.conv) that keep every channel.")
    List<String> ignored = new ArrayList<>();
    @Option(names = "--img", description = "Input size (default: the checkpoint's).")
    Integer img;
    @Mixin RunOptions run;
    @Option(names = {"-o", "--out"}, defaultValue = "runs/prune", description = "Output directory. Default: ${DEFAULT-VALUE}.")
    Path out;
    @Option(names = "--auto", description = "Automatic mode: prune towards the one --levels value in steps (--first-step, halved after each "
            + "step that does not recover), fine-tuning --finetune-epochs after each step once per --lrs rate and keeping the best, as long as mAP50 "
            + "stays within --max-drop of the starting model (or above --min-map50); writes OUT/auto.md with the path taken.")
    boolean auto;
    @Option(names = "--max-drop", defaultValue = "0.02", description = "--auto: allowed mAP50 drop. Default: ${DEFAULT-VALUE}.")
    double maxDrop;
    @Option(names = "--min-map50", description = "--auto: an absolute mAP50 floor instead of --max-drop.")
    Double minMap50;
    @Option(names = "--lrs", defaultValue = "0.002,0.001", split = ",", description = "--auto: lr0 values tried after each step. Default: ${DEFAULT-VALUE}.")
    double[] lrs;
    @Option(names = "--first-step", defaultValue = "0.2", description = "--auto: the first step (fraction of the original). Default: ${DEFAULT-VALUE}.")
    double firstStep;
    @Option(names = "--retry-epochs", defaultValue = "0", description = "--auto: before undoing a step whose best try is under the floor, fine-tune "
            + "that try this many more epochs at its rate (0: undo at once). Default: ${DEFAULT-VALUE}.")
    int retryEpochs;
    @Option(names = "--min-step", defaultValue = "0.025", description = "--auto: stop when a halved step is smaller. Default: ${DEFAULT-VALUE}.")
    double minStep;
    @Option(names = "--layer-ratios", description = "A JSON map from conv layer to the fraction of its channels to remove (what `jprune sensitivity` "
            + "writes as layer-ratios.json): one step that prunes each layer by its own ratio instead of --levels.")
    Path layerRatios;
    @Mixin DeviceOption device;

    @Override
    public Integer call() throws Exception {
        Checkpoint ckpt = weights.read();
        int size = img != null ? img : ckpt.imageSize();
        Schedule schedule = Schedule.of(p.target(), levels, epochs);
        PruneRun.Strategy strategy = p.strategy(Importance.Reduce.parse(reduce), roundTo, maxLayerRatio, Set.copyOf(ignored));
        Map<String, Double> ratios = null;
        if (auto && levels.length != 1) throw new IllegalArgumentException("--auto takes one --levels value: the target, got " + levels.length);
        if (layerRatios != null) {
            ratios = Sensitivity.readLayerRatios(layerRatios);
            if (levels.length != 1) throw new IllegalArgumentException("--layer-ratios makes one step: give one --levels value (it is not used) or none");
        }
        try (Device dev = device.open()) {
            // the fine-tuning's training settings; the model, epochs and folders are set per step
            Trainer.Options training = run.applyTo(Trainer.Options.builder(ckpt.model(), data, out)).imgSize(size).device(dev).build();
            PruneRun.Train train = p.tuning().apply(training);
            if (auto) {
                double first = Math.min(firstStep, levels[0]);
                AutoPrune.Search search = new AutoPrune.Search(p.target(), levels[0], first, Math.min(minStep, first), maxDrop,
                        minMap50 == null ? Double.NaN : minMap50, lrs, epochs[0], 0, retryEpochs);
                AutoPrune.Result r = new AutoPrune(new AutoPrune.Options(weights.weights, out, search, strategy, p.finetune(), train), System.out).run();
                System.out.printf(Locale.ROOT, "reached %.1f%% of %s with %d back-off(s); model %s%n", r.reached() * 100, p.target().label(), r.backoffs(), r.model());
                return 0;
            }
            List<PruneRun.Step> steps = new PruneRun(new PruneRun.Options(weights.weights, out, schedule, strategy, p.finetune(), train, ratios), System.out).run();
            System.out.printf("%n| Step | Channels pruned | Params removed | FLOPs removed | mAP50 | mAP50-95 | Parameters | GFLOPs | Model |%n|---|---|---|---|---|---|---|---|---|%n");
            for (PruneRun.Step s : steps)
                System.out.printf(Locale.ROOT, "| %d | %.1f%% | %.1f%% | %.1f%% | %.3f | %.3f | %.3f M | %.3f | %s |%n", s.index(), s.channels() * 100,
                        s.paramsRemoved() * 100, s.flopsRemoved() * 100, s.map50(), s.map5095(), s.params() / 1e6, s.gflops(), s.model());
        }
        return 0;
    }
}
