package org.jprune.yolo.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.jprune.engine.Device;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.train.Checkpoint;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "model", mixinStandardHelpOptions = true, description = "Inspect model architectures.", subcommands = {ModelCmd.Summary.class})
final class ModelCmd implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() { spec.commandLine().usage(System.out); }

    @Command(name = "summary", mixinStandardHelpOptions = true, description = "Per-layer table (index, from, n, params, module, arguments, output shape) and totals: "
            + "parameters (with BN, and fused) and GFLOPs at an image size.")
    static final class Summary implements Callable<Integer> {
        @Option(names = {"-m", "--model"}, defaultValue = "yolov5s",
                description = "Built-in name (yolov5n, yolov5s, yolov5m) or an Ultralytics model YAML file. Default: ${DEFAULT-VALUE}.")
        String model;
        @Option(names = "--nc", description = "Number of classes (default: the YAML's nc).")
        Integer nc;
        @Option(names = "--img", defaultValue = "640", description = "Square input size for shapes and GFLOPs. Default: ${DEFAULT-VALUE}.")
        int img;
        @Option(names = {"-w", "--weights"}, description = "Summarise this checkpoint's network instead (a compact model from `jprune prune` "
                + "shows its pruned widths; -m and --nc are then taken from it).")
        Path weights;

        @Override
        public Integer call() throws Exception {
            if (img <= 0 || img % 32 != 0) throw new IllegalArgumentException("--img must be a positive multiple of 32, got " + img);
            if (weights != null) {
                if (!Files.isRegularFile(weights)) throw new IllegalArgumentException("--weights " + weights + ": no such file");
                try (YoloModel m = Checkpoint.read(weights).buildModel()) {
                    System.out.print(m.summary(img));
                    if (m.widths() != null) System.out.println("compact model: pruned channels removed (widths in the checkpoint's metadata)");
                    if (m.plan() != null) System.out.println("masked model: " + m.plan());
                }
                return 0;
            }
            ModelConfig cfg = ModelConfig.load(model);
            if (nc != null) cfg = cfg.withClasses(nc);
            try (YoloModel m = YoloModel.build(cfg, Device.cpu(), 0)) {
                System.out.print(m.summary(img));
            }
            return 0;
        }
    }
}
