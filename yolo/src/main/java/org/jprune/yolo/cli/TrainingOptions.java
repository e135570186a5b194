package org.jprune.yolo.cli;

import java.nio.file.Path;
import org.jprune.engine.Device;
import org.jprune.yolo.train.AnchorMode;
import org.jprune.yolo.train.Trainer;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The options every command that trains a model from its config shares (train, study): model, epochs, size, anchors and {@link RunOptions}. */
final class TrainingOptions {
    @Option(names = {"-m", "--model"}, defaultValue = "yolov5n", description = "Built-in (yolov5n/s/m) or model YAML. Default: ${DEFAULT-VALUE}.")
    String model;
    @Option(names = "--epochs", defaultValue = "30", description = "Epochs (the study: of the baseline). Default: ${DEFAULT-VALUE}.")
    int epochs;
    @Option(names = "--img", defaultValue = "256", description = "Square input size, a multiple of 32. Default: ${DEFAULT-VALUE}.")
    int img;
    @Option(names = "--anchors", defaultValue = "auto", description = "model: the model's anchors; auto: YOLOv5's autoanchor "
            + "(fit new ones by k-means + genetic search only if under 98%% of the training boxes can match an anchor); evolve: always fit, "
            + "keep them if they match the boxes better. Fitted anchors are stored in the checkpoint. Default: ${DEFAULT-VALUE}.")
    String anchors;
    @Mixin RunOptions run;

    /** The training these options describe, of {@code model} on {@code data} into {@code out}, on {@code device}. */
    Trainer.Options.Builder training(String model, Path data, Path out, Device device) {
        return run.applyTo(Trainer.Options.builder(model, data, out)).epochs(epochs).imgSize(img).anchors(AnchorMode.parse(anchors)).device(device);
    }
}
