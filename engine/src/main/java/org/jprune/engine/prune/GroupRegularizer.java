package org.jprune.engine.prune;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.nn.BatchNorm2dLayer;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Parameter;
import org.jprune.engine.ops.Channels;

/**
 * Group regularization for structured pruning (Torch-Pruning's GroupNormPruner, after DepGraph, Fang
 * et al. 2023): between backward and the optimizer step, adds to the gradients the derivative of
 * <pre>   lambda * sum over prunable groups g of gamma_g * ||w_g||_2</pre>
 * a group lasso over the {@link DependencyGraph}'s channel groups, where w_g is every parameter that
 * pruning g would remove: the producing convolutions' output rows and biases, the batch-norm scale
 * and shift after them, and the consuming convolutions' input columns. A conv weight entry belongs
 * to two groups (its output channel's and its input channel's) and is pushed by both. The push is
 * importance-adaptive: within each layer (the groups whose first producer is the same conv), gamma_g
 * = alpha^((Imax - I_g) / (Imax - Imin)) with I the group norm, so the weakest group is pushed alpha
 * times harder than the strongest (alpha = 1: plain group lasso). gamma and the norms are read from
 * the current weights at each call and held constant in the derivative (lambda * gamma_g * w /
 * ||w_g||). Groups that are already pruned (norm 0) or not prunable get nothing. The norms it drives
 * down are the importance {@link #groupNorms()} that {@link ChannelPruner#step(double, double[])}
 * then ranks.
 */
public final class GroupRegularizer {
    private final DependencyGraph dg;
    private final double lambda, alpha;
    private final Map<Conv2dLayer, List<int[]>> overlaps;

    public GroupRegularizer(DependencyGraph dg, double lambda, double alpha) {
        if (!(lambda >= 0) || Double.isInfinite(lambda)) throw new IllegalArgumentException("lambda must be finite and >= 0, got " + lambda);
        if (!(alpha >= 1) || Double.isInfinite(alpha)) throw new IllegalArgumentException("alpha must be finite and >= 1, got " + alpha);
        for (var e : dg.convs().entrySet())
            if (e.getValue().groups() != 1) throw new IllegalArgumentException("group regularization of grouped convolutions is not supported (node " + e.getKey() + ")");
        this.dg = dg;
        this.lambda = lambda;
        this.alpha = alpha;
        this.overlaps = findOverlaps(dg);
    }

    public double lambda() { return lambda; }
    public double alpha() { return alpha; }

    /** The L2 norm of every group's parameters (0 for groups no layer of the graph touches). */
    public double[] groupNorms() {
        double[] sq = new double[dg.groups().size()];
        for (var e : dg.convs().entrySet()) {
            int node = e.getKey();
            Conv2dLayer c = e.getValue();
            int[] out = dg.channels(node), in = dg.inputChannels(node);
            addSquares(sq, out, c.weight().value(), 0);
            addSquares(sq, in, c.weight().value(), 1);
            if (c.bias() != null) addSquares(sq, out, c.bias().value(), 0);
            BatchNorm2dLayer bn = dg.bnAfter(node);
            if (bn != null) {
                addSquares(sq, out, bn.gamma().value(), 0);
                addSquares(sq, out, bn.beta().value(), 0);
            }
        }
        // a conv whose input and output channels are coupled (a residual around a concat) has entries
        // w[k][c] with k and c in one group: they were counted twice above, once is right
        for (var e : overlaps.entrySet()) {
            float[] w = e.getKey().weight().value().toArray();
            int rs = e.getKey().kernel() * e.getKey().kernel(), cin = e.getKey().weight().value().dim(1);
            for (int[] kc : e.getValue())
                for (int i = 0; i < rs; i++) {
                    double v = w[(kc[0] * cin + kc[1]) * rs + i];
                    sq[kc[2]] -= v * v;
                }
        }
        for (int g = 0; g < sq.length; g++) sq[g] = Math.sqrt(Math.max(sq[g], 0));
        return sq;
    }

    /** Per conv with coupled input and output channels: the (out k, in c, group) triples where both are one group. */
    private static Map<Conv2dLayer, List<int[]>> findOverlaps(DependencyGraph dg) {
        Map<Conv2dLayer, List<int[]>> m = new java.util.LinkedHashMap<>();
        for (var e : dg.convs().entrySet()) {
            int[] out = dg.channels(e.getKey()), in = dg.inputChannels(e.getKey());
            for (int k = 0; k < out.length; k++)
                for (int c = 0; c < in.length; c++)
                    if (out[k] == in[c]) m.computeIfAbsent(e.getValue(), x -> new ArrayList<>()).add(new int[] {k, c, out[k]});
        }
        return m;
    }

    private static void addSquares(double[] sq, int[] groups, Tensor t, int axis) {
        float[] n;
        try (Tensor norms = Channels.norms(t, axis, 2)) {
            n = norms.toArray();
        }
        for (int i = 0; i < groups.length; i++) sq[groups[i]] += (double) n[i] * n[i];
    }

    /**
     * Per group, gamma_g / ||w_g|| (0 for groups that are not prunable or already zero): the factor
     * that multiplies lambda * w in the gradient.
     */
    public double[] scales() {
        double[] norm = groupNorms();
        double[] s = new double[norm.length];
        Map<Integer, List<Integer>> byLayer = new java.util.LinkedHashMap<>();
        for (DependencyGraph.Group g : dg.groups())
            if (g.prunable() && dg.layerOf(g.id()) >= 0 && norm[g.id()] > 0)
                byLayer.computeIfAbsent(dg.layerOf(g.id()), k -> new ArrayList<>()).add(g.id());
        for (List<Integer> gs : byLayer.values()) {
            double max = gs.stream().mapToDouble(g -> norm[g]).max().orElseThrow(), min = gs.stream().mapToDouble(g -> norm[g]).min().orElseThrow();
            for (int g : gs) {
                double rank = max > min ? (max - norm[g]) / (max - min) : 0;
                s[g] = Math.pow(alpha, rank) / norm[g];
            }
        }
        return s;
    }

    /** Adds the regularization gradient to every parameter's gradient (call after backward, before the optimizer step). */
    public void apply() {
        if (lambda == 0) return;
        double[] s = scales();
        float l = (float) lambda;
        for (var e : dg.convs().entrySet()) {
            int node = e.getKey();
            Conv2dLayer c = e.getValue();
            int[] out = dg.channels(node), in = dg.inputChannels(node);
            push(c.weight(), 0, out, s, l);
            push(c.weight(), 1, in, s, l);
            if (c.bias() != null) push(c.bias(), 0, out, s, l);
            BatchNorm2dLayer bn = dg.bnAfter(node);
            if (bn != null) {
                push(bn.gamma(), 0, out, s, l);
                push(bn.beta(), 0, out, s, l);
            }
        }
        // entries in one group through both their axes were pushed twice: take one push back
        for (var e : overlaps.entrySet()) {
            Parameter w = e.getKey().weight();
            float[] v = w.value().toArray(), g = w.grad().toArray();
            int rs = e.getKey().kernel() * e.getKey().kernel(), cin = w.value().dim(1);
            for (int[] kc : e.getValue())
                for (int i = 0, at = (kc[0] * cin + kc[1]) * rs; i < rs; i++, at++) g[at] -= (float) (lambda * s[kc[2]]) * v[at];
            w.grad().copyFrom(g);
        }
    }

    private static void push(Parameter p, int axis, int[] groups, double[] s, float lambda) {
        float[] scale = new float[groups.length];
        boolean any = false;
        for (int i = 0; i < groups.length; i++) {
            scale[i] = (float) s[groups[i]];
            any |= scale[i] != 0;
        }
        if (!any) return;
        Device d = p.value().device();
        try (Tensor t = Tensor.of(d, scale, groups.length)) {
            Channels.groupRegGrad(p.grad(), p.value(), axis, t, lambda);
        }
    }
}
