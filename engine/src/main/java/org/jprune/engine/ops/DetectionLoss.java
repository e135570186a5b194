package org.jprune.engine.ops;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
import java.util.Arrays;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.internal.Buf;

/**
 * The YOLOv5 loss on a device, one Detect level at a time (jp_yolo_obj_loss, jp_yolo_match_loss):
 * the objectness BCE over every output cell, and for the matched predictions CIoU, the class BCE and
 * the objectness targets, with their gradients. Target assignment (which prediction answers which
 * box) stays with the caller: it is small, branchy host work; its result is uploaded as {@link Matches}.
 * The loss accumulates into a 3-float device tensor {box, objectness, class}, so a training step
 * brings back three floats instead of the head's outputs and gradients.
 */
public final class DetectionLoss {
    private DetectionLoss() {}

    /** Floats per match: target x, y (offsets in the cell), w, h (grid units), anchor w, h (grid units), class. */
    public static final int MATCH_FIELDS = 7;

    /**
     * One level: output [n][anchors * outputs][ny][nx] with outputs = 5 + classes; the scales multiply
     * each term's sum (box: per 1 - CIoU; obj: per objectness BCE; cls: per class BCE, 0 skips classes);
     * clsPos / clsNeg are the smoothed one-hot targets.
     */
    public record Level(int n, int anchors, int outputs, int ny, int nx, float boxScale, float objScale, float clsScale, float clsPos, float clsNeg) {
        public Level {
            if (n < 0 || anchors < 1 || outputs < 5 || ny < 1 || nx < 1)
                throw new IllegalArgumentException("detection loss: bad level n=" + n + " anchors=" + anchors + " outputs=" + outputs + " grid=" + ny + "x" + nx);
            if ((long) ny * nx > Integer.MAX_VALUE || (long) n * anchors * outputs * ny * nx > Integer.MAX_VALUE)
                throw new IllegalArgumentException("detection loss: level too large: " + n + "x" + anchors + "x" + outputs + "x" + ny + "x" + nx);
            for (float f : new float[] {boxScale, objScale, clsScale, clsPos, clsNeg})
                if (!Float.isFinite(f)) throw new IllegalArgumentException("detection loss: a scale or class target is not finite: " + f);
        }
        public int cells() { return ny * nx; }
        int[] outputShape() { return new int[] {n, anchors * outputs, ny, nx}; }
    }

    /**
     * Matches of one level on a device, in groups of one (image, anchor, cell) each, in the loss's
     * order: group g holds matches groupStart[g] .. groupStart[g+1]-1 at image * anchors + anchor =
     * groupCell[2g] and cell gj * nx + gi = groupCell[2g+1]; the last match of a group sets the cell's
     * objectness target. Validated against the level here, so the kernels never see a bad list.
     */
    public static final class Matches implements AutoCloseable {
        private final Device device;
        private final Level level;
        private final int groups, count;
        private Tensor match;
        private Buf start, cell;

        public Matches(Device device, Level level, float[] match, int[] groupStart, int[] groupCell, int groups) {
            String op = "yolo_match_loss";
            if (groups < 0 || groupStart.length < groups + 1 || groupCell.length < 2 * groups)
                throw new IllegalArgumentException(op + ": " + groups + " groups need " + (groups + 1) + " starts and " + 2 * groups + " cells, got "
                        + groupStart.length + " and " + groupCell.length);
            if (groupStart[0] != 0) throw new IllegalArgumentException(op + ": groupStart[0] = " + groupStart[0] + ", not 0");
            long rows = (long) level.n() * level.anchors();
            int classes = level.outputs() - 5;
            for (int g = 0; g < groups; g++) {
                if (groupStart[g + 1] <= groupStart[g])
                    throw new IllegalArgumentException(op + ": groupStart must be strictly increasing, got " + groupStart[g] + " then " + groupStart[g + 1]);
                if (groupCell[2 * g] < 0 || groupCell[2 * g] >= rows)
                    throw new IllegalArgumentException(op + ": group " + g + " is at image*anchors+anchor " + groupCell[2 * g] + ", outside [0, " + rows + ")");
                if (groupCell[2 * g + 1] < 0 || groupCell[2 * g + 1] >= level.cells())
                    throw new IllegalArgumentException(op + ": group " + g + " is at cell " + groupCell[2 * g + 1] + ", outside [0, " + level.cells() + ")");
            }
            this.count = groupStart[groups];
            if ((long) count * MATCH_FIELDS > match.length)
                throw new IllegalArgumentException(op + ": " + count + " matches need " + (long) count * MATCH_FIELDS + " floats, got " + match.length);
            for (int m = 0; m < count; m++) {
                float c = match[m * MATCH_FIELDS + 6];
                if (level.clsScale() != 0 && !(c >= 0 && c < classes && c == (int) c))
                    throw new IllegalArgumentException(op + ": match " + m + " has class " + c + ", not one of 0 .. " + (classes - 1));
            }
            this.device = device;
            this.level = level;
            this.groups = groups;
            this.match = Tensor.of(device, Arrays.copyOf(match, Math.max(1, count) * MATCH_FIELDS), Math.max(1, count), MATCH_FIELDS);
            this.start = kernels(device).allocInts(groups + 1);
            this.cell = kernels(device).allocInts(Math.max(1, 2 * groups));
            kernels(device).uploadInts(start, groupStart, groups + 1);
            if (groups > 0) kernels(device).uploadInts(cell, groupCell, 2 * groups);
        }

        public int groups() { return groups; }
        public int count() { return count; }
        public Level level() { return level; }

        @Override
        public void close() {
            if (match != null) {
                match.close();
                kernels(device).free(start);
                kernels(device).free(cell);
                match = null;
            }
        }
    }

    /** grad = the objectness BCE's gradient (0 on the other outputs), loss[1] += its scaled sum. */
    public static void objectness(Level level, Tensor loss, Tensor grad, Tensor out) {
        String op = "yolo_obj_loss";
        check(op, level, loss, grad, out);
        kernels(out.device()).yoloObjLoss(level, buf(loss), buf(grad), buf(out));
    }

    /** Adds the matched predictions' box, class and objectness-target terms (after {@link #objectness}). */
    public static void matched(Level level, Tensor loss, Tensor grad, Tensor out, Matches m) {
        String op = "yolo_match_loss";
        check(op, level, loss, grad, out);
        if (m.match == null) throw new IllegalStateException(op + ": the matches are closed");
        if (!m.level.equals(level)) throw new IllegalArgumentException(op + ": matches were built for " + m.level + ", not " + level);
        if (m.device != out.device()) throw new IllegalArgumentException(op + ": matches are on " + m.device + ", the output on " + out.device());
        if (m.groups == 0) return;
        kernels(out.device()).yoloMatchLoss(level, buf(loss), buf(grad), buf(out), buf(m.match), m.start, m.cell, m.groups);
    }

    private static void check(String op, Level level, Tensor loss, Tensor grad, Tensor out) {
        Checks.sameDevice(op, loss, grad, out);
        Checks.shape(op, "out", out, level.outputShape());
        Checks.shape(op, "grad", grad, level.outputShape());
        Checks.size(op, "loss", loss, 3);
    }

    private static final double EPS = 1e-7;

    /** 1 if a < b, 0.5 at a tie, else 0: the share of min(a, b)'s gradient that goes to a (torch.min/max split it evenly). */
    private static double less(double a, double b) { return a < b ? 1 : a == b ? 0.5 : 0; }

    /**
     * CIoU of box (x, y, w, h) against (tx, ty, tw, th), as YOLOv5's bbox_iou(CIoU=True) computes it;
     * returns {ciou, alpha} and writes d(ciou)/d(x, y, w, h) into grad with alpha held constant
     * (alpha = NaN: compute it here).
     */
    public static double[] ciou(double x, double y, double w, double h, double tx, double ty, double tw, double th, double alpha, double[] grad) {
        double b1x1 = x - w / 2, b1x2 = x + w / 2, b1y1 = y - h / 2, b1y2 = y + h / 2;
        double b2x1 = tx - tw / 2, b2x2 = tx + tw / 2, b2y1 = ty - th / 2, b2y2 = ty + th / 2;
        double w1 = w, h1 = Math.max(h, EPS), w2 = tw, h2 = Math.max(th, EPS);
        double iwRaw = Math.min(b1x2, b2x2) - Math.max(b1x1, b2x1), ihRaw = Math.min(b1y2, b2y2) - Math.max(b1y1, b2y1);
        double iw = Math.max(iwRaw, 0), ih = Math.max(ihRaw, 0);
        double inter = iw * ih, union = w1 * h1 + w2 * h2 - inter + EPS, iou = inter / union;
        double cw = Math.max(b1x2, b2x2) - Math.min(b1x1, b2x1), ch = Math.max(b1y2, b2y2) - Math.min(b1y1, b2y1);
        double c2 = cw * cw + ch * ch + EPS;
        double rho2 = ((b2x1 + b2x2 - b1x1 - b1x2) * (b2x1 + b2x2 - b1x1 - b1x2) + (b2y1 + b2y2 - b1y1 - b1y2) * (b2y1 + b2y2 - b1y1 - b1y2)) / 4;
        double k = 4 / (Math.PI * Math.PI), delta = Math.atan(w2 / h2) - Math.atan(w1 / h1), v = k * delta * delta;
        if (Double.isNaN(alpha)) alpha = v / (v - iou + (1 + EPS));
        double ciou = iou - (rho2 / c2 + v * alpha);
        if (grad != null) {
            // d(iw)/d(x, w) and d(ih)/d(y, h), zero where the overlap is clamped; at ties torch.min/max
            // split the gradient evenly between their arguments, and so do these
            double diwdx = 0, diwdw = 0, dihdy = 0, dihdh = 0;
            if (iwRaw > 0) {
                double r = less(b1x2, b2x2), l = less(b2x1, b1x1);
                diwdx = r - l;
                diwdw = 0.5 * r + 0.5 * l;
            }
            if (ihRaw > 0) {
                double b = less(b1y2, b2y2), t = less(b2y1, b1y1);
                dihdy = b - t;
                dihdh = 0.5 * b + 0.5 * t;
            }
            double dInter[] = {ih * diwdx, iw * dihdy, ih * diwdw, iw * dihdh};
            double dUnion[] = {-dInter[0], -dInter[1], h1 - dInter[2], (h > EPS ? w1 : 0) - dInter[3]};
            double rx = less(b2x2, b1x2), lx = less(b1x1, b2x1), by = less(b2y2, b1y2), ty2 = less(b1y1, b2y1);
            double dcw[] = {rx - lx, 0, 0.5 * rx + 0.5 * lx, 0};
            double dch[] = {0, by - ty2, 0, 0.5 * by + 0.5 * ty2};
            double drho2[] = {-2 * (tx - x), -2 * (ty - y), 0, 0};
            double dd = w1 * w1 + h1 * h1;
            double dv[] = {0, 0, -2 * k * delta * h1 / dd, h > EPS ? 2 * k * delta * w1 / dd : 0};
            for (int q = 0; q < 4; q++) {
                double diou = (dInter[q] * union - inter * dUnion[q]) / (union * union);
                double dc2 = 2 * cw * dcw[q] + 2 * ch * dch[q];
                double dpen = (drho2[q] * c2 - rho2 * dc2) / (c2 * c2);
                grad[q] = diou - dpen - alpha * dv[q];
            }
        }
        return new double[] {ciou, alpha};
    }
}
