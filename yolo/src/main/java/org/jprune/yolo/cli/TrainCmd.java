package org.jprune.yolo.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.jprune.engine.Device;
import org.jprune.yolo.train.Checkpoint;
import org.jprune.yolo.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "train", mixinStandardHelpOptions = true, description = "Train a detector (YOLOv5 recipe: SGD + Nesterov, warmup, cosine LR, EMA, "
        + "hyp.scratch-low); writes OUT/last.safetensors, OUT/best.safetensors and OUT/results.csv each epoch.")
final class TrainCmd implements Callable<Integer> {
    @Mixin TrainingOptions t;
    @Option(names = "--data", required = true, description = "Data YAML (YOLO txt layout), e.g. from `jprune data synth`.")
    Path data;
    @Option(names = {"-o", "--out"}, defaultValue = "runs/train", description = "Output directory. Default: ${DEFAULT-VALUE}.")
    Path out;
    @Option(names = "--linear-lr", description = "Linear instead of cosine LR decay.")
    boolean linear;
    @Option(names = "--resume", description = "Continue the run in --out from its last checkpoint, exactly.")
    boolean resume;
    @Option(names = {"-w", "--weights"}, description = "Start from this checkpoint's weights (fine-tuning), e.g. a compact model from "
            + "`jprune prune`: its architecture (pruned widths included), anchors and pruning plan are kept; -m is then taken from it.")
    Path weights;
    @Mixin DeviceOption device;

    @Override
    public Integer call() throws Exception {
        String model = t.model;
        if (weights != null) {
            if (!Files.isRegularFile(weights)) throw new IllegalArgumentException("--weights " + weights + ": no such file");
            model = Checkpoint.read(weights).model();
        }
        try (Device dev = device.open()) {
            new Trainer(t.training(model, data, out, dev).cosine(!linear).resume(resume).initFrom(weights).build(), System.out).run();
        }
        return 0;
    }
}
