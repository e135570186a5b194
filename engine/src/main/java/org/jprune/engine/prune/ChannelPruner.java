package org.jprune.engine.prune;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Graph;

/**
 * Structured (channel) pruning over the {@link DependencyGraph}'s groups, Torch-Pruning's pruner in
 * one shape for every {@link Importance}: {@link #step} prunes until a fraction of the prunable groups
 * is gone, never reviving one. A group belongs to the layer of its first producing conv. Global
 * ranking compares importances normalised by their layer's mean over its alive groups (as if the
 * pruned ones were removed, as Torch-Pruning removes them), so a layer pruned earlier is not ranked
 * against its own zeros; uniform ranking takes the same fraction from every layer. Each layer keeps
 * at least {@code roundTo} channels and a multiple of it, loses at most {@code maxLayerRatio} of its
 * channels, and layers named in {@code ignored} (conv node names) lose none; every node keeps at least
 * one channel (a darknet route slice never empties). The state is a {@link PruningPlan} ({@link #plan()});
 * a pruner can start from one.
 */
public final class ChannelPruner {
    public record Options(boolean global, int roundTo, double maxLayerRatio, Set<String> ignored) {
        public Options {
            if (roundTo < 1) throw new IllegalArgumentException("roundTo must be >= 1, got " + roundTo);
            if (!(maxLayerRatio > 0 && maxLayerRatio <= 1)) throw new IllegalArgumentException("max per-layer ratio must be in (0, 1], got " + maxLayerRatio);
            ignored = Set.copyOf(ignored);
        }

        public Options(boolean global, int roundTo) { this(global, roundTo, 1.0, Set.of()); }
    }

    private final DependencyGraph dg;
    private final Options opt;
    private final boolean[] alive;
    private final int[] layerOf;          // group -> conv node that first produces it (-1: none)

    public ChannelPruner(DependencyGraph dg, Options opt) {
        this.dg = dg;
        this.opt = opt;
        this.alive = new boolean[dg.groups().size()];
        Arrays.fill(alive, true);
        this.layerOf = new int[alive.length];
        for (DependencyGraph.Group g : dg.groups()) layerOf[g.id()] = dg.layerOf(g.id());
        for (var e : dg.convs().entrySet())
            if (e.getValue().groups() != 1) throw new IllegalArgumentException("pruning grouped convolutions is not supported (node " + e.getKey() + ")");
        Set<String> names = new java.util.HashSet<>();
        for (int n : dg.convs().keySet()) names.add(dg.graph().node(n).name());
        for (String s : opt.ignored()) if (!names.contains(s)) throw new IllegalArgumentException("ignored layer '" + s + "' is not a conv of this model");
    }

    /** A pruner whose pruned groups are those of {@code plan} (an earlier step's). */
    public ChannelPruner(DependencyGraph dg, Options opt, PruningPlan plan) {
        this(dg, opt);
        boolean[] a = plan.alive(dg);
        System.arraycopy(a, 0, alive, 0, a.length);
    }

    public DependencyGraph graph() { return dg; }
    public boolean alive(int group) { return alive[group]; }
    public boolean[] aliveFlags() { return alive.clone(); }

    /** The current state, to save with a checkpoint or {@link PruningPlan#apply} to the graph. */
    public PruningPlan plan() { return PruningPlan.of(dg, alive); }

    /** Prunable groups (those some conv produces and no output needs). */
    public int prunableCount() { return count(false); }

    /** Prunable groups currently pruned. */
    public int prunedCount() { return count(true); }

    private int count(boolean prunedOnly) {
        int n = 0;
        for (DependencyGraph.Group g : dg.groups()) if (g.prunable() && !g.producers().isEmpty() && (!prunedOnly || !alive[g.id()])) n++;
        return n;
    }

    /** Fraction of prunable groups currently pruned. */
    public double prunedFraction() {
        int p = prunableCount();
        return p == 0 ? 0 : (double) prunedCount() / p;
    }

    /** Marks these groups pruned (e.g. to reproduce a known state in a test). */
    public void prune(int... groups) {
        for (int g : groups) {
            if (g < 0 || g >= alive.length) throw new IllegalArgumentException("group " + g + " outside [0, " + alive.length + ")");
            if (!dg.groups().get(g).prunable()) throw new IllegalArgumentException("group " + g + " is not prunable");
            alive[g] = false;
        }
    }

    /** Prunes until {@code ratio} of the prunable groups are pruned in total, ranking by {@code importance}. */
    public void step(double ratio, Importance importance) { step(ratio, importance.of(dg)); }

    /** As {@link #step(double, Importance)} with precomputed scores, one per group. */
    public void step(double ratio, double[] imp) {
        if (!(ratio >= 0 && ratio < 1)) throw new IllegalArgumentException("pruning ratio must be in [0, 1), got " + ratio);
        if (imp.length != alive.length) throw new IllegalArgumentException("importance has " + imp.length + " entries for " + alive.length + " groups");
        Map<Integer, List<Integer>> byLayer = layers();
        Map<Integer, Double> mean = new HashMap<>();
        Map<Integer, Integer> maxDead = new HashMap<>();
        for (var e : byLayer.entrySet()) {
            mean.put(e.getKey(), e.getValue().stream().filter(g -> alive[g]).mapToDouble(g -> imp[g]).average().orElse(1) + 1e-12);
            maxDead.put(e.getKey(), maxDead(e.getKey(), e.getValue().size()));
        }
        if (opt.global()) {
            Map<Integer, Integer> dead = new HashMap<>();
            for (var e : byLayer.entrySet()) dead.put(e.getKey(), (int) e.getValue().stream().filter(g -> !alive[g]).count());
            int total = byLayer.values().stream().mapToInt(List::size).sum(), target = (int) Math.round(ratio * total);
            List<Integer> candidates = new ArrayList<>();
            byLayer.values().forEach(candidates::addAll);
            candidates.sort(Comparator.comparingDouble(g -> imp[g] / mean.get(layerOf[g])));
            int nDead = dead.values().stream().mapToInt(Integer::intValue).sum();
            for (int g : candidates) {
                if (nDead >= target) break;
                int l = layerOf[g];
                if (!alive[g] || dead.get(l) >= maxDead.get(l)) continue;
                alive[g] = false;
                dead.merge(l, 1, Integer::sum);
                nDead++;
            }
        } else {
            for (var e : byLayer.entrySet())
                pruneWeakest(e.getValue(), Math.min((int) Math.round(ratio * e.getValue().size()), maxDead.get(e.getKey())), imp);
        }
        keepMinimum(byLayer, imp);
    }

    /**
     * Prunes each named layer (conv node name) by its own fraction of its channels, ranking within the
     * layer by {@code imp} (e.g. ratios from a sensitivity analysis); unnamed layers lose nothing. The
     * caps, rounding and ignored layers of the options apply; earlier pruned groups stay pruned.
     */
    public void step(Map<String, Double> layerRatios, double[] imp) {
        if (imp.length != alive.length) throw new IllegalArgumentException("importance has " + imp.length + " entries for " + alive.length + " groups");
        Map<Integer, List<Integer>> byLayer = layers();
        Map<String, Integer> byName = new HashMap<>();
        for (int l : byLayer.keySet()) byName.put(dg.graph().node(l).name(), l);
        for (var e : layerRatios.entrySet()) {
            if (!byName.containsKey(e.getKey())) throw new IllegalArgumentException("layer ratio for '" + e.getKey() + "', which owns no prunable channels of this model");
            if (!(e.getValue() >= 0 && e.getValue() < 1)) throw new IllegalArgumentException("layer '" + e.getKey() + "': ratio must be in [0, 1), got " + e.getValue());
        }
        for (var e : byLayer.entrySet()) {
            int size = e.getValue().size();
            double ratio = layerRatios.getOrDefault(dg.graph().node(e.getKey()).name(), 0.0);
            pruneWeakest(e.getValue(), Math.min((int) Math.round(ratio * size), maxDead(e.getKey(), size)), imp);
        }
        keepMinimum(byLayer, imp);
    }

    /** Most groups a layer (conv node) of {@code size} groups may lose: none if ignored, else the ratio cap and the roundTo minimum. */
    private int maxDead(int layer, int size) {
        if (opt.ignored().contains(dg.graph().node(layer).name())) return 0;
        return Math.min(size - Math.min(size, opt.roundTo()), (int) Math.floor(opt.maxLayerRatio() * size + 1e-9));
    }

    /** Prunes a layer's weakest alive groups until {@code target} of them are pruned (never revives one). */
    private void pruneWeakest(List<Integer> groups, int target, double[] imp) {
        List<Integer> sorted = new ArrayList<>(groups);
        sorted.sort(Comparator.comparingDouble(g -> imp[g]));
        int d = (int) groups.stream().filter(g -> !alive[g]).count();
        for (int g : sorted) {
            if (d >= target) break;
            if (alive[g]) { alive[g] = false; d++; }
        }
    }

    /** Groups by the layer that first produces them (prunable ones only). */
    private Map<Integer, List<Integer>> layers() {
        Map<Integer, List<Integer>> byLayer = new LinkedHashMap<>();
        for (DependencyGraph.Group g : dg.groups())
            if (g.prunable() && layerOf[g.id()] >= 0) byLayer.computeIfAbsent(layerOf[g.id()], k -> new ArrayList<>()).add(g.id());
        return byLayer;
    }

    /** Each layer keeps at least roundTo channels and a multiple of it, and every node a channel, reviving the most important. */
    private void keepMinimum(Map<Integer, List<Integer>> byLayer, double[] imp) {
        for (List<Integer> gs : byLayer.values()) {
            long kept = gs.stream().filter(g -> alive[g]).count();
            long want = Math.min(gs.size(), Math.max(opt.roundTo(), (kept + opt.roundTo() - 1) / opt.roundTo() * opt.roundTo()));
            revive(gs, want - kept, imp);
        }
        // every node keeps a channel (a slice of a layer's channels could lose all of its own)
        for (Graph.Node n : dg.graph().nodes()) {
            int[] ch = dg.channels(n.id());
            if (ch.length == 0) continue;
            boolean any = false;
            for (int g : ch) any |= alive[g];
            if (!any) revive(Arrays.stream(ch).boxed().toList(), 1, imp);
        }
    }

    private void revive(List<Integer> groups, long n, double[] imp) {
        List<Integer> dead = new ArrayList<>(groups.stream().filter(g -> !alive[g]).distinct().toList());
        dead.sort(Comparator.comparingDouble((Integer g) -> imp[g]).reversed());
        for (int i = 0; i < n && i < dead.size(); i++) alive[dead.get(i)] = true;
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
