package org.jprune.yolo.cli;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import org.jprune.engine.Device;
import org.jprune.engine.io.SafeTensors;
import org.jprune.yolo.data.Images;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.eval.Detection;
import org.jprune.yolo.eval.DetectionFiles;
import org.jprune.yolo.eval.Postprocess;
import org.jprune.yolo.infer.Detector;
import org.jprune.yolo.report.Boxes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "detect", mixinStandardHelpOptions = true, description = "Run a trained detector on images: writes OUT/<name> with the boxes drawn and "
        + "OUT/labels/<stem>.txt with 'class conf x1 y1 x2 y2' lines (pixels of the original image), which `jprune eval` reads; images in "
        + "sub-folders of --source keep their relative path (OUT/labels/sub/<stem>.txt).")
final class DetectCmd implements Callable<Integer> {
    @Mixin WeightsOption weights;
    @Option(names = "--source", required = true, description = "An image or a folder of images.")
    Path source;
    @Option(names = "--conf", defaultValue = "0.25", description = "Confidence threshold. Default: ${DEFAULT-VALUE}.")
    float conf;
    @Option(names = "--iou", defaultValue = "0.45", description = "NMS IoU threshold. Default: ${DEFAULT-VALUE}.")
    float iou;
    @Option(names = "--batch", defaultValue = "8", description = "Images per forward pass. Default: ${DEFAULT-VALUE}.")
    int batch;
    @Option(names = {"-o", "--out"}, defaultValue = "runs/detect", description = "Output directory. Default: ${DEFAULT-VALUE}.")
    Path out;
    @Mixin DeviceOption device;

    @Override
    public Integer call() throws Exception {
        if (!(conf >= 0 && conf <= 1) || !(iou > 0 && iou <= 1)) throw new IllegalArgumentException("--conf must be in [0, 1] and --iou in (0, 1]");
        if (batch <= 0) throw new IllegalArgumentException("--batch must be > 0");
        List<Path> images;
        Path root;
        if (Files.isDirectory(source)) {
            images = YoloDataset.listImages(source);
            root = source;
            if (images.isEmpty()) throw new IllegalArgumentException("--source " + source + ": no images in the folder (png, jpg, jpeg, bmp, gif)");
        } else if (Files.isRegularFile(source)) {
            images = List.of(source);
            root = source.toAbsolutePath().getParent();
        } else {
            throw new IOException(source + ": no such image or folder");
        }
        Map<Path, String> outName = outputStems(images, root);
        Files.createDirectories(out.resolve("labels"));
        Postprocess.Settings settings = new Postprocess.Settings(conf, iou, false, 1000);
        int boxes = 0;
        long t0 = System.nanoTime();
        try (Device dev = device.open(); Detector det = Detector.load(weights.weights, dev)) {
            for (int i = 0; i < images.size(); i += batch) {
                List<Path> paths = images.subList(i, Math.min(images.size(), i + batch));
                List<BufferedImage> ims = new ArrayList<>();
                for (Path p : paths) ims.add(Images.read(p));
                List<List<Detector.Box>> res = det.detect(ims, settings);
                for (int k = 0; k < paths.size(); k++) {
                    List<Detector.Box> list = res.get(k);
                    boxes += list.size();
                    List<Detection> d = new ArrayList<>();
                    for (Detector.Box b : list) d.add(new Detection(b.x1(), b.y1(), b.x2(), b.y2(), b.confidence(), b.classId()));
                    String stem = outName.get(paths.get(k));
                    Path txt = out.resolve("labels").resolve(stem + ".txt"), png = out.resolve(stem + ".png");
                    Files.createDirectories(txt.getParent());
                    Files.createDirectories(png.getParent());
                    DetectionFiles.writeTxt(txt, d);
                    ByteArrayOutputStream buf = new ByteArrayOutputStream();
                    ImageIO.write(Boxes.draw(ims.get(k), list), "png", buf);
                    SafeTensors.atomicWrite(png, buf.toByteArray());
                }
            }
        }
        System.out.printf(Locale.ROOT, "%d images, %d boxes, %.1f ms per image; wrote %s%n", images.size(), boxes,
                (System.nanoTime() - t0) / 1e6 / Math.max(1, images.size()), out);
        return 0;
    }

    /**
     * Each image's output stem: its path relative to --source without the extension (sub/a.png ->
     * labels/sub/a.txt). Two images that would write the same files (a.png and a.jpg) are refused
     * before anything runs.
     */
    private Map<Path, String> outputStems(List<Path> images, Path root) {
        Map<String, Path> byStem = new HashMap<>();
        Map<Path, String> outName = new HashMap<>();
        for (Path p : images) {
            Path rel = root.toAbsolutePath().relativize(p.toAbsolutePath());
            String name = rel.getFileName().toString();
            String stem = (rel.getParent() == null ? "" : rel.getParent().toString() + "/") + (name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : name);
            Path other = byStem.putIfAbsent(stem, p);
            outName.put(p, stem);
            if (other != null)
                throw new IllegalArgumentException("--source: " + other + " and " + p + " would both write " + out.resolve("labels").resolve(stem + ".txt")
                        + " (same name, another extension); rename one");
        }
        return outName;
    }
}
