package org.jprune.yolo.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import org.jprune.engine.Device;
import org.jprune.engine.prune.Schedule;
import org.jprune.yolo.train.SeedStudy;
import org.jprune.yolo.train.Study;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "study", mixinStandardHelpOptions = true, description = "Pruning study: train a baseline (or take --baseline), prune iteratively to each level "
        + "(structured magnitude pruning, or group-regularization pruning with --method group-reg; channel groups ranked globally), "
        + "fine-tune after each step, and print the table (level, mAP50, mAP50-95, parameters, GFLOPs, latency, epochs). "
        + "--preset seed runs the seed study's experiments instead (see the README).")
final class StudyCmd implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;
    @Mixin TrainingOptions t;
    @Option(names = "--data", description = "Data YAML (YOLO txt layout), e.g. from `jprune data synth`; required except with --preset seed.")
    Path data;
    @Option(names = "--finetune-epochs", defaultValue = "5", split = ",", description = "Fine-tuning epochs after each pruning step: one "
            + "number for every step, or one per step (as prune takes them). Default: ${DEFAULT-VALUE}.")
    int[] finetune;
    @Option(names = "--levels", defaultValue = "0.5,0.7,0.9", split = ",",
            description = "Cumulative fractions of the original network (of --target) to remove, increasing. Default: ${DEFAULT-VALUE}.")
    double[] levels;
    @Mixin PruningOptions p;
    @Option(names = {"-o", "--out"}, description = "Output directory. Default: runs/study (--preset seed: runs/study-seed).")
    Path out;
    @Option(names = "--baseline", description = "Start from this trained checkpoint (e.g. an earlier study's baseline/last.safetensors) "
            + "instead of training a baseline; --epochs is then unused. With --preset seed: a YOLOv5n trained on --data.")
    Path baseline;
    @Option(names = "--preset", description = "seed: the seed study's experiments in one run: one-shot and 6-step magnitude pruning, "
            + "group regularization, BN slimming, automatic mode, and Tiny YOLO on the face benchmark; writes OUT/study-seed.{md,csv,png}. "
            + "It makes its own datasets and baselines (or takes --data with --baseline) and sets every other option itself.")
    String preset;
    @Option(names = "--quick", description = "--preset seed: the quick form (smaller datasets, a 17-minute budget).")
    boolean quick;
    @Option(names = "--budget", description = "--preset seed: minutes for the whole run; every fine-tuning epoch count is scaled by one factor to fit "
            + "(estimated from the baselines' epoch times). Default: none (the seed's epochs; 17 with --quick).")
    Double budget;
    @Option(names = "--sections", split = ",", description = "--preset seed: run only these of a (one-shot), b (magnitude, 6 steps), c (group-reg), "
            + "d (slimming), e (automatic), f (Tiny YOLO on faces). Default: all.")
    List<String> sections = new ArrayList<>();
    @Mixin DeviceOption device;

    private static final Set<String> PRESET_OPTIONS = Set.of("--preset", "--quick", "--budget", "--sections", "--out", "--data", "--baseline", "--seed",
            "--workers");

    @Override
    public Integer call() throws Exception {
        if (baseline != null && !Files.isRegularFile(baseline)) throw new IllegalArgumentException("--baseline " + baseline + ": no such file");
        if (preset != null) {
            if (!preset.strip().equalsIgnoreCase("seed")) throw new IllegalArgumentException("--preset must be seed, got '" + preset + "'");
            for (var opt : spec.commandLine().getParseResult().matchedOptions())
                if (!PRESET_OPTIONS.contains(opt.longestName()))
                    throw new IllegalArgumentException("--preset seed sets " + opt.longestName() + " itself; drop it (it takes only " + new TreeSet<>(PRESET_OPTIONS) + ")");
            if (data != null && !Files.isRegularFile(data)) throw new IllegalArgumentException("--data " + data + ": no such file");
            new SeedStudy(new SeedStudy.Options(out == null ? Path.of("runs/study-seed") : out, quick, budget == null ? Double.NaN : budget, data, baseline,
                    t.run.seed, t.run.workers, Set.copyOf(sections)), System.out).run();
            return 0;
        }
        if (quick || budget != null || !sections.isEmpty()) throw new IllegalArgumentException("--quick, --budget and --sections go with --preset seed");
        if (data == null) throw new CommandLine.ParameterException(spec.commandLine(), "Missing required option: '--data=<data>'");
        Schedule schedule = Schedule.of(p.target(), levels, finetune);
        try (Device dev = device.open()) {
            Study.Options o = new Study.Options(t.training(t.model, data, out == null ? Path.of("runs/study") : out, dev).build(), schedule, p.strategy(),
                    p.finetune(), p.tuning(), baseline);
            new Study(o, System.out).run();
        }
        return 0;
    }
}
