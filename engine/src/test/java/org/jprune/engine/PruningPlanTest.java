package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.Parameter;
import org.jprune.engine.optim.AdamW;
import org.jprune.engine.optim.Optimizer;
import org.jprune.engine.optim.Sgd;
import org.jprune.engine.prune.ChannelPruner;
import org.jprune.engine.prune.Compactor;
import org.jprune.engine.prune.DependencyGraph;
import org.jprune.engine.prune.Importance;
import org.jprune.engine.prune.PruningPlan;
import org.jprune.engine.prune.Schedule;
import org.junit.jupiter.api.Test;

/** The pruning plan as data, masked fine-tuning on the channel-sparse kernels, and the compactor's state gathering. */
class PruningPlanTest {
    final Device cpu = Device.cpu();

    /** A plan pruning half of the prunable groups of TinyNet by random importance. */
    static PruningPlan randomPlan(DependencyGraph dg, long seed, double ratio) {
        ChannelPruner p = new ChannelPruner(dg, new ChannelPruner.Options(true, 1));
        double[] imp = new double[dg.groups().size()];
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (int i = 0; i < imp.length; i++) imp[i] = r.nextDouble();
        p.step(ratio, imp);
        return p.plan();
    }

    @Test
    void planRoundTripsThroughJsonAndRestoresThePrunersState() {
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 5)) {
            DependencyGraph dg = new DependencyGraph(g, 3);
            PruningPlan plan = randomPlan(dg, 7, 0.5);
            assertTrue(plan.prunedChannels() > 0);
            PruningPlan back = PruningPlan.parse(plan.toJson(), "test");
            assertEquals(plan, back);
            // element masks travel bit-packed in the same JSON (13 weights: a partial last byte)
            float[] m13 = new float[13], m27 = new float[27];
            for (int i = 0; i < 13; i++) m13[i] = i % 3 == 0 ? 1f : 0f;
            for (int i = 0; i < 27; i++) m27[i] = i % 5 == 1 ? 0f : 1f;
            PruningPlan masked = plan.withWeightMasks(Map.of("c2.weight", m13, "c3.weight", m27));
            assertEquals(masked, PruningPlan.parse(masked.toJson(), "test"));
            assertThrows(IllegalArgumentException.class, () -> PruningPlan.parse(masked.toJson().replace("\"n\":13", "\"n\":99"), "test"));
            assertArrayEquals(plan.alive(dg), back.alive(dg));
            ChannelPruner again = new ChannelPruner(dg, new ChannelPruner.Options(true, 1), back);
            assertArrayEquals(plan.alive(dg), again.aliveFlags(), "a pruner started from the plan has its state, not one re-derived from weights");
            // a further step never revives what the plan pruned
            again.step(0.8, Importance.magnitude(2, Importance.Reduce.SUM));
            boolean[] a0 = plan.alive(dg), a1 = again.aliveFlags();
            for (int i = 0; i < a0.length; i++) if (!a0[i]) assertTrue(!a1[i], "group " + i + " stays pruned");
        }
    }

    @Test
    void badPlansAreRefusedNamingTheEntry() {
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 5)) {
            DependencyGraph dg = new DependencyGraph(g, 3);
            String good = randomPlan(dg, 7, 0.5).toJson();
            String[] bad = {"{", "[]", "{\"format\":\"x\"}", good.replace("\"c1\"", "\"zz\""), good.replaceFirst("\"channels\":6", "\"channels\":7"),
                    good.replaceFirst("\"kept\":\"[^\"]*\"", "\"kept\":\"5-2\""), good.replaceFirst("\"kept\":\"[^\"]*\"", "\"kept\":\"0-99\""),
                    good.replaceFirst("\"kept\":\"[^\"]*\"", "\"kept\":\"\""), good.replaceFirst("\"kept\":\"[^\"]*\"", "\"kept\":\"a\""),
                    good.replaceFirst("\"channels\":6", "\"channels\":-1"), good.replaceFirst("\"channels\":6", "\"channels\":99999999999")};
            for (String b : bad) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PruningPlan.parse(b, "plan.json").apply(dg), b);
                assertTrue(e.getMessage().contains("plan"), e.getMessage());
            }
            // the head's outputs cannot be pruned; coupled residual channels must agree
            String head = good.replaceFirst("(\"head\":\\{\"channels\":3,\"kept\":)\"0-2\"", "$1\"0-1\"");
            assertNotEquals(good, head);
            assertThrows(IllegalArgumentException.class, () -> PruningPlan.parse(head, "p").alive(dg));
        }
    }

    /**
     * Masked fine-tuning: with the plan on, the convolutions run channel-sparse; after N optimizer steps
     * every pruned entry (weights, gradients, optimizer state) is exactly 0 and the alive entries equal a
     * run of the same plan on the dense kernels (element masks only).
     */
    @Test
    void maskedFineTuningOnChannelSparseKernelsEqualsTheDenseMaskedRun() {
        for (String opt : List.of("sgd", "adamw")) {
            try (Graph sparse = GradCheckTest.TinyNet.build(cpu, 3, 11); Graph dense = GradCheckTest.TinyNet.build(cpu, 3, 11)) {
                DependencyGraph dgS = new DependencyGraph(sparse, 3), dgD = new DependencyGraph(dense, 3);
                PruningPlan plan = randomPlan(dgS, 3, 0.5);
                plan.apply(dgS);
                plan.apply(dgD);
                int csConvs = 0;
                for (var e : dgD.convs().entrySet()) {
                    if (e.getValue().activeChannels() != null) csConvs++;
                    e.getValue().setActiveChannels(null, null); // the reference: dense kernels, masks only
                }
                assertTrue(csConvs >= 3, "the plan makes the pruned convs channel-sparse (" + csConvs + ")");
                for (var e : dgS.convs().entrySet()) assertEquals(e.getValue().activeChannels() != null, maskedAnywhere(dgS, e.getKey(), plan));
                Optimizer os = optimizer(opt, sparse.parameters()), od = optimizer(opt, dense.parameters());
                for (int step = 0; step < 4; step++) {
                    for (Graph g : List.of(sparse, dense)) {
                        try (Tensor x = Tensor.randn(cpu, 100 + step, 1f, 2, 3, 16, 16); Graph.Execution ex = g.forward(x, true);
                             Tensor dy = Tensor.randn(cpu, 200 + step, 1f, ex.output(0).shape())) {
                            ex.backward(List.of(dy));
                        }
                    }
                    os.step();
                    od.step();
                    sparse.zeroGrad();
                    dense.zeroGrad();
                }
                List<Parameter> ps = sparse.parameters(), pd = dense.parameters();
                double maxDiff = 0;
                for (int i = 0; i < ps.size(); i++) {
                    Parameter a = ps.get(i), b = pd.get(i);
                    float[] va = a.value().toArray(), vb = b.value().toArray();
                    float[] m = a.mask() == null ? null : a.mask().toArray();
                    for (int k = 0; k < va.length; k++) {
                        if (m != null && m[k] == 0f) {
                            assertTrue(va[k] == 0f, opt + " " + a.name() + "[" + k + "] pruned = " + va[k]);
                            for (Tensor s : a.stateMap().values()) assertTrue(s.toArray()[k] == 0f, opt + " " + a.name() + " state [" + k + "]");
                        }
                        maxDiff = Math.max(maxDiff, Math.abs(va[k] - vb[k]));
                        assertEquals(vb[k], va[k], 1e-4f * Math.max(1f, Math.abs(vb[k])), opt + " " + a.name() + "[" + k + "]");
                    }
                }
                System.out.printf("masked fine-tuning (%s): channel-sparse vs dense-masked max |diff| %.2e after 4 steps%n", opt, maxDiff);
            }
        }
    }

    private static boolean maskedAnywhere(DependencyGraph dg, int node, PruningPlan plan) {
        boolean[] alive = plan.alive(dg);
        for (int g : dg.channels(node)) if (!alive[g]) return true;
        for (int g : dg.inputChannels(node)) if (!alive[g]) return true;
        return false;
    }

    private static Optimizer optimizer(String kind, List<Parameter> ps) {
        return kind.equals("sgd") ? new Sgd(ps, 0.05, 0.9, 1e-3, true) : new AdamW(ps, 0.01, 0.9, 0.999, 1e-8, 1e-3);
    }

    @Test
    void compactStateGathersTheKeptRowsAndColumns() {
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 2)) {
            DependencyGraph dg = new DependencyGraph(g, 3);
            PruningPlan plan = randomPlan(dg, 9, 0.5);
            boolean[] alive = plan.alive(dg);
            Map<String, Tensor> st = g.stateDict();
            Map<String, Tensor> c = Compactor.compactState(dg, alive, st);
            try {
                for (var e : dg.convs().entrySet()) {
                    Conv2dLayer conv = e.getValue();
                    int[] out = dg.channels(e.getKey()), in = dg.inputChannels(e.getKey());
                    List<Integer> ko = new ArrayList<>(), ki = new ArrayList<>();
                    for (int k = 0; k < out.length; k++) if (alive[out[k]]) ko.add(k);
                    for (int k = 0; k < in.length; k++) if (alive[in[k]]) ki.add(k);
                    Tensor w = c.get(conv.weight().name());
                    assertArrayEquals(new int[] {ko.size(), ki.size(), conv.kernel(), conv.kernel()}, w.shape());
                    float[] full = conv.weight().value().toArray(), small = w.toArray();
                    int rs = conv.kernel() * conv.kernel();
                    for (int a = 0; a < ko.size(); a++)
                        for (int b = 0; b < ki.size(); b++)
                            for (int q = 0; q < rs; q++)
                                assertEquals(full[(ko.get(a) * in.length + ki.get(b)) * rs + q], small[(a * ki.size() + b) * rs + q]);
                }
                Compactor.Spec spec = Compactor.spec(dg, alive);
                assertEquals(spec, Compactor.Spec.parse(spec.toJson(), "t"));
                for (var e : dg.convs().entrySet()) {
                    int kept = 0;
                    for (int gr : dg.channels(e.getKey())) if (alive[gr]) kept++;
                    assertEquals(kept, spec.convOut().get(g.node(e.getKey()).name()));
                }
                assertThrows(IllegalArgumentException.class, () -> Compactor.Spec.parse("{\"format\":\"jprune-widths/1\",\"conv_out\":{\"c1\":0}}", "w"));
                assertThrows(IllegalArgumentException.class, () -> spec.out("c1", 0));
            } finally {
                c.values().forEach(Tensor::close);
            }
        }
    }

    @Test
    void prunerOptionsCapLayersAndSkipIgnoredOnes() {
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 4)) {
            DependencyGraph dg = new DependencyGraph(g, 3);
            int[] c1 = dg.channels(0), c2 = dg.channels(4);
            double[] imp = new double[dg.groups().size()];
            for (int k = 0; k < 6; k++) imp[c1[k]] = 1e-3 * (k + 1);
            for (int k = 0; k < 4; k++) imp[c2[k]] = 1;
            ChannelPruner capped = new ChannelPruner(dg, new ChannelPruner.Options(true, 1, 0.5, Set.of()));
            capped.step(0.5, imp);
            int dead1 = 0;
            for (int k = 0; k < 6; k++) if (!capped.alive(c1[k])) dead1++;
            assertEquals(3, dead1, "at most half of c1's 6 channels");
            ChannelPruner ignoring = new ChannelPruner(dg, new ChannelPruner.Options(true, 1, 1.0, Set.of("c1")));
            ignoring.step(0.3, imp);
            for (int k = 0; k < 6; k++) assertTrue(ignoring.alive(c1[k]), "c1 is ignored");
            assertThrows(IllegalArgumentException.class, () -> new ChannelPruner(dg, new ChannelPruner.Options(true, 1, 1.0, Set.of("nope"))));
            assertThrows(IllegalArgumentException.class, () -> new ChannelPruner.Options(true, 1, 0, Set.of()));
        }
    }

    @Test
    void perLayerRatiosPruneOnlyTheNamedLayers() {
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 4)) {
            DependencyGraph dg = new DependencyGraph(g, 3);
            int[] c1 = dg.channels(0), c2 = dg.channels(4);
            double[] imp = Importance.magnitude(2, Importance.Reduce.SUM).of(dg);
            ChannelPruner p = new ChannelPruner(dg, new ChannelPruner.Options(false, 1));
            p.step(Map.of("c2", 0.5), imp);
            int dead2 = 0;
            for (int gr : c2) if (!p.alive(gr)) dead2++;
            assertEquals(2, dead2, "half of c2's 4 channels");
            for (int gr : c1) assertTrue(p.alive(gr), "c1 is not named: untouched");
            // the two weakest of c2 went
            int[] order = java.util.stream.IntStream.range(0, 4).boxed().sorted(java.util.Comparator.comparingDouble(k -> imp[c2[k]])).mapToInt(Integer::intValue).toArray();
            assertTrue(!p.alive(c2[order[0]]) && !p.alive(c2[order[1]]));
            assertThrows(IllegalArgumentException.class, () -> p.step(Map.of("head", 0.5), imp), "the head owns no prunable channels");
            assertThrows(IllegalArgumentException.class, () -> p.step(Map.of("c2", 1.0), imp));
        }
    }

    @Test
    void schedulesAreCheckedAndLinearOnesSpreadTheLevels() {
        Schedule s = Schedule.linear(Schedule.Target.PARAMS, 0.6, 3, 2);
        assertArrayEquals(new double[] {0.2, 0.4, 0.6}, s.levels(), 1e-12);
        assertArrayEquals(new int[] {2, 2, 2}, s.epochs());
        assertThrows(IllegalArgumentException.class, () -> Schedule.of(Schedule.Target.CHANNELS, new double[] {0.5, 0.3}, new int[] {1}));
        assertThrows(IllegalArgumentException.class, () -> Schedule.of(Schedule.Target.CHANNELS, new double[] {0.5, 1.0}, new int[] {1}));
        assertThrows(IllegalArgumentException.class, () -> Schedule.of(Schedule.Target.CHANNELS, new double[] {0.2, 0.5}, new int[] {1, 2, 3}));
        assertThrows(IllegalArgumentException.class, () -> Schedule.Target.parse("bytes"));
    }
}
