package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.Parameter;
import org.jprune.engine.optim.Sgd;
import org.jprune.engine.prune.DependencyGraph;
import org.jprune.engine.prune.ChannelPruner;
import org.jprune.engine.prune.Importance;
import org.junit.jupiter.api.Test;

class PruneTest {
    final Device cpu = Device.cpu();

    @Test
    void dependencyGraphCouplesResidualsAndProtectsOutputs() {
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 1)) {
            DependencyGraph dg = new DependencyGraph(g, 3);
            int c1 = 0, c3 = 8, head = 10;
            int[] a = dg.channels(c1), b = dg.channels(c3);
            for (int k = 0; k < 6; k++) assertEquals(a[k], b[k], "the residual add couples c1 and c3 channel " + k);
            var group = dg.groups().get(a[0]);
            assertEquals(2, group.producers().size());
            assertTrue(group.prunable());
            for (int ch : dg.channels(head)) assertFalse(dg.groups().get(ch).prunable(), "graph outputs are not prunable");
            for (int ch : dg.inputChannels(c1)) assertFalse(dg.groups().get(ch).prunable(), "the image channels are not prunable");
            // the concat lays u (from c2) then a1 (from c1) side by side: c3's inputs are c2's groups then c1's
            int[] in3 = dg.inputChannels(c3), c2 = dg.channels(4);
            for (int k = 0; k < 4; k++) assertEquals(c2[k], in3[k]);
            for (int k = 0; k < 6; k++) assertEquals(a[k], in3[4 + k]);
        }
    }

    @Test
    void maskedChannelsAreZeroAndStayZeroWhileFineTuning() {
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 2); Tensor x = Tensor.randn(cpu, 3, 1f, 2, 3, 16, 16)) {
            DependencyGraph dg = new DependencyGraph(g, 3);
            ChannelPruner p = new ChannelPruner(dg, new ChannelPruner.Options(false, 1));
            assertEquals(g.parameterCount(), p.parameterCount(), "nothing pruned: the full count");
            long before = p.parameterCount();
            p.step(0.5, Importance.magnitude(2, Importance.Reduce.SUM));
            p.plan().apply(dg);
            assertTrue(p.parameterCount() < before, p.parameterCount() + " < " + before);
            assertEquals(0.5, p.prunedFraction(), 0.01);
            // the activations of a pruned group are exactly zero: expose node a1 (2, SiLU after c1's BN) as the output
            int[] groups = dg.channels(2);
            g.setOutputs(2);
            try (Graph.Execution ex = g.forward(x, false)) {
                float[] act = ex.output(0).toArray();
                int plane = 16 * 16, zeroPlanes = 0;
                for (int n = 0; n < 2; n++)
                    for (int c = 0; c < 6; c++) {
                        boolean allZero = true;
                        for (int i = 0; i < plane; i++) allZero &= act[(n * 6 + c) * plane + i] == 0f;
                        assertEquals(!p.alive(groups[c]), allZero, "channel " + c + " alive=" + p.alive(groups[c]));
                        if (allZero) zeroPlanes++;
                    }
                assertEquals(6, zeroPlanes, "3 pruned channels x 2 images");
            }
            g.setOutputs(10);
            // masked weights stay 0 through optimizer steps with arbitrary gradients
            Sgd sgd = new Sgd(g.parameters(), 0.1, 0.9, 1e-3, true);
            for (int s = 0; s < 3; s++) {
                for (Parameter q : g.parameters()) q.grad().copyFrom(Tensor.randnArray(s * 100 + q.name().hashCode(), 1f, (int) q.grad().numel()));
                sgd.step();
            }
            for (Parameter q : g.parameters()) {
                if (q.mask() == null) continue;
                float[] v = q.value().toArray(), m = q.mask().toArray();
                for (int i = 0; i < v.length; i++) if (m[i] == 0f) assertEquals(0f, v[i], q.name() + "[" + i + "]");
            }
            int dead = 0;
            for (int gr : dg.channels(2)) if (!p.alive(gr)) dead++;
            assertEquals(3, dead, "half of the 6 coupled c1/c3 channels");
        }
    }

    /** A later step ranks a layer against the mean of its channels still alive, as if the pruned ones were removed. */
    @Test
    void laterStepsNormaliseByTheAliveChannelsOfEachLayer() {
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 4)) {
            DependencyGraph dg = new DependencyGraph(g, 3);
            int[] a = dg.channels(0), b = dg.channels(4); // c1's 6 groups (coupled with c3), c2's 4
            ChannelPruner p = new ChannelPruner(dg, new ChannelPruner.Options(true, 1));
            double[] imp = new double[dg.groups().size()];
            for (int k = 0; k < 6; k++) imp[a[k]] = k < 3 ? 1e-3 : 1;
            for (int k = 0; k < 4; k++) imp[b[k]] = 1;
            p.step(0.3, imp); // 3 of the 10 prunable groups: c1's three weak ones
            for (int k = 0; k < 6; k++) assertEquals(k >= 3, p.alive(a[k]), "c1 group " + k);
            // now c1's survivors are at their layer's (alive) mean, c2's weakest below its own: the next two
            // to go are c2's weakest and one of c1's; counting c1's zeros in its mean would spare c1 and
            // take two of c2's
            for (int k = 0; k < 3; k++) imp[a[k]] = 0;
            imp[b[0]] = 1.5; imp[b[1]] = 1.5; imp[b[2]] = 1.5; imp[b[3]] = 1.4;
            p.step(0.5, imp);
            assertFalse(p.alive(b[3]), "c2's weakest");
            assertTrue(p.alive(b[0]) && p.alive(b[1]) && p.alive(b[2]), "c2's others");
            int c1Alive = 0;
            for (int k = 3; k < 6; k++) if (p.alive(a[k])) c1Alive++;
            assertEquals(2, c1Alive, "one more of c1's goes");
        }
    }

    /** Prunes (and masks) every prunable group some conv produces whose importance is 0. */
    static void pruneZeroGroups(DependencyGraph dg, double[] imp) {
        ChannelPruner p = new ChannelPruner(dg, new ChannelPruner.Options(true, 1));
        for (DependencyGraph.Group g : dg.groups()) if (g.prunable() && dg.layerOf(g.id()) >= 0 && imp[g.id()] == 0) p.prune(g.id());
        p.plan().apply(dg);
    }
}
