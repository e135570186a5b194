package org.jprune.engine.prune;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.nn.BatchNorm2dLayer;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.ops.Channels;

/**
 * Structured magnitude pruning (Torch-Pruning's MagnitudePruner): the importance of a channel group
 * is the sum over its producing convolutions of the Lp norm of the channel's weight row; pruning
 * masks whole groups. A group belongs to the layer of its first producer; {@code global} ranks
 * importances normalised by their layer's mean across the whole model, otherwise every layer loses
 * the same fraction. Each layer keeps at least {@code roundTo} channels and a multiple of it. Masks
 * go on the parameters (conv rows and columns, bias, BN scale and shift), so masked channels output 0
 * and the optimizer keeps them at 0 while the network fine-tunes; {@link #parameterCount} and
 * {@link #gflops} give the size of the network once the masked channels are removed.
 */
public final class MagnitudePruner {
    public record Options(int p, boolean global, int roundTo) {
        public Options {
            if (p != 1 && p != 2) throw new IllegalArgumentException("norm p must be 1 or 2, got " + p);
            if (roundTo < 1) throw new IllegalArgumentException("roundTo must be >= 1, got " + roundTo);
        }
    }

    private final DependencyGraph dg;
    private final Options opt;
    private final boolean[] alive;
    private final int[] layerOf;          // group -> conv node that first produces it (-1: none)

    public MagnitudePruner(DependencyGraph dg, Options opt) {
        this.dg = dg;
        this.opt = opt;
        this.alive = new boolean[dg.groups().size()];
        java.util.Arrays.fill(alive, true);
        this.layerOf = new int[alive.length];
        for (DependencyGraph.Group g : dg.groups()) layerOf[g.id()] = dg.layerOf(g.id());
        for (var e : dg.convs().entrySet())
            if (e.getValue().groups() != 1) throw new IllegalArgumentException("pruning grouped convolutions is not supported (node " + e.getKey() + ")");
    }

    public boolean alive(int group) { return alive[group]; }

    /** Fraction of prunable groups currently pruned. */
    public double prunedFraction() {
        int p = 0, d = 0;
        for (DependencyGraph.Group g : dg.groups()) if (g.prunable() && !g.producers().isEmpty()) { p++; if (!alive[g.id()]) d++; }
        return p == 0 ? 0 : (double) d / p;
    }

    /** Importance of every group from the current weights (0 for groups without producers). */
    public double[] importance() {
        double[] imp = new double[alive.length];
        for (var e : dg.convs().entrySet()) {
            float[] norms;
            try (Tensor n = Channels.norms(e.getValue().weight().value(), 0, opt.p())) {
                norms = n.toArray();
            }
            int[] groups = dg.channels(e.getKey());
            for (int k = 0; k < groups.length; k++) imp[groups[k]] += norms[k];
        }
        return imp;
    }

    /** Prunes (masks) until {@code ratio} of the prunable groups are pruned in total; never revives a group. */
    public void step(double ratio) {
        step(ratio, importance());
    }

    /**
     * As {@link #step(double)}, ranking by the given importance per group instead of the producers'
     * norms (e.g. {@link GroupRegularizer#groupNorms()}, the norm of everything pruning a group removes).
     */
    public void step(double ratio, double[] imp) {
        if (!(ratio >= 0 && ratio < 1)) throw new IllegalArgumentException("pruning ratio must be in [0, 1), got " + ratio);
        checkImportance(imp);
        Map<Integer, List<Integer>> byLayer = new LinkedHashMap<>();
        for (DependencyGraph.Group g : dg.groups())
            if (g.prunable() && layerOf[g.id()] >= 0) byLayer.computeIfAbsent(layerOf[g.id()], k -> new ArrayList<>()).add(g.id());
        Map<Integer, Double> mean = new HashMap<>();
        // the layer mean of the groups still alive: as if the pruned ones were removed (Torch-Pruning
        // removes them), so a layer pruned in an earlier step is not ranked against its own zeros
        for (var e : byLayer.entrySet())
            mean.put(e.getKey(), e.getValue().stream().filter(g -> alive[g]).mapToDouble(g -> imp[g]).average().orElse(1) + 1e-12);
        if (opt.global()) {
            int total = byLayer.values().stream().mapToInt(List::size).sum(), target = (int) Math.round(ratio * total);
            List<Integer> candidates = new ArrayList<>();
            byLayer.values().forEach(candidates::addAll);
            candidates.sort(Comparator.comparingDouble(g -> imp[g] / mean.get(layerOf[g])));
            int dead = 0;
            for (int g : candidates) if (!alive[g]) dead++;
            for (int g : candidates) {
                if (dead >= target) break;
                if (!alive[g]) continue;
                alive[g] = false;
                dead++;
            }
        } else {
            for (List<Integer> gs : byLayer.values()) {
                int target = (int) Math.round(ratio * gs.size());
                List<Integer> sorted = new ArrayList<>(gs);
                sorted.sort(Comparator.comparingDouble(g -> imp[g]));
                int dead = (int) gs.stream().filter(g -> !alive[g]).count();
                for (int g : sorted) {
                    if (dead >= target) break;
                    if (alive[g]) { alive[g] = false; dead++; }
                }
            }
        }
        // per layer: keep at least roundTo and a multiple of it, reviving the most important
        for (List<Integer> gs : byLayer.values()) {
            long kept = gs.stream().filter(g -> alive[g]).count();
            long want = Math.min(gs.size(), Math.max(opt.roundTo(), (kept + opt.roundTo() - 1) / opt.roundTo() * opt.roundTo()));
            List<Integer> dead = new ArrayList<>(gs.stream().filter(g -> !alive[g]).toList());
            dead.sort(Comparator.comparingDouble((Integer g) -> imp[g]).reversed());
            for (int i = 0; i < want - kept && i < dead.size(); i++) alive[dead.get(i)] = true;
        }
        applyMasks();
    }

    /**
     * Marks every prunable group whose importance is 0 as pruned and masks it: restores, on weights
     * saved after an earlier pruning step (pruned channels are exactly 0), the pruning state that the
     * checkpoint does not hold, so that training from it keeps those channels at 0.
     */
    public void pruneZeroGroups(double[] imp) {
        checkImportance(imp);
        for (DependencyGraph.Group g : dg.groups()) if (g.prunable() && layerOf[g.id()] >= 0 && imp[g.id()] == 0) alive[g.id()] = false;
        applyMasks();
    }

    private void checkImportance(double[] imp) {
        if (imp.length != alive.length) throw new IllegalArgumentException("importance has " + imp.length + " entries for " + alive.length + " groups");
    }

    /** Sets the parameter masks from the alive groups (conv rows x columns, bias, the BN after each conv). */
    public void applyMasks() {
        for (var e : dg.convs().entrySet()) {
            Conv2dLayer c = e.getValue();
            Device d = c.weight().value().device();
            int[] out = dg.channels(e.getKey()), in = dg.inputChannels(e.getKey());
            int rs = c.kernel() * c.kernel();
            float[] m = new float[out.length * in.length * rs];
            for (int k = 0; k < out.length; k++)
                for (int ci = 0; ci < in.length; ci++)
                    if (alive[out[k]] && alive[in[ci]]) java.util.Arrays.fill(m, (k * in.length + ci) * rs, (k * in.length + ci + 1) * rs, 1f);
            c.weight().setMask(Tensor.of(d, m, c.weight().value().shape()));
            float[] om = new float[out.length];
            for (int k = 0; k < out.length; k++) om[k] = alive[out[k]] ? 1f : 0f;
            if (c.bias() != null) c.bias().setMask(Tensor.of(d, om, out.length));
            BatchNorm2dLayer bn = dg.bnAfter(e.getKey());
            if (bn != null) {
                bn.gamma().setMask(Tensor.of(d, om, out.length));
                bn.beta().setMask(Tensor.of(d, om, out.length));
            }
        }
    }

    /** Parameters of the network with the pruned channels removed (conv weights and biases, BN scale and shift). */
    public long parameterCount() {
        long n = 0;
        for (var e : dg.convs().entrySet()) {
            Conv2dLayer c = e.getValue();
            long o = count(dg.channels(e.getKey())), i = count(dg.inputChannels(e.getKey()));
            n += o * i * c.kernel() * c.kernel() + (c.bias() != null ? o : 0);
            if (dg.bnAfter(e.getKey()) != null) n += 2 * o;
        }
        return n;
    }

    /** GFLOPs of one forward pass with the pruned channels removed (2 x MACs + bias/BN adds), given the graph's shapes. */
    public double gflops(int[][] shapes) {
        double f = 0;
        for (var e : dg.convs().entrySet()) {
            Conv2dLayer c = e.getValue();
            int[] s = shapes[e.getKey()];
            long o = count(dg.channels(e.getKey())), i = count(dg.inputChannels(e.getKey())), hw = (long) s[2] * s[3];
            f += 2.0 * hw * o * i * c.kernel() * c.kernel() + hw * o;
        }
        return f / 1e9;
    }

    private long count(int[] groups) {
        long n = 0;
        for (int g : groups) if (alive[g]) n++;
        return n;
    }
}
