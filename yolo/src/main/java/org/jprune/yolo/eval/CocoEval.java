package org.jprune.yolo.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Box mAP as pycocotools' COCOeval computes it for area range "all": per image and class,
 * detections sorted by score (at most maxDets = 100), each matched greedily to the unmatched ground
 * truth of highest IoU at or above the threshold; per class over all images, precision made
 * monotone and sampled at 101 recall points (0, 0.01, ..., 1); AP = mean of the samples; classes
 * without ground truth are left out; mAP50 at IoU 0.5, mAP50-95 the mean over 0.50:0.05:0.95.
 */
public final class CocoEval {
    public static final double[] IOU_THRESHOLDS = {0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95};

    /** A ground-truth box (pixels) with its class. */
    public record Truth(float x1, float y1, float x2, float y2, int cls) {}

    /** mAP50, mAP50-95 and per class AP50 / AP50-95 (NaN for classes without ground truth) and counts. */
    public record Result(double map50, double map5095, double[] ap50, double[] ap5095, int[] truths, int[] detections) {}

    private final int nc, maxDets;
    private final List<List<Detection>> dets = new ArrayList<>();
    private final List<List<Truth>> truths = new ArrayList<>();

    public CocoEval(int nc) { this(nc, 100); }

    public CocoEval(int nc, int maxDets) {
        this.nc = nc;
        this.maxDets = maxDets;
    }

    /** Adds one image's detections and ground truth (same coordinate frame). */
    public void add(List<Detection> imageDets, List<Truth> imageTruths) {
        dets.add(List.copyOf(imageDets));
        truths.add(List.copyOf(imageTruths));
    }

    public Result evaluate() {
        double[][] ap = new double[nc][IOU_THRESHOLDS.length];
        int[] nTruth = new int[nc], nDet = new int[nc];
        for (int c = 0; c < nc; c++) {
            // per image: this class's detections (top maxDets by score) and truths
            List<float[]> scored = new ArrayList<>(); // {score, matched flag per threshold...}
            for (int im = 0; im < dets.size(); im++) {
                final int cc = c;
                List<Detection> d = new ArrayList<>(dets.get(im).stream().filter(x -> x.cls() == cc).toList());
                List<Truth> g = truths.get(im).stream().filter(x -> x.cls() == cc).toList();
                nTruth[c] += g.size();
                d.sort((a, b) -> Float.compare(b.conf(), a.conf()));
                if (d.size() > maxDets) d = d.subList(0, maxDets);
                nDet[c] += d.size();
                float[][] matched = new float[d.size()][IOU_THRESHOLDS.length];
                for (int t = 0; t < IOU_THRESHOLDS.length; t++) {
                    boolean[] used = new boolean[g.size()];
                    for (int i = 0; i < d.size(); i++) {
                        double best = Math.min(IOU_THRESHOLDS[t], 1 - 1e-10);
                        int m = -1;
                        for (int j = 0; j < g.size(); j++) {
                            if (used[j]) continue;
                            Truth gt = g.get(j);
                            double iou = Detection.iou(d.get(i).x1(), d.get(i).y1(), d.get(i).x2(), d.get(i).y2(), gt.x1(), gt.y1(), gt.x2(), gt.y2());
                            if (iou < best) continue;
                            best = iou;
                            m = j;
                        }
                        if (m >= 0) { used[m] = true; matched[i][t] = 1; }
                    }
                }
                for (int i = 0; i < d.size(); i++) {
                    float[] row = new float[1 + IOU_THRESHOLDS.length];
                    row[0] = d.get(i).conf();
                    System.arraycopy(matched[i], 0, row, 1, IOU_THRESHOLDS.length);
                    scored.add(row);
                }
            }
            if (nTruth[c] == 0) {
                Arrays.fill(ap[c], Double.NaN);
                continue;
            }
            scored.sort((a, b) -> Float.compare(b[0], a[0])); // pycocotools: mergesort of -score (stable)
            for (int t = 0; t < IOU_THRESHOLDS.length; t++) {
                int n = scored.size();
                double[] prec = new double[n], rec = new double[n];
                double tp = 0, fp = 0;
                for (int i = 0; i < n; i++) {
                    if (scored.get(i)[1 + t] > 0) tp++; else fp++;
                    rec[i] = tp / nTruth[c];
                    prec[i] = tp / (tp + fp + Math.ulp(1.0));
                }
                for (int i = n - 1; i > 0; i--) if (prec[i] > prec[i - 1]) prec[i - 1] = prec[i];
                double sum = 0;
                for (int r = 0; r <= 100; r++) {
                    double target = r / 100.0;
                    int idx = lowerBound(rec, target);
                    sum += idx < n ? prec[idx] : 0;
                }
                ap[c][t] = sum / 101;
            }
        }
        double[] ap50 = new double[nc], ap5095 = new double[nc];
        double m50 = 0, m5095 = 0;
        int classes = 0;
        for (int c = 0; c < nc; c++) {
            ap50[c] = ap[c][0];
            ap5095[c] = Double.isNaN(ap[c][0]) ? Double.NaN : Arrays.stream(ap[c]).average().orElse(0);
            if (Double.isNaN(ap50[c])) continue;
            m50 += ap50[c];
            m5095 += ap5095[c];
            classes++;
        }
        return new Result(classes == 0 ? 0 : m50 / classes, classes == 0 ? 0 : m5095 / classes, ap50, ap5095, nTruth, nDet);
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
