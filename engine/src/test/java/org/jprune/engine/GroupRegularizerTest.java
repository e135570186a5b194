package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.Parameter;
import org.jprune.engine.prune.DependencyGraph;
import org.jprune.engine.prune.GroupRegularizer;
import org.jprune.engine.prune.ChannelPruner;
import org.jprune.engine.prune.Importance;
import org.junit.jupiter.api.Test;

/**
 * The group regularizer against a reference built another way: a group's members are read from the
 * masks that pruning that group alone sets (on a second copy of the network), its norm and the group
 * lasso's gradient are computed from them in double, and a central difference of the regularization
 * term checks that gradient.
 */
class GroupRegularizerTest {
    final Device cpu = Device.cpu();

    /** members.get(g): for each parameter (in graph order), the flat indices pruning group g zeroes; null for groups never pruned. */
    static List<List<int[]>> members(DependencyGraph dgB, Graph b) {
        List<List<int[]>> out = new ArrayList<>();
        for (DependencyGraph.Group gr : dgB.groups()) {
            if (!gr.prunable() || dgB.layerOf(gr.id()) < 0) {
                out.add(null);
                continue;
            }
            double[] imp = new double[dgB.groups().size()];
            java.util.Arrays.fill(imp, 1);
            imp[gr.id()] = 0;
            PruneTest.pruneZeroGroups(dgB, imp);
            List<int[]> perParam = new ArrayList<>();
            for (Parameter p : b.parameters()) {
                if (p.mask() == null) {
                    perParam.add(new int[0]);
                    continue;
                }
                float[] m = p.mask().toArray();
                perParam.add(java.util.stream.IntStream.range(0, m.length).filter(i -> m[i] == 0f).toArray());
            }
            out.add(perParam);
        }
        return out;
    }

    static double[] norms(List<List<int[]>> members, List<float[]> values) {
        double[] n = new double[members.size()];
        for (int g = 0; g < n.length; g++) {
            if (members.get(g) == null) continue;
            double s = 0;
            for (int p = 0; p < values.size(); p++) for (int i : members.get(g).get(p)) s += (double) values.get(p)[i] * values.get(p)[i];
            n[g] = Math.sqrt(s);
        }
        return n;
    }

    /** lambda * sum_g ||w_g|| (alpha = 1: every gamma is 1) */
    static double penalty(List<List<int[]>> members, List<float[]> values, double lambda) {
        double s = 0;
        for (double v : norms(members, values)) s += v;
        return lambda * s;
    }

    @Test
    void gradientIsTheGroupLassoGradient() {
        double lambda = 0.01;
        try (Graph a = GradCheckTest.TinyNet.build(cpu, 3, 5); Graph b = GradCheckTest.TinyNet.build(cpu, 3, 5)) {
            DependencyGraph dgA = new DependencyGraph(a, 3);
            List<List<int[]>> members = members(new DependencyGraph(b, 3), b);
            List<float[]> values = new ArrayList<>();
            for (Parameter p : a.parameters()) values.add(p.value().toArray());
            double[] norm = norms(members, values);
            GroupRegularizer reg = new GroupRegularizer(dgA, lambda, 1);
            double[] got = reg.groupNorms();
            int checked = 0;
            for (int g = 0; g < norm.length; g++)
                if (members.get(g) != null) {
                    assertEquals(norm[g], got[g], 1e-5 * norm[g], "norm of group " + g);
                    checked++;
                }
            assertTrue(checked >= 10, "prunable groups: " + checked);

            a.zeroGrad();
            reg.apply();
            List<Parameter> params = a.parameters();
            for (int p = 0; p < params.size(); p++) {
                double[] want = new double[values.get(p).length];
                for (int g = 0; g < norm.length; g++)
                    if (members.get(g) != null) for (int i : members.get(g).get(p)) want[i] += lambda * values.get(p)[i] / norm[g];
                float[] grad = params.get(p).grad().toArray();
                for (int i = 0; i < want.length; i++)
                    assertEquals(want[i], grad[i], 1e-6 + 1e-4 * Math.abs(want[i]), params.get(p).name() + "[" + i + "]");
            }

            // a central difference of the penalty agrees with the gradient on every 7th entry
            for (int p = 0; p < params.size(); p++) {
                float[] grad = params.get(p).grad().toArray();
                for (int i = 0; i < values.get(p).length; i += 7) {
                    float w0 = values.get(p)[i], h = 1e-2f * Math.max(1f, Math.abs(w0));
                    values.get(p)[i] = w0 + h;
                    double up = penalty(members, values, lambda);
                    values.get(p)[i] = w0 - h;
                    double down = penalty(members, values, lambda);
                    values.get(p)[i] = w0;
                    double numeric = (up - down) / (2.0 * h);
                    assertEquals(numeric, grad[i], 2e-5 + 2e-3 * Math.abs(numeric), "d penalty / d " + params.get(p).name() + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void weakGroupsArePushedAlphaTimesHarderAndPrunedGroupsNotAtAll() {
        double lambda = 0.01, alpha = 4;
        try (Graph a = GradCheckTest.TinyNet.build(cpu, 3, 9)) {
            DependencyGraph dg = new DependencyGraph(a, 3);
            GroupRegularizer reg = new GroupRegularizer(dg, lambda, alpha);
            double[] norm = reg.groupNorms();
            int c2 = 4; // c2 (with bias): its 4 output channels are groups no other conv produces
            int[] groups = dg.channels(c2);
            Parameter bias = a.parameters().stream().filter(p -> p.name().equals("c2.bias")).findFirst().orElseThrow();
            a.zeroGrad();
            reg.apply();
            float[] bv = bias.value().toArray(), bg = bias.grad().toArray();
            double max = 0, min = Double.MAX_VALUE;
            for (int g : groups) { max = Math.max(max, norm[g]); min = Math.min(min, norm[g]); }
            for (int k = 0; k < groups.length; k++) {
                // a bias entry belongs to its channel's group alone: grad = lambda * gamma / ||w_g|| * b
                double gamma = bg[k] / (lambda * bv[k] / norm[groups[k]]);
                double want = Math.pow(alpha, (max - norm[groups[k]]) / (max - min));
                assertEquals(want, gamma, 1e-3 * want, "gamma of c2 channel " + k);
            }

            // prune the weakest c2 group: its parameters are 0 and get no push; the others still do
            int weakest = groups[0];
            for (int g : groups) if (norm[g] < norm[weakest]) weakest = g;
            double[] imp = norm.clone();
            imp[weakest] = 0;
            PruneTest.pruneZeroGroups(dg, imp);
            assertEquals(0, reg.groupNorms()[weakest], 0);
            assertEquals(0, reg.scales()[weakest], 0);
            a.zeroGrad();
            reg.apply();
            bg = bias.grad().toArray();
            for (int k = 0; k < groups.length; k++) assertEquals(groups[k] == weakest, bg[k] == 0f, "c2 channel " + k);
        }
    }

    @Test
    void regularizedStepsShrinkTheWeakGroupsAndPruningTakesThem() {
        try (Graph a = GradCheckTest.TinyNet.build(cpu, 3, 11)) {
            DependencyGraph dg = new DependencyGraph(a, 3);
            GroupRegularizer reg = new GroupRegularizer(dg, 0.01, 4);
            double[] before = reg.groupNorms();
            org.jprune.engine.optim.Sgd sgd = new org.jprune.engine.optim.Sgd(a.parameters(), 0.1, 0, 0, false);
            for (int s = 0; s < 20; s++) {
                a.zeroGrad();
                reg.apply();
                sgd.step();
            }
            double[] after = reg.groupNorms();
            int[] groups = dg.channels(4);
            int weakest = groups[0], strongest = groups[0];
            for (int g : groups) {
                assertTrue(after[g] < before[g], "group " + g + ": " + before[g] + " -> " + after[g]);
                if (before[g] < before[weakest]) weakest = g;
                if (before[g] > before[strongest]) strongest = g;
            }
            assertTrue(after[weakest] / before[weakest] < after[strongest] / before[strongest],
                    "the weakest group shrinks relatively more: " + after[weakest] / before[weakest] + " vs " + after[strongest] / before[strongest]);
            ChannelPruner p = new ChannelPruner(dg, new ChannelPruner.Options(false, 1));
            p.step(0.25, after);
            assertTrue(!p.alive(weakest), "the weakest c2 group is pruned first");
        }
    }

    @Test
    void badArgumentsAreRefused() {
        try (Graph a = GradCheckTest.TinyNet.build(cpu, 3, 1)) {
            DependencyGraph dg = new DependencyGraph(a, 3);
            assertThrows(IllegalArgumentException.class, () -> new GroupRegularizer(dg, -1, 4));
            assertThrows(IllegalArgumentException.class, () -> new GroupRegularizer(dg, Double.NaN, 4));
            assertThrows(IllegalArgumentException.class, () -> new GroupRegularizer(dg, 1e-3, 0.5));
            ChannelPruner p = new ChannelPruner(dg, new ChannelPruner.Options(true, 1));
            assertThrows(IllegalArgumentException.class, () -> p.step(0.5, new double[3]));
        }
    }
}
