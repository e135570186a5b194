package org.jprune.yolo.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Box AP/AR as pycocotools' COCOeval computes them (evaluateImg + accumulate + summarize), with its
 * area ranges (all, small &lt; 32^2, medium &lt; 96^2, large) and maxDets (1, 10, 100):
 * per image and class, detections sorted by score (top maxDets), each matched greedily to the
 * unmatched ground truth of highest IoU at or above the threshold, preferring non-ignored truths
 * (truths outside the area range or crowd are ignored; a crowd truth can absorb many detections and
 * its IoU is intersection over the detection's area); unmatched detections outside the area range
 * are ignored. Per class over all images, precision is made monotone and sampled at 101 recall points;
 * classes without (non-ignored) ground truth are left out of the means.
 */
public final class CocoEval {
    public static final double[] IOU_THRESHOLDS = {0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95};
    public static final String[] AREA_NAMES = {"all", "small", "medium", "large"};
    static final double[][] AREAS = {{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}};
    public static final int[] MAX_DETS = {1, 10, 100};
    /** The 12 lines pycocotools' summarize() prints, in its order. */
    public static final String[] STAT_NAMES = {
        "AP @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]", "AP @[ IoU=0.50      | area=   all | maxDets=100 ]",
        "AP @[ IoU=0.75      | area=   all | maxDets=100 ]", "AP @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
        "AP @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]", "AP @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
        "AR @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]", "AR @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]",
        "AR @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]", "AR @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
        "AR @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]", "AR @[ IoU=0.50:0.95 | area= large | maxDets=100 ]"};

    /** A ground-truth box (pixels) with its class; area as COCO's 'area' field (w*h when not given); crowd = iscrowd. */
    public record Truth(float x1, float y1, float x2, float y2, int cls, double area, boolean crowd) {
        public Truth(float x1, float y1, float x2, float y2, int cls) { this(x1, y1, x2, y2, cls, (double) (x2 - x1) * (y2 - y1), false); }
    }

    /**
     * mAP50 and mAP50-95 (area all, maxDets 100), per class AP50 / AP50-95 (NaN for classes without
     * ground truth), counts, the 12 summary stats (-1 where pycocotools prints -1), and per class the
     * precision at the 101 recall points for IoU 0.5 (for PR curves).
     */
    public record Result(double map50, double map5095, double[] ap50, double[] ap5095, int[] truths, int[] detections, double[] stats,
                         double[][] pr50) {}

    private final int nc;
    private final List<List<Detection>> dets = new ArrayList<>();
    private final List<List<Truth>> truths = new ArrayList<>();

    public CocoEval(int nc) {
        if (nc <= 0) throw new IllegalArgumentException("need at least one class");
        this.nc = nc;
    }

    /** Adds one image's detections and ground truth (same coordinate frame). */
    public void add(List<Detection> imageDets, List<Truth> imageTruths) {
        for (Detection d : imageDets) Detection.requireClass("detection", d.cls(), nc);
        for (Truth t : imageTruths) Detection.requireClass("truth", t.cls(), nc);
        dets.add(List.copyOf(imageDets));
        truths.add(List.copyOf(imageTruths));
    }

    /** One (image, class, area) evaluation: evaluateImg's output. */
    private record ImageEval(float[] scores, boolean[][] matched, boolean[][] ignored, int truthsNotIgnored) {}

    private static double iou(Detection d, Truth g) {
        double iw = Math.min(d.x2(), g.x2()) - Math.max(d.x1(), g.x1()), ih = Math.min(d.y2(), g.y2()) - Math.max(d.y1(), g.y1());
        if (iw <= 0 || ih <= 0) return 0;
        double inter = iw * ih, da = (double) (d.x2() - d.x1()) * (d.y2() - d.y1());
        double union = g.crowd() ? da : da + (double) (g.x2() - g.x1()) * (g.y2() - g.y1()) - inter;
        return union <= 0 ? 0 : inter / union;
    }

    private ImageEval evaluateImg(List<Detection> allDets, List<Truth> allTruths, int c, double[] area) {
        List<Truth> g = new ArrayList<>();
        for (Truth t : allTruths) if (t.cls() == c) g.add(t);
        List<Detection> d = new ArrayList<>();
        for (Detection x : allDets) if (x.cls() == c) d.add(x);
        // ignored truths go last (stable); detections by score, top 100 (numpy mergesort: stable)
        boolean[] gIgnoreRaw = new boolean[g.size()];
        for (int j = 0; j < g.size(); j++) gIgnoreRaw[j] = g.get(j).crowd() || g.get(j).area() < area[0] || g.get(j).area() > area[1];
        Integer[] gOrder = new Integer[g.size()];
        for (int j = 0; j < gOrder.length; j++) gOrder[j] = j;
        Arrays.sort(gOrder, Comparator.comparingInt(j -> gIgnoreRaw[j] ? 1 : 0));
        List<Truth> gs = new ArrayList<>();
        boolean[] gIg = new boolean[g.size()];
        for (int j = 0; j < gOrder.length; j++) { gs.add(g.get(gOrder[j])); gIg[j] = gIgnoreRaw[gOrder[j]]; }
        d.sort((a, b) -> Float.compare(b.conf(), a.conf()));
        int maxDet = MAX_DETS[MAX_DETS.length - 1];
        if (d.size() > maxDet) d = d.subList(0, maxDet);
        int T = IOU_THRESHOLDS.length;
        boolean[][] dtm = new boolean[T][d.size()], dtIg = new boolean[T][d.size()];
        boolean[][] gtm = new boolean[T][gs.size()];
        double[][] ious = new double[d.size()][gs.size()];
        for (int i = 0; i < d.size(); i++) for (int j = 0; j < gs.size(); j++) ious[i][j] = iou(d.get(i), gs.get(j));
        for (int t = 0; t < T; t++)
            for (int i = 0; i < d.size(); i++) {
                double best = Math.min(IOU_THRESHOLDS[t], 1 - 1e-10);
                int m = -1;
                for (int j = 0; j < gs.size(); j++) {
                    if (gtm[t][j] && !gs.get(j).crowd()) continue;
                    if (m > -1 && !gIg[m] && gIg[j]) break;   // matched a real truth: ignored ones come after
                    if (ious[i][j] < best) continue;
                    best = ious[i][j];
                    m = j;
                }
                if (m == -1) continue;
                dtIg[t][i] = gIg[m];
                dtm[t][i] = true;
                gtm[t][m] = true;
            }
        for (int i = 0; i < d.size(); i++) {
            Detection x = d.get(i);
            double a = (double) (x.x2() - x.x1()) * (x.y2() - x.y1());
            boolean out = a < area[0] || a > area[1];
            for (int t = 0; t < T; t++) if (!dtm[t][i] && out) dtIg[t][i] = true;
        }
        float[] scores = new float[d.size()];
        for (int i = 0; i < d.size(); i++) scores[i] = d.get(i).conf();
        int npig = 0;
        for (boolean b : gIg) if (!b) npig++;
        return new ImageEval(scores, dtm, dtIg, npig);
    }

    public Result evaluate() {
        int T = IOU_THRESHOLDS.length, A = AREAS.length, M = MAX_DETS.length;
        double[][][][] precision = new double[T][nc][A][M];   // mean over recall points, -1 when undefined
        double[][][][] recall = new double[T][nc][A][M];
        double[][] pr50 = new double[nc][101];
        int[] nTruth = new int[nc], nDet = new int[nc];
        for (double[][][] a : precision) for (double[][] b : a) for (double[] c : b) Arrays.fill(c, -1);
        for (double[][][] a : recall) for (double[][] b : a) for (double[] c : b) Arrays.fill(c, -1);
        for (int c = 0; c < nc; c++) {
            for (int im = 0; im < dets.size(); im++) {
                for (Truth t : truths.get(im)) if (t.cls() == c) nTruth[c]++;
                int k = 0;
                for (Detection x : dets.get(im)) if (x.cls() == c) k++;
                nDet[c] += Math.min(k, MAX_DETS[M - 1]);
            }
            for (int a = 0; a < A; a++) {
                List<ImageEval> evals = new ArrayList<>();
                int npig = 0;
                for (int im = 0; im < dets.size(); im++) {
                    ImageEval e = evaluateImg(dets.get(im), truths.get(im), c, AREAS[a]);
                    evals.add(e);
                    npig += e.truthsNotIgnored();
                }
                if (npig == 0) continue;
                for (int m = 0; m < M; m++) {
                    // concatenate every image's top maxDet detections, then a stable sort by -score
                    List<int[]> refs = new ArrayList<>();   // (image, index)
                    for (int im = 0; im < evals.size(); im++)
                        for (int i = 0; i < Math.min(MAX_DETS[m], evals.get(im).scores().length); i++) refs.add(new int[] {im, i});
                    refs.sort((p, q) -> Float.compare(evals.get(q[0]).scores()[q[1]], evals.get(p[0]).scores()[p[1]]));
                    for (int t = 0; t < T; t++) {
                        List<double[]> pts = new ArrayList<>();   // (tp cumulative, fp cumulative) over non-ignored detections
                        double tp = 0, fp = 0;
                        for (int[] r : refs) {
                            ImageEval e = evals.get(r[0]);
                            if (e.ignored()[t][r[1]]) continue;
                            if (e.matched()[t][r[1]]) tp++; else fp++;
                            pts.add(new double[] {tp, fp});
                        }
                        int nd = pts.size();
                        double[] rc = new double[nd], pr = new double[nd];
                        for (int i = 0; i < nd; i++) {
                            rc[i] = pts.get(i)[0] / npig;
                            pr[i] = pts.get(i)[0] / (pts.get(i)[0] + pts.get(i)[1] + Math.ulp(1.0));
                        }
                        recall[t][c][a][m] = nd > 0 ? rc[nd - 1] : 0;
                        for (int i = nd - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
                        double sum = 0;
                        for (int r = 0; r <= 100; r++) {
                            int idx = lowerBound(rc, r / 100.0);
                            double q = idx < nd ? pr[idx] : 0;
                            sum += q;
                            if (t == 0 && a == 0 && m == M - 1) pr50[c][r] = q;
                        }
                        precision[t][c][a][m] = sum / 101;
                    }
                }
            }
        }
        double[] ap50 = new double[nc], ap5095 = new double[nc];
        for (int c = 0; c < nc; c++) {
            ap50[c] = precision[0][c][0][M - 1] < 0 ? Double.NaN : precision[0][c][0][M - 1];
            double s = 0;
            for (int t = 0; t < T; t++) s += precision[t][c][0][M - 1];
            ap5095[c] = Double.isNaN(ap50[c]) ? Double.NaN : s / T;
        }
        double[] stats = {
            summarize(precision, -1, 0, M - 1), summarize(precision, 0, 0, M - 1), summarize(precision, 5, 0, M - 1),
            summarize(precision, -1, 1, M - 1), summarize(precision, -1, 2, M - 1), summarize(precision, -1, 3, M - 1),
            summarize(recall, -1, 0, 0), summarize(recall, -1, 0, 1), summarize(recall, -1, 0, M - 1),
            summarize(recall, -1, 1, M - 1), summarize(recall, -1, 2, M - 1), summarize(recall, -1, 3, M - 1)};
        double m5095 = Math.max(stats[0], 0), m50 = Math.max(stats[1], 0);
        return new Result(m50, m5095, ap50, ap5095, nTruth, nDet, stats, pr50);
    }

    /** Mean over classes (and IoU thresholds when t = -1) of the defined entries; -1 when none. */
    private static double summarize(double[][][][] v, int t, int a, int m) {
        double s = 0;
        int n = 0;
        for (int ti = 0; ti < v.length; ti++) {
            if (t >= 0 && ti != t) continue;
            for (double[][] perClass : v[ti]) {
                double x = perClass[a][m];
                if (x > -1) { s += x; n++; }
            }
        }
        return n == 0 ? -1 : s / n;
    }

    /** First index with a[i] >= target (numpy searchsorted side='left'). */
    static int lowerBound(double[] a, double target) {
        int lo = 0, hi = a.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (a[mid] < target) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
