package org.jprune.yolo.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import org.jprune.engine.Device;
import org.jprune.yolo.data.Loader;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.eval.CocoEval;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.train.Checkpoint;
import org.jprune.yolo.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "val", mixinStandardHelpOptions = true, description = "Evaluate a training checkpoint (its EMA weights) on a dataset split: mAP50, mAP50-95 "
        + "(COCO, area all) and a per-class table.")
final class ValCmd implements Callable<Integer> {
    @Mixin WeightsOption weights;
    @Option(names = "--data", required = true, description = "Data YAML.")
    Path data;
    @Option(names = "--split", defaultValue = "val", description = "train or val. Default: ${DEFAULT-VALUE}.")
    String split;
    @Option(names = "--img", description = "Input size (default: the checkpoint's).")
    Integer img;
    @Option(names = "--batch", defaultValue = "16", description = "Batch size. Default: ${DEFAULT-VALUE}.")
    int batch;
    @Mixin DeviceOption device;

    @Override
    public Integer call() throws Exception {
        if (!split.equals("train") && !split.equals("val")) throw new IllegalArgumentException("--split must be train or val, got " + split);
        Checkpoint ckpt = weights.read();
        YoloDataset.DataConfig dc = YoloDataset.readConfig(data);
        if (ckpt.classes() != dc.nc())
            throw new IllegalArgumentException(weights.weights + " has " + ckpt.classes() + " classes, " + data + " has " + dc.nc());
        int size = img != null ? img : ckpt.imageSize();
        YoloDataset ds = YoloDataset.load(dc, split, false);
        try (Device dev = device.open(); YoloModel m = ckpt.buildModel(dev);
             Loader loader = new Loader(ds.samples(), batch, size, Loader.Augment.NONE, 0, 2)) {
            CocoEval.Result r = Trainer.evaluate(m, loader, dc.nc());
            System.out.printf("%-12s %8s %8s %8s %9s%n", "class", "truths", "dets", "AP50", "AP50-95");
            System.out.printf("%-12s %8d %8d %8.3f %9.3f%n", "all", Arrays.stream(r.truths()).sum(), Arrays.stream(r.detections()).sum(), r.map50(), r.map5095());
            for (int c = 0; c < dc.nc(); c++)
                System.out.printf("%-12s %8d %8d %8.3f %9.3f%n", dc.names().get(c), r.truths()[c], r.detections()[c], r.ap50()[c], r.ap5095()[c]);
        }
        return 0;
    }
}
