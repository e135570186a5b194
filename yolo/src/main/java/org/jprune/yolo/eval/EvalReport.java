package org.jprune.yolo.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jprune.yolo.data.Annotations;
import org.jprune.yolo.report.Plots;

/**
 * One evaluation of detections against ground truth with every metric the project reports: COCO
 * (pycocotools' 12 numbers), Pascal VOC AP (2007 11-point and 2010+ all-point, IoU 0.5) and a
 * per-class table; writes the table and a PR curve PNG.
 */
public record EvalReport(CocoEval.Result coco, VocEval.Result voc07, VocEval.Result voc12, List<String> names) {

    public static EvalReport evaluate(Annotations.Set gt, List<List<Detection>> dets, boolean vocPixels) {
        int nc = gt.names().size();
        CocoEval coco = new CocoEval(nc);
        VocEval voc = new VocEval(nc);
        // pycocotools walks the images in the order of their ids (ties in score across images are
        // broken by it): numeric ids numerically, others as strings
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < gt.images().size(); i++) order.add(i);
        boolean numeric = gt.images().stream().allMatch(im -> im.id().matches("\\d{1,18}"));
        order.sort(numeric ? java.util.Comparator.comparingLong((Integer i) -> Long.parseLong(gt.images().get(i).id()))
                : java.util.Comparator.comparing((Integer i) -> gt.images().get(i).id()));
        for (int i : order) {
            List<CocoEval.Truth> ct = new ArrayList<>();
            List<VocEval.Truth> vt = new ArrayList<>();
            for (Annotations.Obj o : gt.images().get(i).objects()) {
                // COCO boxes are continuous: VOC's inclusive pixel boxes start one pixel earlier
                double off = vocPixels ? 1 : 0;
                ct.add(new CocoEval.Truth((float) (o.x1() - off), (float) (o.y1() - off), (float) o.x2(), (float) o.y2(), o.cls(),
                        vocPixels ? (o.x2() - o.x1() + 1) * (o.y2() - o.y1() + 1) : o.area(), o.crowd() || o.difficult()));
                vt.add(new VocEval.Truth((float) o.x1(), (float) o.y1(), (float) o.x2(), (float) o.y2(), o.cls(), o.difficult() || o.crowd()));
            }
            // VOC boxes are inclusive pixel indices for the detections too: the same shift, so that a
            // detection equal to its truth has IoU 1
            List<Detection> cd = dets.get(i);
            if (vocPixels) {
                cd = new ArrayList<>();
                for (Detection d : dets.get(i)) cd.add(new Detection(d.x1() - 1, d.y1() - 1, d.x2(), d.y2(), d.conf(), d.cls()));
            }
            coco.add(cd, ct);
            voc.add(dets.get(i), vt);
        }
        return new EvalReport(coco.evaluate(), voc.evaluate(true), voc.evaluate(false), gt.names());
    }

    public String text() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < CocoEval.STAT_NAMES.length; i++)
            sb.append(String.format(Locale.ROOT, " Average %s %s = %.3f%n", i < 6 ? "Precision  (AP)" : "Recall     (AR)", CocoEval.STAT_NAMES[i].substring(3), coco.stats()[i]));
        sb.append(String.format(Locale.ROOT, " Pascal VOC mAP@0.5: %.4f (VOC2007 11-point), %.4f (VOC2010+ all points)%n%n", voc07.map(), voc12.map()));
        sb.append(String.format(Locale.ROOT, "%-14s %7s %7s %7s %8s %9s %9s%n", "class", "truths", "dets", "AP50", "AP50-95", "VOC07 AP", "VOC12 AP"));
        sb.append(String.format(Locale.ROOT, "%-14s %7d %7d %7.3f %8.3f %9.3f %9.3f%n", "all", java.util.Arrays.stream(coco.truths()).sum(),
                java.util.Arrays.stream(coco.detections()).sum(), coco.map50(), coco.map5095(), voc07.map(), voc12.map()));
        for (int c = 0; c < names.size(); c++)
            sb.append(String.format(Locale.ROOT, "%-14s %7d %7d %7.3f %8.3f %9.3f %9.3f%n", names.get(c), coco.truths()[c], coco.detections()[c],
                    coco.ap50()[c], coco.ap5095()[c], voc07.ap()[c], voc12.ap()[c]));
        return sb.toString();
    }

    /** Writes OUT/eval.txt and OUT/PR_curve.png. */
    public void write(Path out) throws IOException {
        Files.createDirectories(out);
        Files.writeString(out.resolve("eval.txt"), text());
        Path png = out.resolve("PR_curve.png");
        Plots.optional(png, () -> Plots.prCurve(png, coco.pr50(), coco.ap50(), names), System.err);  // the scores are in eval.txt
    }
}
