package org.jprune.yolo.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jprune.yolo.export.OnnxExport;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "export", mixinStandardHelpOptions = true, description = "Export a checkpoint (dense or compact) as ONNX, as Ultralytics exports "
        + "YOLOv5: input images [batch, 3, img, img] (batch dynamic), output output0 [batch, anchors, 5 + classes] with the Detect decode inside "
        + "(boxes in input pixels, probabilities after the sigmoid), weights inside.")
final class ExportCmd implements Callable<Integer> {
    @Mixin WeightsOption weights;
    @Option(names = "--format", defaultValue = "onnx", description = "Output format: onnx. Default: ${DEFAULT-VALUE}.")
    String format;
    @Option(names = "--img", description = "Input size, a multiple of 32 (default: the checkpoint's).")
    Integer img;
    @Option(names = "--opset", defaultValue = "13", description = "ONNX opset, 11 to 21. Default: ${DEFAULT-VALUE}.")
    int opset;
    @Option(names = "--fuse", description = "Fold every batch norm into its convolution.")
    boolean fuse;
    @Option(names = {"-o", "--out"}, description = "Output file (default: the checkpoint's path with .onnx); an existing file is not overwritten.")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (!format.strip().equalsIgnoreCase("onnx")) throw new IllegalArgumentException("--format must be onnx, got '" + format + "'");
        Checkpoint ckpt = weights.read();
        OnnxExport.Options options = new OnnxExport.Options(img != null ? img : ckpt.imageSize(), opset, fuse);
        Path w = weights.weights;
        Path file = out != null ? out : w.resolveSibling(w.getFileName().toString().replaceFirst("\\.safetensors$", "") + ".onnx");
        if (Files.exists(file)) throw new IllegalArgumentException("--out " + file + " exists: give another file or remove it");
        try (YoloModel m = ckpt.buildModel()) {
            OnnxExport.write(m, ckpt.names(), options, file);
            System.out.printf(Locale.ROOT, "wrote %s (%.2f MB): %s, %.3f M parameters, %dx%d, opset %d%s%n", file, Files.size(file) / 1e6, ckpt.model(),
                    m.parameterCount() / 1e6, options.imageSize(), options.imageSize(), opset, fuse ? ", batch norms folded" : "");
        }
        return 0;
    }
}
