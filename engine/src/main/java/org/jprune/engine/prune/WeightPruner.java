package org.jprune.engine.prune;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Graph;

/**
 * Unstructured (fine-grained) magnitude pruning of convolution weights, as SparseML's GMP modifier and
 * the seed's references use it: the weights of smallest |w| are masked, ranked over every target layer
 * at once (global) or within each layer (the same sparsity everywhere). Targets are the convolutions
 * of the graph except those reading the graph input or feeding an output (the stem and the detection
 * head, which hold few weights and matter most) and those named in {@code ignored}. The result is the
 * element masks of a {@link PruningPlan} ({@link PruningPlan#withWeightMasks}); weights pruned earlier
 * (0 in the weights, 0 in an earlier mask) rank first, so masks only grow as sparsity rises.
 */
public final class WeightPruner {
    public record Options(boolean global, Set<String> ignored) {
        public Options { ignored = Set.copyOf(ignored); }
    }

    private final DependencyGraph dg;
    private final Options opt;
    private final List<Conv2dLayer> targets = new ArrayList<>();

    public WeightPruner(DependencyGraph dg, Options opt) {
        this.dg = dg;
        this.opt = opt;
        Graph g = dg.graph();
        java.util.Set<Integer> outputs = new java.util.HashSet<>();
        for (int o : g.outputs()) outputs.add(o);
        java.util.Set<String> names = new java.util.HashSet<>();
        for (var e : dg.convs().entrySet()) {
            String name = g.node(e.getKey()).name();
            names.add(name);
            boolean stem = g.node(e.getKey()).inputs()[0] == Graph.INPUT;
            if (stem || outputs.contains(e.getKey()) || opt.ignored().contains(name)) continue;
            targets.add(e.getValue());
        }
        for (String s : opt.ignored()) if (!names.contains(s)) throw new IllegalArgumentException("ignored layer '" + s + "' is not a conv of this model");
    }

    /** The conv layers whose weights this pruner masks. */
    public List<Conv2dLayer> targets() { return List.copyOf(targets); }

    /** Weights of the target layers. */
    public long targetWeights() {
        long n = 0;
        for (Conv2dLayer c : targets) n += c.weight().value().numel();
        return n;
    }

    /**
     * Element masks (by weight name) that remove {@code sparsity} of the target weights by magnitude,
     * on top of {@code current} (its masked entries stay masked; null: none).
     */
    public Map<String, float[]> masks(double sparsity, Map<String, float[]> current) {
        if (!(sparsity >= 0 && sparsity < 1)) throw new IllegalArgumentException("sparsity must be in [0, 1), got " + sparsity);
        Map<String, float[]> vals = new LinkedHashMap<>();
        for (Conv2dLayer c : targets) {
            float[] w = c.weight().value().toArray();
            float[] m = current == null ? null : current.get(c.weight().name());
            for (int i = 0; i < w.length; i++) w[i] = m != null && m[i] == 0f ? -1f : Math.abs(w[i]); // earlier-pruned rank first
            vals.put(c.weight().name(), w);
        }
        Map<String, float[]> out = new LinkedHashMap<>();
        if (opt.global()) {
            long total = 0;
            for (float[] v : vals.values()) total += v.length;
            long k = (long) Math.floor(sparsity * total);
            if (total > Integer.MAX_VALUE) throw new IllegalArgumentException("unstructured pruning: " + total + " target weights exceed 2^31-1");
            float[] all = new float[(int) total];
            int o = 0;
            for (float[] v : vals.values()) { System.arraycopy(v, 0, all, o, v.length); o += v.length; }
            float thr = kth(all, k);
            long[] budget = {k - countBelow(all, thr)}; // ties at the threshold: prune just enough of them, in order
            for (var e : vals.entrySet()) out.put(e.getKey(), mask(e.getValue(), thr, budget));
        } else {
            for (var e : vals.entrySet()) {
                float[] v = e.getValue();
                long k = (long) Math.floor(sparsity * v.length);
                float thr = kth(v.clone(), k);
                long[] budget = {k - countBelow(v, thr)};
                out.put(e.getKey(), mask(v, thr, budget));
            }
        }
        return out;
    }

    /** The smallest value v such that k values are <= ... : the k-th smallest (0-based k-1); +inf-like sentinel for k == 0. */
    private static float kth(float[] a, long k) {
        if (k <= 0) return -Float.MAX_VALUE;
        float[] s = a.clone();
        Arrays.sort(s);
        return s[(int) Math.min(k, s.length) - 1];
    }

    private static long countBelow(float[] a, float thr) {
        long n = 0;
        for (float v : a) if (v < thr) n++;
        return n;
    }

    private static float[] mask(float[] v, float thr, long[] tieBudget) {
        float[] m = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            if (v[i] < thr) continue;
            if (v[i] == thr && tieBudget[0] > 0) { tieBudget[0]--; continue; }
            m[i] = 1f;
        }
        return m;
    }

    /** Fraction of target weights that the masks remove. */
    public double sparsity(Map<String, float[]> masks) {
        long z = 0, n = 0;
        for (float[] m : masks.values()) {
            for (float v : m) if (v == 0f) z++;
            n += m.length;
        }
        return n == 0 ? 0 : (double) z / n;
    }

    /**
     * Gradual magnitude pruning's sparsity at optimizer step {@code step} (Zhu and Gupta 2017, SparseML's
     * GMP modifier): {@code initial} at {@code start}, then a cubic ramp to {@code end}, held after it,
     * updated every {@code frequency} steps.
     */
    public record Gmp(double initial, double target, long start, long end, long frequency) {
        public Gmp {
            if (!(initial >= 0 && initial <= target && target < 1)) throw new IllegalArgumentException("GMP: need 0 <= initial <= final < 1, got " + initial + ", " + target);
            if (start < 0 || end < start) throw new IllegalArgumentException("GMP: need 0 <= start <= end, got " + start + ", " + end);
            if (frequency < 1) throw new IllegalArgumentException("GMP: update frequency must be >= 1, got " + frequency);
        }

        public double sparsity(long step) {
            if (step < start) return 0;
            if (step >= end) return target;
            long q = (step - start) / frequency * frequency; // updates happen every `frequency` steps
            double t = (double) q / (end - start);
            return target + (initial - target) * Math.pow(1 - t, 3);
        }

        /** Whether the masks change at this step. */
        public boolean updates(long step) { return step >= start && step <= end && (step - start) % frequency == 0; }
    }
}
