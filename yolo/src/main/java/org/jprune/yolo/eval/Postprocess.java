package org.jprune.yolo.eval;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Detect outputs to boxes, as Ultralytics' Detect (inference) and non_max_suppression do it:
 * xy = (2 sigmoid - 0.5 + grid) * stride, wh = (2 sigmoid)^2 * anchor, conf = objectness x class
 * probability; candidates over conf_thres (every class over it with multi-label, else the best),
 * class-aware NMS (boxes offset per class so classes never suppress each other), at most maxDet.
 */
public final class Postprocess {
    private Postprocess() {}

    public record Settings(float confThres, float iouThres, boolean multiLabel, int maxDet) {
        /** val.py's settings. */
        public static final Settings VAL = new Settings(0.001f, 0.6f, true, 300);
        /** detect.py's settings. */
        public static final Settings DETECT = new Settings(0.25f, 0.45f, false, 1000);
    }

    static float sigmoid(float x) { return (float) (1 / (1 + Math.exp(-x))); }

    /**
     * The decoded predictions of a batch as Ultralytics' Detect returns them at inference (and its ONNX
     * export as output0): [bs][anchors over every level, in level, anchor, y, x order][5 + nc] with x, y,
     * w, h in input pixels and objectness and class probabilities after the sigmoid. Flat, row-major.
     * {@code outputs} are the raw Detect outputs per level, [bs][na*(5+nc)][ny][nx]. The Java twin of
     * {@code YoloModel.predict}, which decodes on the model's backend (jp_yolo_decode).
     */
    public static float[] decode(float[][] outputs, int bs, int[] ny, int[] nx, int[] strides, float[][] anchorsPx, int nc) {
        int na = anchorsPx[0].length / 2, no = nc + 5, total = 0;
        for (int i = 0; i < outputs.length; i++) {
            if (outputs[i].length != (long) bs * na * no * ny[i] * nx[i])
                throw new IllegalArgumentException("decode: level " + i + " has " + outputs[i].length + " values, expected " + bs + " x " + na * no
                        + " x " + ny[i] + " x " + nx[i]);
            total += na * ny[i] * nx[i];
        }
        float[] out = new float[Math.multiplyExact(Math.multiplyExact(bs, total), no)];
        for (int b = 0; b < bs; b++) {
            int row = b * total;
            for (int i = 0; i < outputs.length; i++) {
                int plane = ny[i] * nx[i], w = nx[i];
                float[] src = outputs[i];
                float stride = strides[i];
                for (int a = 0; a < na; a++, row += plane) {
                    int base = (b * na * no + a * no) * plane;
                    float aw = anchorsPx[i][2 * a], ah = anchorsPx[i][2 * a + 1];
                    // one output row per position, written in order (writing channel by channel was 2x slower)
                    for (int p = 0, o = row * no, s = base; p < plane; p++, o += no, s++) {
                        out[o] = (sigmoid(src[s]) * 2 - 0.5f + p % w) * stride;
                        out[o + 1] = (sigmoid(src[s + plane]) * 2 - 0.5f + p / w) * stride;
                        float tw = sigmoid(src[s + 2 * plane]) * 2, th = sigmoid(src[s + 3 * plane]) * 2;
                        out[o + 2] = tw * tw * aw; // (2 sigmoid)^2, rounded once as pow(.., 2) rounds it
                        out[o + 3] = th * th * ah;
                        for (int c = 4, q = s + 4 * plane; c < no; c++, q += plane) out[o + c] = sigmoid(src[q]);
                    }
                }
            }
        }
        return out;
    }

    /** Detections for image b of a batch; outputs per level [bs][na*(5+nc)][ny][nx]. */
    public static List<Detection> image(float[][] outputs, int b, int[] ny, int[] nx, int[] strides, float[][] anchorsPx, int nc, Settings s) {
        int na = anchorsPx[0].length / 2, no = nc + 5;
        List<Detection> cand = new ArrayList<>();
        for (int i = 0; i < outputs.length; i++) {
            int plane = ny[i] * nx[i];
            for (int a = 0; a < na; a++) {
                int base = (b * na * no + a * no) * plane;
                for (int gy = 0; gy < ny[i]; gy++)
                    for (int gx = 0; gx < nx[i]; gx++) {
                        int p = gy * nx[i] + gx;
                        float obj = sigmoid(outputs[i][base + 4 * plane + p]);
                        if (obj <= s.confThres()) continue;
                        float x = (sigmoid(outputs[i][base + p]) * 2 - 0.5f + gx) * strides[i];
                        float y = (sigmoid(outputs[i][base + plane + p]) * 2 - 0.5f + gy) * strides[i];
                        float tw = sigmoid(outputs[i][base + 2 * plane + p]) * 2, th = sigmoid(outputs[i][base + 3 * plane + p]) * 2;
                        float w = tw * tw * anchorsPx[i][2 * a], h = th * th * anchorsPx[i][2 * a + 1]; // (2 sigmoid)^2, rounded once as pow(.., 2) was
                        float x1 = x - w / 2, y1 = y - h / 2, x2 = x + w / 2, y2 = y + h / 2;
                        if (nc == 1) {
                            if (obj > s.confThres()) cand.add(new Detection(x1, y1, x2, y2, obj, 0));
                            continue;
                        }
                        int best = 0;
                        float bestConf = -1;
                        for (int c = 0; c < nc; c++) {
                            float conf = obj * sigmoid(outputs[i][base + (5 + c) * plane + p]);
                            if (s.multiLabel() && conf > s.confThres()) cand.add(new Detection(x1, y1, x2, y2, conf, c));
                            if (conf > bestConf) { bestConf = conf; best = c; }
                        }
                        if (!s.multiLabel() && bestConf > s.confThres()) cand.add(new Detection(x1, y1, x2, y2, bestConf, best));
                    }
            }
        }
        return nms(cand, s.iouThres(), s.maxDet());
    }

    /**
     * Class-aware greedy NMS: highest confidence first, a box suppresses later boxes of its class over
     * iouThres; at most 30000 candidates in (highest confidence) and maxDet out. Classes never interact,
     * so each runs on its own list and keeps at most maxDet: the work is sum over classes of
     * kept x candidates, not candidates squared.
     */
    public static List<Detection> nms(List<Detection> dets, float iouThres, int maxDet) {
        List<Detection> sorted = new ArrayList<>(dets);
        sorted.sort(Comparator.comparingDouble(Detection::conf).reversed());
        if (sorted.size() > 30000) sorted = sorted.subList(0, 30000);
        java.util.Map<Integer, List<Detection>> byClass = new java.util.TreeMap<>();
        for (Detection d : sorted) byClass.computeIfAbsent(d.cls(), k -> new ArrayList<>()).add(d);
        List<Detection> keep = new ArrayList<>();
        for (List<Detection> cls : byClass.values()) {
            boolean[] dead = new boolean[cls.size()];
            int kept = 0;
            for (int i = 0; i < cls.size() && kept < maxDet; i++) {
                if (dead[i]) continue;
                Detection d = cls.get(i);
                keep.add(d);
                kept++;
                for (int j = i + 1; j < cls.size(); j++) if (!dead[j] && d.iou(cls.get(j)) > iouThres) dead[j] = true;
            }
        }
        keep.sort(Comparator.comparingDouble(Detection::conf).reversed());
        return keep.size() > maxDet ? new ArrayList<>(keep.subList(0, maxDet)) : keep;
    }
}
