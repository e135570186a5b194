package org.jprune.yolo.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jprune.yolo.train.Checkpoint;
import picocli.CommandLine.Option;

/** {@code -w/--weights}: the checkpoint a command reads ({@code @Mixin}; required). */
final class WeightsOption {
    @Option(names = {"-w", "--weights"}, required = true, description = "A checkpoint from train, prune or study (dense or compact).")
    Path weights;

    /** The checkpoint, or an error naming --weights. */
    Checkpoint read() throws IOException {
        if (!Files.isRegularFile(weights)) throw new IllegalArgumentException("--weights " + weights + ": no such file");
        return Checkpoint.read(weights);
    }
}
