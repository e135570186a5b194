package org.jprune.yolo.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * Pascal VOC detection AP as the official devkit's VOCevaldet.m computes it: per class, detections
 * over all images sorted by confidence (stable); each takes the ground truth of its image with the
 * highest overlap, where boxes are inclusive pixel boxes (w = x2 - x1 + 1); with overlap &gt;= 0.5 it
 * is a true positive if that truth is not yet detected, a false positive if it is, and ignored if
 * the truth is "difficult"; otherwise a false positive. Recall is over non-difficult truths. AP is
 * VOC2007's 11-point interpolation (max precision at recall &gt;= 0, 0.1, ..., 1, averaged) or
 * VOC2010+'s area under the monotone precision envelope (VOCap.m).
 */
public final class VocEval {
    /** A VOC ground-truth box (pixel coordinates as in the XML) with class and difficult flag. */
    public record Truth(float x1, float y1, float x2, float y2, int cls, boolean difficult) {}

    /** Per class AP (NaN where a class has no non-difficult truth) and the mean over the other classes. */
    public record Result(double map, double[] ap, int[] truths) {}

    private final int nc;
    private final double minOverlap;
    private final List<List<Detection>> dets = new ArrayList<>();
    private final List<List<Truth>> truths = new ArrayList<>();

    public VocEval(int nc) { this(nc, 0.5); }

    public VocEval(int nc, double minOverlap) {
        if (nc <= 0) throw new IllegalArgumentException("need at least one class");
        if (!(minOverlap > 0 && minOverlap <= 1)) throw new IllegalArgumentException("overlap threshold must be in (0, 1], got " + minOverlap);
        this.nc = nc;
        this.minOverlap = minOverlap;
    }

    public void add(List<Detection> imageDets, List<Truth> imageTruths) {
        for (Detection d : imageDets) Detection.requireClass("detection", d.cls(), nc);
        for (Truth t : imageTruths) Detection.requireClass("truth", t.cls(), nc);
        dets.add(List.copyOf(imageDets));
        truths.add(List.copyOf(imageTruths));
    }

    /** use07: the VOC2007 11-point metric; otherwise VOC2010+ (all points). */
    public Result evaluate(boolean use07) {
        double[] ap = new double[nc];
        int[] npos = new int[nc];
        double sum = 0;
        int classes = 0;
        for (int c = 0; c < nc; c++) {
            List<int[]> refs = new ArrayList<>();   // (image, detection index)
            for (int im = 0; im < dets.size(); im++) {
                for (Truth t : truths.get(im)) if (t.cls() == c && !t.difficult()) npos[c]++;
                for (int i = 0; i < dets.get(im).size(); i++) if (dets.get(im).get(i).cls() == c) refs.add(new int[] {im, i});
            }
            refs.sort((p, q) -> Float.compare(dets.get(q[0]).get(q[1]).conf(), dets.get(p[0]).get(p[1]).conf()));
            boolean[][] detected = new boolean[dets.size()][];
            for (int im = 0; im < dets.size(); im++) detected[im] = new boolean[truths.get(im).size()];
            int nd = refs.size();
            double[] tp = new double[nd], fp = new double[nd];
            for (int d = 0; d < nd; d++) {
                int im = refs.get(d)[0];
                Detection b = dets.get(im).get(refs.get(d)[1]);
                double ovmax = Double.NEGATIVE_INFINITY;
                int jmax = -1;
                List<Truth> g = truths.get(im);
                for (int j = 0; j < g.size(); j++) {
                    Truth t = g.get(j);
                    if (t.cls() != c) continue;
                    double iw = Math.min(b.x2(), t.x2()) - Math.max(b.x1(), t.x1()) + 1, ih = Math.min(b.y2(), t.y2()) - Math.max(b.y1(), t.y1()) + 1;
                    if (iw <= 0 || ih <= 0) continue;
                    double ua = (b.x2() - b.x1() + 1.0) * (b.y2() - b.y1() + 1.0) + (t.x2() - t.x1() + 1.0) * (t.y2() - t.y1() + 1.0) - iw * ih;
                    double ov = iw * ih / ua;
                    if (ov > ovmax) { ovmax = ov; jmax = j; }
                }
                if (ovmax >= minOverlap) {
                    if (g.get(jmax).difficult()) continue;   // neither true nor false positive
                    if (!detected[im][jmax]) { tp[d] = 1; detected[im][jmax] = true; } else fp[d] = 1;
                } else {
                    fp[d] = 1;
                }
            }
            if (npos[c] == 0) { ap[c] = Double.NaN; continue; }
            double[] rec = new double[nd], prec = new double[nd];
            double ctp = 0, cfp = 0;
            for (int d = 0; d < nd; d++) {
                ctp += tp[d];
                cfp += fp[d];
                rec[d] = ctp / npos[c];
                prec[d] = ctp / (ctp + cfp);   // NaN when a difficult match leads (0/0), as in MATLAB; max() skips NaN there
            }
            ap[c] = use07 ? ap07(rec, prec) : apAllPoints(rec, prec);
            sum += ap[c];
            classes++;
        }
        return new Result(classes == 0 ? 0 : sum / classes, ap, npos);
    }

    /** VOCevaldet.m's 11-point AP: for t = 0:0.1:1, p = max(prec(rec >= t)) or 0; ap += p / 11. */
    static double ap07(double[] rec, double[] prec) {
        double ap = 0;
        for (int k = 0; k <= 10; k++) {
            double t = k / 10.0, p = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < rec.length; i++) if (rec[i] >= t && !Double.isNaN(prec[i])) p = Math.max(p, prec[i]);
            ap += (p == Double.NEGATIVE_INFINITY ? 0 : p) / 11;
        }
        return ap;
    }

    /** VOCap.m: mrec = [0 rec 1], mpre = [0 prec 0], envelope from the right, sum over recall changes. */
    static double apAllPoints(double[] rec, double[] prec) {
        int n = rec.length;
        double[] mrec = new double[n + 2], mpre = new double[n + 2];
        mrec[n + 1] = 1;
        for (int i = 0; i < n; i++) { mrec[i + 1] = rec[i]; mpre[i + 1] = Double.isNaN(prec[i]) ? 0 : prec[i]; }
        for (int i = n; i >= 0; i--) mpre[i] = Math.max(mpre[i], mpre[i + 1]);
        double ap = 0;
        for (int i = 1; i < n + 2; i++) if (mrec[i] != mrec[i - 1]) ap += (mrec[i] - mrec[i - 1]) * mpre[i];
        return ap;
    }
}
