package org.jprune.yolo.loss;

import java.util.ArrayList;
import java.util.List;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.ops.DetectionLoss;

/**
 * The YOLOv5 loss (Ultralytics utils/loss.py ComputeLoss) with its gradient, computed on the host in
 * double precision from the Detect outputs (small: the convolutions stay native).
 *
 * <p>Outputs per level are [n][na*(5+nc)][ny][nx] logits. Targets are rows (image, class, cx, cy, w,
 * h) normalised to the input. Matching: each target goes to every anchor whose w/h ratio is within
 * anchor_t, in its cell and the two nearest neighbour cells (offset 0.5). Box: 1 - CIoU of
 * (2 sigmoid(t_xy) - 0.5, (2 sigmoid(t_wh))^2 * anchor) against the target, mean over matches, with
 * CIoU's alpha held constant (no_grad in YOLOv5). Objectness: BCE against the detached, clamped CIoU
 * at matched cells (last write wins, as in indexing assignment) and 0 elsewhere, mean over each
 * level, weighted 4.0 / 1.0 / 0.4. Class: BCE against one-hot (label smoothing cp/cn), mean over
 * matches x classes, only when nc > 1. Total = (box*lbox + obj*lobj + cls*lcls) * batch size.
 */
public final class YoloLoss {
    private static final double[][] OFFSETS = {{0, 0}, {1, 0}, {0, 1}, {-1, 0}, {0, -1}};

    private final int nc, na, nl;
    private final float[][] anchors;  // per level, in grid units: w,h pairs
    private final double[] balance;
    private final Hyp hyp;

    /** anchorsPx: per level w,h pairs in pixels; strides per level. */
    public YoloLoss(int nc, float[][] anchorsPx, int[] strides, Hyp scaledHyp) {
        this.nc = nc;
        this.nl = strides.length;
        this.na = anchorsPx[0].length / 2;
        this.anchors = new float[nl][];
        for (int i = 0; i < nl; i++) {
            anchors[i] = anchorsPx[i].clone();
            for (int j = 0; j < anchors[i].length; j++) anchors[i][j] /= strides[i];
        }
        this.balance = nl == 3 ? new double[] {4.0, 1.0, 0.4} : new double[] {4.0, 1.0, 0.25, 0.06, 0.02};
        this.hyp = scaledHyp;
    }

    /** A matched (target, anchor, cell) at a level. */
    record Match(int level, int b, int a, int gj, int gi, int cls, double tx, double ty, double tw, double th) {}

    /** The parts of the loss (already weighted by the hyperparameters and batch size). */
    public record Result(double total, double box, double obj, double cls, int matches) {}

    /** Quantities YOLOv5 detaches: objectness targets per level and CIoU's alpha per match (for tests). */
    public static final class Frozen {
        double[][] tobj;
        double[] alpha;
    }

    /** Matches in Ultralytics' order (per level: offset, then anchor, then target), so the objectness
     * target of a cell hit twice is the same one PyTorch's indexing assignment leaves. */
    List<Match> buildTargets(int bs, int[] ny, int[] nx, float[] targets, int nt) {
        List<Match> out = new ArrayList<>();
        for (int i = 0; i < nl; i++)
            for (int o = 0; o < 5; o++)
                for (int a = 0; a < na; a++)
                    for (int t = 0; t < nt; t++) {
                        int b = (int) targets[t * 6], c = (int) targets[t * 6 + 1];
                        double gx = targets[t * 6 + 2] * nx[i], gy = targets[t * 6 + 3] * ny[i];
                        double gw = targets[t * 6 + 4] * nx[i], gh = targets[t * 6 + 5] * ny[i];
                        double rw = gw / anchors[i][2 * a], rh = gh / anchors[i][2 * a + 1];
                        if (Math.max(Math.max(rw, 1 / rw), Math.max(rh, 1 / rh)) >= hyp.anchorT()) continue;
                        double gxi = nx[i] - gx, gyi = ny[i] - gy;
                        boolean use = switch (o) {
                            case 0 -> true;
                            case 1 -> gx % 1 < 0.5 && gx > 1;
                            case 2 -> gy % 1 < 0.5 && gy > 1;
                            case 3 -> gxi % 1 < 0.5 && gxi > 1;
                            default -> gyi % 1 < 0.5 && gyi > 1;
                        };
                        if (!use) continue;
                        // .long() truncates toward zero; the clamp happens in place before tbox uses the cell
                        int gi = Math.max(0, Math.min(nx[i] - 1, (int) (gx - OFFSETS[o][0] * 0.5)));
                        int gj = Math.max(0, Math.min(ny[i] - 1, (int) (gy - OFFSETS[o][1] * 0.5)));
                        out.add(new Match(i, b, a, gj, gi, c, gx - gi, gy - gj, gw, gh));
                    }
        return out;
    }

    static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    /** log(1 + exp(x)) without overflow */
    static double softplus(double x) { return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)); }

    /** BCE with logits: y*softplus(-x) + (1-y)*softplus(x); its derivative is sigmoid(x) - y. */
    static double bce(double x, double y) { return y * softplus(-x) + (1 - y) * softplus(x); }

    /**
     * The same loss computed where the outputs live ({@link DetectionLoss}'s kernels): the matching
     * stays here (small, branchy), the matches go to the device grouped by the cell they hit (in
     * Ultralytics' order, so the last match of a cell sets its objectness target), and only the three
     * loss terms come back. grads: one tensor per level, shaped like its output, overwritten with
     * dL/d(output). Float where {@link #compute(float[][], int, int[], int[], float[], int, float[][], Frozen)}
     * is double: the two agree to float rounding (YoloDeviceLossTest).
     */
    public Result compute(List<Tensor> outputs, int bs, float[] targets, int nt, List<Tensor> grads) {
        final int no = nc + 5;
        int[] ny = new int[nl], nx = new int[nl];
        for (int i = 0; i < nl; i++) {
            int[] s = outputs.get(i).shape();
            if (s.length != 4 || s[0] != bs || s[1] != na * no)
                throw new IllegalArgumentException("loss: output " + i + " has shape " + java.util.Arrays.toString(s) + ", not [" + bs + ", " + na * no + ", ny, nx]");
            ny[i] = s[2];
            nx[i] = s[3];
        }
        List<Match> matches = buildTargets(bs, ny, nx, targets, nt);
        Device dev = outputs.get(0).device();
        double cp = 1 - 0.5 * hyp.labelSmoothing(), cn = 0.5 * hyp.labelSmoothing();
        try (Tensor loss = Tensor.zeros(dev, 3)) {
            int mi = 0;
            for (int i = 0; i < nl; i++) {
                int from = mi;
                while (mi < matches.size() && matches.get(mi).level() == i) mi++;
                int n = mi - from, plane = ny[i] * nx[i];
                var level = new DetectionLoss.Level(bs, na, no, ny[i], nx[i], n == 0 ? 0f : (float) (hyp.box() * bs / n),
                        (float) (hyp.obj() * bs * balance[i] / ((double) bs * na * plane)), nc > 1 && n > 0 ? (float) (hyp.cls() * bs / ((double) n * nc)) : 0f,
                        (float) cp, (float) cn);
                DetectionLoss.objectness(level, loss, grads.get(i), outputs.get(i));
                if (n == 0) continue;
                // group by (image, anchor, cell) in order of first appearance; a group keeps its matches' order
                java.util.LinkedHashMap<Long, List<Match>> groups = new java.util.LinkedHashMap<>();
                for (Match m : matches.subList(from, mi))
                    groups.computeIfAbsent((long) (m.b() * na + m.a()) * plane + m.gj() * nx[i] + m.gi(), k -> new ArrayList<>()).add(m);
                float[] flat = new float[n * DetectionLoss.MATCH_FIELDS];
                int[] start = new int[groups.size() + 1], cell = new int[2 * groups.size()];
                int g = 0, k = 0;
                for (List<Match> grp : groups.values()) {
                    Match first = grp.get(0);
                    cell[2 * g] = first.b() * na + first.a();
                    cell[2 * g + 1] = first.gj() * nx[i] + first.gi();
                    for (Match m : grp) {
                        int o = k++ * DetectionLoss.MATCH_FIELDS;
                        flat[o] = (float) m.tx(); flat[o + 1] = (float) m.ty(); flat[o + 2] = (float) m.tw(); flat[o + 3] = (float) m.th();
                        flat[o + 4] = anchors[i][2 * m.a()]; flat[o + 5] = anchors[i][2 * m.a() + 1]; flat[o + 6] = m.cls();
                    }
                    start[++g] = k;
                }
                try (var dm = new DetectionLoss.Matches(dev, level, flat, start, cell, groups.size())) {
                    DetectionLoss.matched(level, loss, grads.get(i), outputs.get(i), dm);
                }
            }
            float[] l = loss.toArray();
            return new Result(l[0] + l[1] + l[2], l[0], l[1], l[2], matches.size());
        }
    }

    /**
     * Loss of outputs (per level [bs][na*(5+nc)][ny][nx]) against targets; writes dL/d(output) into
     * grads (same layout, overwritten) when grads is non-null. frozen: null to compute the detached
     * quantities, or values to hold fixed (the gradient check uses this).
     */
    public Result compute(float[][] outputs, int bs, int[] ny, int[] nx, float[] targets, int nt, float[][] grads, Frozen frozen) {
        final int no = nc + 5;
        List<Match> matches = buildTargets(bs, ny, nx, targets, nt);
        int[] perLevel = new int[nl];
        for (Match m : matches) perLevel[m.level()]++;
        boolean freeze = frozen != null && frozen.tobj != null;
        if (frozen != null && !freeze) {
            frozen.tobj = new double[nl][];
            frozen.alpha = new double[matches.size()];
        }
        if (grads != null) for (float[] g : grads) java.util.Arrays.fill(g, 0f);
        double cp = 1 - 0.5 * hyp.labelSmoothing(), cn = 0.5 * hyp.labelSmoothing();
        double lbox = 0, lobj = 0, lcls = 0;
        int mi = 0;
        for (int i = 0; i < nl; i++) {
            final int plane = ny[i] * nx[i];
            double[] tobj = freeze ? frozen.tobj[i] : new double[bs * na * plane];
            int n = perLevel[i];
            for (; mi < matches.size() && matches.get(mi).level() == i; mi++) {
                Match m = matches.get(mi);
                int base = (m.b() * na * no + m.a() * no) * plane + m.gj() * nx[i] + m.gi();
                double[] t = new double[4];
                for (int f = 0; f < 4; f++) t[f] = outputs[i][base + f * plane];
                double sx = sigmoid(t[0]), sy = sigmoid(t[1]), sw = sigmoid(t[2]), sh = sigmoid(t[3]);
                double aw = anchors[i][2 * m.a()], ah = anchors[i][2 * m.a() + 1];
                double px = 2 * sx - 0.5, py = 2 * sy - 0.5, pw = 4 * sw * sw * aw, ph = 4 * sh * sh * ah;
                double[] dc = new double[4];
                double alpha = freeze ? frozen.alpha[mi] : Double.NaN;
                double[] ci = DetectionLoss.ciou(px, py, pw, ph, m.tx(), m.ty(), m.tw(), m.th(), alpha, dc);
                if (frozen != null && !freeze) frozen.alpha[mi] = ci[1];
                lbox += (1 - ci[0]) / n;
                if (!freeze) tobj[m.b() * na * plane + m.a() * plane + m.gj() * nx[i] + m.gi()] = Math.max(0, ci[0]);
                if (grads != null) {
                    double k = -hyp.box() * bs / n;
                    grads[i][base] += (float) (k * dc[0] * 2 * sx * (1 - sx));
                    grads[i][base + plane] += (float) (k * dc[1] * 2 * sy * (1 - sy));
                    grads[i][base + 2 * plane] += (float) (k * dc[2] * 8 * sw * sw * (1 - sw) * aw);
                    grads[i][base + 3 * plane] += (float) (k * dc[3] * 8 * sh * sh * (1 - sh) * ah);
                }
                if (nc > 1) {
                    for (int c = 0; c < nc; c++) {
                        int idx = base + (5 + c) * plane;
                        double x = outputs[i][idx], y = c == m.cls() ? cp : cn;
                        lcls += bce(x, y) / ((double) n * nc);
                        if (grads != null) grads[i][idx] += (float) (hyp.cls() * bs * (sigmoid(x) - y) / ((double) n * nc));
                    }
                }
            }
            if (freeze) {
                // keep tobj as given
            } else if (frozen != null) {
                frozen.tobj[i] = tobj;
            }
            double level = 0;
            int cells = bs * na * plane;
            for (int b = 0; b < bs; b++)
                for (int a = 0; a < na; a++)
                    for (int p = 0; p < plane; p++) {
                        int idx = (b * na * no + a * no + 4) * plane + p;
                        double y = tobj[(b * na + a) * plane + p], x = outputs[i][idx];
                        level += bce(x, y);
                        if (grads != null) grads[i][idx] += (float) (hyp.obj() * bs * balance[i] * (sigmoid(x) - y) / cells);
                    }
            lobj += balance[i] * level / cells;
        }
        double box = hyp.box() * lbox * bs, obj = hyp.obj() * lobj * bs, cls = hyp.cls() * lcls * bs;
        return new Result(box + obj + cls, box, obj, cls, matches.size());
    }
}
