package org.jprune.yolo.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.jprune.yolo.data.Annotations;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.eval.DetectionFiles;
import org.jprune.yolo.eval.EvalReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "eval", mixinStandardHelpOptions = true, description = "Evaluate detections from any detector against ground truth: COCO AP/AR (pycocotools' "
        + "12 numbers), Pascal VOC AP (2007 11-point and 2010+), a per-class table; writes OUT/eval.txt and OUT/PR_curve.png.")
final class EvalCmd implements Callable<Integer> {
    @Option(names = "--data", description = "Ground truth from a data YAML (any format it supports), with --split.")
    Path data;
    @Option(names = "--split", defaultValue = "val", description = "Split of --data. Default: ${DEFAULT-VALUE}.")
    String split;
    @Option(names = "--gt", description = "Ground truth file or folder: a COCO instances JSON, a folder of VOC XML files, or an images folder with YOLO labels.")
    Path gt;
    @Option(names = "--gt-format", description = "yolo, voc or coco (with --gt). Default: from --gt (.json: coco, a folder of .xml: voc, else yolo).")
    String gtFormat;
    @Option(names = "--names", split = ",", description = "Class names, in class-index order (needed for yolo and voc --gt).")
    List<String> names;
    @Option(names = "--dets", required = true, description = "Detections: a folder of <image stem>.txt files with 'class conf x1 y1 x2 y2' lines "
            + "(pixels; what `jprune detect` writes) or a COCO results JSON.")
    Path dets;
    @Option(names = {"-o", "--out"}, defaultValue = "runs/eval", description = "Output directory. Default: ${DEFAULT-VALUE}.")
    Path out;

    @Override
    public Integer call() throws Exception {
        List<YoloDataset.Problem> problems = new ArrayList<>();
        Annotations.GroundTruth truth;
        if (data != null) {
            YoloDataset.DataConfig cfg = YoloDataset.readConfig(data);
            truth = new Annotations.GroundTruth(YoloDataset.annotationSet(cfg, split, problems), cfg.format().equals("voc"));
        } else if (gt != null) {
            try {
                truth = Annotations.readGroundTruth(gt, gtFormat, names, problems);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--gt " + gt + ": " + e.getMessage() + " (--gt-format, --names)");
            }
        } else {
            throw new IllegalArgumentException("give the ground truth with --data or --gt");
        }
        var d = DetectionFiles.read(dets, truth.set(), problems);
        for (YoloDataset.Problem p : problems) System.err.println("warning: " + p);
        EvalReport report = EvalReport.evaluate(truth.set(), d, truth.vocPixels());
        System.out.print(report.text());
        report.write(out);
        System.out.println("wrote " + out.resolve("eval.txt") + " and " + out.resolve("PR_curve.png"));
        return 0;
    }
}
