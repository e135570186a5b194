package org.jprune.yolo.cli;

import java.util.ArrayList;
import java.util.List;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.train.OptimizerKind;
import org.jprune.yolo.train.Trainer;
import picocli.CommandLine.Option;

/** How any training runs (train, study, and prune's fine-tuning): batch, nominal batch, seed, data workers, optimizer, hyperparameters. */
final class RunOptions {
    @Option(names = "--batch", defaultValue = "16", description = "Batch size (gradients accumulate to --nbs). Default: ${DEFAULT-VALUE}.")
    int batch;
    @Option(names = "--nbs", defaultValue = "64", description = "Nominal batch: gradients accumulate to it and weight decay scales to it. "
            + "Default: ${DEFAULT-VALUE}.")
    int nbs;
    @Option(names = "--seed", defaultValue = "0", description = "Seed for weights and data order/augmentation. Default: ${DEFAULT-VALUE}.")
    long seed;
    @Option(names = "--workers", defaultValue = "2", description = "Image decoding threads. Default: ${DEFAULT-VALUE}.")
    int workers;
    @Option(names = "--optimizer", defaultValue = "SGD", description = "SGD (Nesterov) or AdamW (betas momentum, 0.999), as YOLOv5's "
            + "--optimizer. Default: ${DEFAULT-VALUE}.")
    String optimizer;
    @Option(names = "--hyp", split = ",", description = "Overrides of hyp.scratch-low for every training stage, e.g. --hyp lr0=0.02,cls=4.0 "
            + "(names as in the YAML).")
    List<String> hyp = new ArrayList<>();

    Hyp hyperparameters() { return Hyp.SCRATCH_LOW.with(hyp); }

    /** {@code b} with these settings. */
    Trainer.Options.Builder applyTo(Trainer.Options.Builder b) {
        return b.batch(batch).nbs(nbs).seed(seed).workers(workers).hyp(hyperparameters()).optimizer(OptimizerKind.parse(optimizer));
    }
}
