package org.jprune.yolo.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jprune.engine.Device;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.train.AnchorMode;
import org.jprune.yolo.train.OptimizerKind;
import org.jprune.yolo.train.Trainer;
import picocli.CommandLine.Option;

/** The options every training command shares (train, study). */
final class TrainingOptions {
    @Option(names = {"-m", "--model"}, defaultValue = "yolov5n", description = "Built-in (yolov5n/s/m) or model YAML. Default: ${DEFAULT-VALUE}.")
    String model;
    @Option(names = "--epochs", defaultValue = "30", description = "Epochs (the study: of the baseline). Default: ${DEFAULT-VALUE}.")
    int epochs;
    @Option(names = "--batch", defaultValue = "16", description = "Batch size (gradients accumulate to --nbs). Default: ${DEFAULT-VALUE}.")
    int batch;
    @Option(names = "--nbs", defaultValue = "64", description = "Nominal batch: gradients accumulate to it and weight decay scales to it. Default: ${DEFAULT-VALUE}.")
    int nbs;
    @Option(names = "--img", defaultValue = "256", description = "Square input size, a multiple of 32. Default: ${DEFAULT-VALUE}.")
    int img;
    @Option(names = "--seed", defaultValue = "0", description = "Seed for weights and data order/augmentation. Default: ${DEFAULT-VALUE}.")
    long seed;
    @Option(names = "--workers", defaultValue = "2", description = "Image decoding threads. Default: ${DEFAULT-VALUE}.")
    int workers;
    @Option(names = "--hyp", split = ",", description = "Overrides of hyp.scratch-low for every training stage, e.g. --hyp lr0=0.02,cls=4.0 (names as in the YAML).")
    List<String> hyp = new ArrayList<>();
    @Option(names = "--anchors", defaultValue = "auto", description = "model: the model's anchors; auto: YOLOv5's autoanchor "
            + "(fit new ones by k-means + genetic search only if under 98%% of the training boxes can match an anchor); evolve: always fit, "
            + "keep them if they match the boxes better. Fitted anchors are stored in the checkpoint. Default: ${DEFAULT-VALUE}.")
    String anchors;
    @Option(names = "--optimizer", defaultValue = "SGD", description = "SGD (Nesterov) or AdamW (betas momentum, 0.999), as YOLOv5's --optimizer. Default: ${DEFAULT-VALUE}.")
    String optimizer;

    Hyp hyperparameters() { return Hyp.SCRATCH_LOW.with(hyp); }

    /** The training these options describe, of {@code model} on {@code data} into {@code out}, on {@code device}. */
    Trainer.Options.Builder training(String model, Path data, Path out, Device device) {
        return Trainer.Options.builder(model, data, out).epochs(epochs).batch(batch).nbs(nbs).imgSize(img).seed(seed).workers(workers)
                .hyp(hyperparameters()).optimizer(OptimizerKind.parse(optimizer)).anchors(AnchorMode.parse(anchors)).device(device);
    }
}
