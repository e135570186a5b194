package org.jprune.yolo.eval;

/** A box in pixels of the model input (x1, y1, x2, y2), its confidence and class. */
public record Detection(float x1, float y1, float x2, float y2, float conf, int cls) {
    public static float iou(float ax1, float ay1, float ax2, float ay2, float bx1, float by1, float bx2, float by2) {
        float iw = Math.min(ax2, bx2) - Math.max(ax1, bx1), ih = Math.min(ay2, by2) - Math.max(ay1, by1);
        if (iw <= 0 || ih <= 0) return 0;
        float inter = iw * ih, union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
        return union <= 0 ? 0 : inter / union;
    }

    /** For the evaluators: a class id outside 0..nc-1 is an IllegalArgumentException naming what it belongs to. */
    static void requireClass(String what, int cls, int nc) {
        if (cls < 0 || cls >= nc) throw new IllegalArgumentException(what + " class " + cls + " outside 0.." + (nc - 1));
    }

    public float iou(Detection o) { return iou(x1, y1, x2, y2, o.x1, o.y1, o.x2, o.y2); }
}
