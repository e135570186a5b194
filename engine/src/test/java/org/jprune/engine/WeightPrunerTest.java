package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.Parameter;
import org.jprune.engine.ops.CsrMatrix;
import org.jprune.engine.optim.Sgd;
import org.jprune.engine.prune.DependencyGraph;
import org.jprune.engine.prune.PruningPlan;
import org.jprune.engine.prune.SparseKernels;
import org.jprune.engine.prune.WeightPruner;
import org.junit.jupiter.api.Test;

/** Unstructured pruning: magnitude masks, the GMP schedule, masks held through training, CSR inference. */
class WeightPrunerTest {
    final Device cpu = Device.cpu();

    static PruningPlan noChannels(DependencyGraph dg) {
        boolean[] all = new boolean[dg.groups().size()];
        Arrays.fill(all, true);
        return PruningPlan.of(dg, all);
    }

    @Test
    void globalMasksRemoveTheSmallestWeightsAndOnlyGrow() {
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 7)) {
            DependencyGraph dg = new DependencyGraph(g, 3);
            WeightPruner wp = new WeightPruner(dg, new WeightPruner.Options(true, Set.of()));
            List<String> names = wp.targets().stream().map(c -> c.weight().name()).toList();
            assertEquals(List.of("c2.weight", "c3.weight"), names, "the stem (c1) and the head are not targets");
            Map<String, float[]> m = wp.masks(0.6, null);
            long total = wp.targetWeights();
            assertEquals(Math.floor(0.6 * total) / total, wp.sparsity(m), 1e-12);
            // every kept weight is at least as large as every pruned one
            float maxPruned = 0, minKept = Float.MAX_VALUE;
            for (Conv2dLayer c : wp.targets()) {
                float[] w = c.weight().value().toArray(), k = m.get(c.weight().name());
                for (int i = 0; i < w.length; i++) {
                    if (k[i] == 0f) maxPruned = Math.max(maxPruned, Math.abs(w[i]));
                    else minKept = Math.min(minKept, Math.abs(w[i]));
                }
            }
            assertTrue(maxPruned <= minKept, maxPruned + " <= " + minKept);
            // masks only grow: an earlier-pruned weight stays pruned even if its value is now large
            Conv2dLayer c2 = wp.targets().get(0);
            float[] w = c2.weight().value().toArray();
            int idx = -1;
            for (int i = 0; i < w.length; i++) if (m.get("c2.weight")[i] == 0f) { idx = i; break; }
            w[idx] = 100f;
            c2.weight().value().copyFrom(w);
            Map<String, float[]> m2 = wp.masks(0.8, m);
            assertEquals(0f, m2.get("c2.weight")[idx]);
            for (String n : m.keySet()) for (int i = 0; i < m.get(n).length; i++) if (m.get(n)[i] == 0f) assertEquals(0f, m2.get(n)[i], n + "[" + i + "]");
            // per layer: each target layer at the sparsity
            Map<String, float[]> pl = new WeightPruner(dg, new WeightPruner.Options(false, Set.of())).masks(0.5, null);
            for (float[] k : pl.values()) {
                int z = 0;
                for (float v : k) if (v == 0f) z++;
                assertEquals((int) Math.floor(0.5 * k.length), z);
            }
            assertThrows(IllegalArgumentException.class, () -> wp.masks(1.0, null));
            assertThrows(IllegalArgumentException.class, () -> new WeightPruner(dg, new WeightPruner.Options(true, Set.of("x"))));
        }
    }

    @Test
    void gmpRampsCubicallyFromInitialToFinal() {
        WeightPruner.Gmp g = new WeightPruner.Gmp(0.1, 0.8, 10, 110, 10);
        assertEquals(0, g.sparsity(5));
        assertEquals(0.1, g.sparsity(10), 1e-12);
        assertEquals(0.8, g.sparsity(110), 1e-12);
        assertEquals(0.8, g.sparsity(500), 1e-12);
        assertEquals(0.8 + (0.1 - 0.8) * Math.pow(0.5, 3), g.sparsity(60), 1e-12);
        assertEquals(g.sparsity(60), g.sparsity(69), 0, "held between updates");
        double prev = 0;
        for (long s = 0; s < 200; s++) {
            assertTrue(g.sparsity(s) >= prev);
            prev = g.sparsity(s);
        }
        assertTrue(g.updates(10) && g.updates(20) && !g.updates(21) && !g.updates(120));
        assertThrows(IllegalArgumentException.class, () -> new WeightPruner.Gmp(0.5, 0.4, 0, 10, 1));
        assertThrows(IllegalArgumentException.class, () -> new WeightPruner.Gmp(0, 0.4, 0, 10, 0));
    }

    @Test
    void unstructuredMasksHoldThroughTrainingAndCsrInferenceMatchesDense() {
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 3)) {
            DependencyGraph dg = new DependencyGraph(g, 3);
            WeightPruner wp = new WeightPruner(dg, new WeightPruner.Options(true, Set.of()));
            PruningPlan plan = noChannels(dg).withWeightMasks(wp.masks(0.8, null));
            plan.apply(dg);
            Sgd sgd = new Sgd(g.parameters(), 0.01, 0.9, 1e-3, true);
            for (int s = 0; s < 3; s++) {
                try (Tensor x = Tensor.randn(cpu, 10 + s, 1f, 2, 3, 16, 16); Graph.Execution ex = g.forward(x, true);
                     Tensor dy = Tensor.randn(cpu, 20 + s, 1f, ex.output(0).shape())) {
                    ex.backward(List.of(dy));
                }
                sgd.step();
                g.zeroGrad();
            }
            for (Parameter p : g.parameters()) {
                float[] k = plan.weightMasks().get(p.name());
                if (k == null) continue;
                float[] v = p.value().toArray();
                List<Tensor> st = new ArrayList<>(p.stateMap().values());
                for (int i = 0; i < v.length; i++)
                    if (k[i] == 0f) {
                        assertTrue(v[i] == 0f, p.name() + "[" + i + "] = " + v[i]);
                        for (Tensor t : st) assertTrue(t.toArray()[i] == 0f, p.name() + " momentum [" + i + "]");
                    }
            }
            // CSR inference on every conv equals the dense forward
            float[] dense;
            try (Tensor x = Tensor.randn(cpu, 33, 1f, 1, 3, 16, 16)) {
                try (Graph.Execution ex = g.forward(x, false)) { dense = ex.output(0).toArray(); }
                float scale = 1;
                for (float v : dense) scale = Math.max(scale, Math.abs(v)); // tolerance relative to the outputs' scale (float sums in another order)
                for (var e : dg.convs().entrySet()) e.getValue().setInferenceCsr(CsrMatrix.fromDense(e.getValue().weight().value(), e.getValue().outChannels(), 0f));
                float[] sparse;
                try (Graph.Execution ex = g.forward(x, false)) { sparse = ex.output(0).toArray(); }
                for (int i = 0; i < dense.length; i++) assertEquals(dense[i], sparse[i], 1e-4f * scale, "output " + i);
                // the measured selection makes a choice for every conv and keeps outputs equal
                List<SparseKernels.Choice> ch = SparseKernels.select(g, new int[] {1, 3, 16, 16}, 0.6);
                assertEquals(dg.convs().size(), ch.size());
                assertTrue(ch.stream().anyMatch(c -> c.density() < 0.3), ch.toString());
                for (SparseKernels.Choice c : ch) if (c.density() > 0.6) assertFalse(c.csr(), c.toString());
                try (Graph.Execution ex = g.forward(x, false)) { sparse = ex.output(0).toArray(); }
                for (int i = 0; i < dense.length; i++) assertEquals(dense[i], sparse[i], 1e-4f * scale, "output " + i);
                // a new plan drops the CSR weights chosen for the old ones
                plan.apply(dg);
                for (var e : dg.convs().entrySet()) assertEquals(null, e.getValue().inferenceCsr());
            }
        }
    }
}
