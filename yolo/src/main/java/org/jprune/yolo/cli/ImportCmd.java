package org.jprune.yolo.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.train.WeightsImport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "import", mixinStandardHelpOptions = true, description = "Bring a YOLOv5 model trained with Ultralytics into jprune: its state "
        + "dict saved as safetensors (torch.load('best.pt')['model'].float().state_dict() through safetensors.torch.save_file) becomes a jprune "
        + "checkpoint that train -w, prune, val, detect, export and serve take. Classes are read from the Detect head, anchors from its buffer.")
final class ImportCmd implements Callable<Integer> {
    @Option(names = {"-w", "--weights"}, required = true, description = "The state dict (.safetensors) with Ultralytics' tensor names.")
    Path weights;
    @Option(names = {"-m", "--model"}, required = true, description = "The architecture the weights belong to: yolov5n/s/m/l/x or a model YAML.")
    String model;
    @Option(names = "--data", description = "A data YAML to take the class names from (its class count must match the weights').")
    Path data;
    @Option(names = "--names", split = ",", description = "Class names, comma-separated (default: the --data YAML's, else class0, class1, ...).")
    List<String> names;
    @Option(names = "--img", defaultValue = "640", description = "The image size the model was trained at (recorded; a multiple of 32). Default: ${DEFAULT-VALUE}.")
    int img;
    @Option(names = {"-o", "--out"}, required = true, description = "The jprune checkpoint to write (an existing file is not overwritten).")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (img <= 0 || img % 32 != 0 || img > org.jprune.yolo.Limits.MAX_IMAGE_SIZE)
            throw new IllegalArgumentException("--img must be a positive multiple of 32 up to " + org.jprune.yolo.Limits.MAX_IMAGE_SIZE + ", got " + img);
        if (names != null && data != null) throw new IllegalArgumentException("give --names or --data, not both");
        if (Files.exists(out)) throw new IllegalArgumentException("--out " + out + " exists: give another file or remove it");
        List<String> classNames = names != null ? names.stream().map(String::strip).toList() : data != null ? YoloDataset.readConfig(data).names() : null;
        WeightsImport.Result r = WeightsImport.run(weights, model, classNames, img, out);
        System.out.printf(Locale.ROOT, "wrote %s: %s, %d classes, %d px%n", r.out(), model, r.classes(), img);
        return 0;
    }
}
