package org.jprune.yolo.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Anchor fitting as Ultralytics' utils/autoanchor.py does it: how well a set of anchors covers a
 * dataset's boxes (best possible recall, anchors above threshold, fitness), and new anchors from
 * k-means on the box sizes refined by a genetic search (1000 generations, mutation probability 0.9,
 * sigma 0.1), sorted by area and dealt to the levels in order. Seeded, so a run is repeatable.
 *
 * <p>Box sizes are in pixels at the training image size; thr is 1 / anchor_t. A box matches an anchor
 * when both side ratios are within [thr, 1 / thr], the rule the loss uses to pick positives.
 */
public final class Anchors {
    private Anchors() {}

    /** bpr: share of boxes some anchor matches; aat: anchors matching a box, on average; fitness: mean best ratio over matched boxes. */
    public record Fit(double bpr, double aat, double fitness) {}

    /** How anchors (flat [w, h, w, h, ...] in pixels, all levels) cover boxes wh ([i] = {w, h}). */
    public static Fit fit(float[][] wh, float[] anchors, double thr) {
        if (wh.length == 0) throw new IllegalArgumentException("anchors: no boxes to fit");
        int n = anchors.length / 2;
        double bpr = 0, aat = 0, fitness = 0;
        for (float[] b : wh) {
            double best = 0;
            for (int a = 0; a < n; a++) {
                double x = ratio(b, anchors[2 * a], anchors[2 * a + 1]);
                if (x > thr) aat++;
                best = Math.max(best, x);
            }
            if (best > thr) {
                bpr++;
                fitness += best;
            }
        }
        return new Fit(bpr / wh.length, aat / wh.length, fitness / wh.length);
    }

    /* min over w and h of min(r, 1/r), r = box side / anchor side */
    private static double ratio(float[] b, double aw, double ah) {
        double rw = b[0] / aw, rh = b[1] / ah;
        return Math.min(Math.min(rw, 1 / rw), Math.min(rh, 1 / rh));
    }

    /**
     * n anchors for boxes wh (sides under 2 px are left out, as kmean_anchors does): k-means (k-means++
     * start, 30 iterations) on sizes whitened by their standard deviation, then the genetic search on
     * {@link #fit} fitness; flat [w, h, ...] sorted by area.
     */
    public static float[] evolve(float[][] wh, int n, double thr, int generations, long seed) {
        List<float[]> kept = new ArrayList<>();
        for (float[] b : wh) if (b[0] >= 2 || b[1] >= 2) kept.add(b);
        if (kept.size() < n) throw new IllegalArgumentException("anchors: " + kept.size() + " boxes of 2 px or more, need at least " + n);
        float[][] boxes = kept.toArray(float[][]::new);
        SplittableRandom r = new SplittableRandom(seed);
        double[] sd = new double[2];
        for (int d = 0; d < 2; d++) {
            double m = 0, q = 0;
            for (float[] b : boxes) m += b[d];
            m /= boxes.length;
            for (float[] b : boxes) q += (b[d] - m) * (b[d] - m);
            sd[d] = Math.max(Math.sqrt(q / boxes.length), 1e-9);
        }
        double[][] k = kmeans(boxes, sd, n, r);
        float[] best = flatten(k);
        double f = fit(boxes, best, thr).fitness();
        for (int g = 0; g < generations; g++) {
            float[] cand = new float[best.length];
            boolean changed;
            do {
                changed = false;
                double scale = r.nextDouble();
                for (int i = 0; i < cand.length; i++) {
                    double v = r.nextDouble() < 0.9 ? Math.clamp(1 + scale * gaussian(r) * 0.1, 0.3, 3.0) : 1;
                    if (v != 1) changed = true;
                    cand[i] = (float) Math.max(best[i] * v, 2.0);
                }
            } while (!changed);
            double fg = fit(boxes, cand, thr).fitness();
            if (fg > f) {
                f = fg;
                best = cand;
            }
        }
        return sortByArea(best);
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    private static double[][] kmeans(float[][] boxes, double[] sd, int n, SplittableRandom r) {
        double[][] x = new double[boxes.length][];
        for (int i = 0; i < boxes.length; i++) x[i] = new double[] {boxes[i][0] / sd[0], boxes[i][1] / sd[1]};
        double[][] c = new double[n][];
        c[0] = x[r.nextInt(x.length)].clone();
        double[] d2 = new double[x.length];
        for (int j = 1; j < n; j++) { // k-means++: next centre with probability proportional to squared distance
            double total = 0;
            for (int i = 0; i < x.length; i++) {
                double m = Double.MAX_VALUE;
                for (int q = 0; q < j; q++) m = Math.min(m, dist2(x[i], c[q]));
                d2[i] = m;
                total += m;
            }
            double pick = r.nextDouble() * total;
            int i = 0;
            while (i < x.length - 1 && (pick -= d2[i]) > 0) i++;
            c[j] = x[i].clone();
        }
        int[] assign = new int[x.length];
        for (int it = 0; it < 30; it++) {
            for (int i = 0; i < x.length; i++) {
                int b = 0;
                for (int q = 1; q < n; q++) if (dist2(x[i], c[q]) < dist2(x[i], c[b])) b = q;
                assign[i] = b;
            }
            double[][] sum = new double[n][2];
            int[] cnt = new int[n];
            for (int i = 0; i < x.length; i++) {
                sum[assign[i]][0] += x[i][0];
                sum[assign[i]][1] += x[i][1];
                cnt[assign[i]]++;
            }
            for (int q = 0; q < n; q++) if (cnt[q] > 0) c[q] = new double[] {sum[q][0] / cnt[q], sum[q][1] / cnt[q]};
        }
        for (double[] ci : c) {
            ci[0] *= sd[0];
            ci[1] *= sd[1];
        }
        return c;
    }

    private static double dist2(double[] a, double[] b) { return (a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]); }

    private static float[] flatten(double[][] k) {
        float[] out = new float[2 * k.length];
        for (int i = 0; i < k.length; i++) {
            out[2 * i] = (float) k[i][0];
            out[2 * i + 1] = (float) k[i][1];
        }
        return out;
    }

    private static float[] sortByArea(float[] a) {
        Integer[] idx = new Integer[a.length / 2];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        Arrays.sort(idx, (p, q) -> Double.compare((double) a[2 * p] * a[2 * p + 1], (double) a[2 * q] * a[2 * q + 1]));
        float[] out = new float[a.length];
        for (int i = 0; i < idx.length; i++) {
            out[2 * i] = a[2 * idx[i]];
            out[2 * i + 1] = a[2 * idx[i] + 1];
        }
        return out;
    }

    /** Flat anchors dealt to levels of na each, rounded to whole pixels (how model YAMLs write them). */
    public static List<float[]> toLevels(float[] flat, int levels) {
        int per = flat.length / levels;
        if (per * levels != flat.length || per % 2 != 0) throw new IllegalArgumentException("anchors: " + flat.length / 2 + " anchors do not split over " + levels + " levels");
        List<float[]> out = new ArrayList<>();
        for (int l = 0; l < levels; l++) {
            float[] a = new float[per];
            for (int i = 0; i < per; i++) a[i] = Math.max(1, Math.round(flat[l * per + i]));
            out.add(a);
        }
        return out;
    }

    /** Per-level anchors as one flat [w, h, ...] array (the form {@link #fit} takes). */
    public static float[] flatten(List<float[]> levels) {
        int n = 0;
        for (float[] l : levels) n += l.length;
        float[] out = new float[n];
        int k = 0;
        for (float[] l : levels) for (float v : l) out[k++] = v;
        return out;
    }

    /** One anchor size as text: a whole number as an integer ("10"), else Java's shortest float form ("10.375"). */
    static String text(float v) { return v == Math.rint(v) && Math.abs(v) < 1e9 ? Long.toString((long) v) : Float.toString(v); }

    /** A level's anchors as "[10, 13, 16, 30, 33, 23]", as Ultralytics prints model arguments. */
    public static String text(float[] level) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < level.length; i++) sb.append(i == 0 ? "" : ", ").append(text(level[i]));
        return sb.append(']').toString();
    }

    /** "w,h,w,h;w,h,..." per level, for checkpoint metadata; {@link #parse} reads it back. */
    public static String format(List<float[]> levels) {
        StringBuilder sb = new StringBuilder();
        for (float[] l : levels) {
            if (!sb.isEmpty()) sb.append(';');
            for (int i = 0; i < l.length; i++) sb.append(i == 0 ? "" : ",").append(text(l[i]));
        }
        return sb.toString();
    }

    /** Reads {@link #format}'s text back (whole numbers or floats; a float's shortest form reads back to the same float). */
    public static List<float[]> parse(String s) {
        List<float[]> out = new ArrayList<>();
        for (String level : s.split(";")) {
            String[] f = level.split(",");
            float[] a = new float[f.length];
            for (int i = 0; i < f.length; i++) a[i] = Float.parseFloat(f[i].strip());
            out.add(a);
        }
        return out;
    }
}
