package org.jprune.engine;

import static org.jprune.engine.TestSupport.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.Parameter;
import org.jprune.engine.optim.Sgd;
import org.junit.jupiter.api.Test;

class GraphTest {
    final Device cpu = Device.cpu();

    /** Correctness ladder step 3 (engine part): one training step agrees across cpu and reference. */
    @Test
    void trainingStepAgreesAcrossBackends() {
        float[] xv = Tensor.randnArray(3, 1f, 2 * 3 * 16 * 16);
        List<float[]> ref = step(Device.reference(), xv), got = step(cpu, xv);
        for (int i = 0; i < ref.size(); i++) assertClose("cpu vs reference, tensor " + i, ref.get(i), got.get(i), 2e-4, 2e-3);
    }

    static List<float[]> step(Device d, float[] xv) {
        try (Graph g = GradCheckTest.TinyNet.build(d, 3, 11); Tensor x = Tensor.of(d, xv, 2, 3, 16, 16)) {
            List<float[]> out = new ArrayList<>();
            try (Graph.Execution ex = g.forward(x, true); Tensor dy = Tensor.of(d, Tensor.randnArray(4, 1f, (int) ex.output(0).numel()), ex.output(0).shape())) {
                out.add(ex.output(0).toArray());
                ex.backward(List.of(dy));
            }
            for (Parameter p : g.parameters()) out.add(p.grad().toArray());
            new Sgd(g.parameters(), 0.05, 0.9, 5e-4, true).step();
            for (Parameter p : g.parameters()) out.add(p.value().toArray());
            return out;
        }
    }

    /**
     * Folding batch norms for inference: a conv -> bn -> act chain, a conv with a bias and two readers
     * (left alone) and a bn on the graph input (left alone); the folded graph's outputs equal the
     * unfolded ones, on both CPU backends, training refuses while folded, and unfolding restores it.
     */
    @Test
    void foldedBatchNormsComputeTheSame() {
        for (Device d : new Device[] {cpu, Device.reference()}) {
            try (Graph g = new Graph(d)) {
                int bn0 = g.add("bn0", new org.jprune.engine.nn.BatchNorm2dLayer(d, "bn0", 3, 1e-3f, 0.03f), Graph.INPUT);
                int c1 = g.add("c1", new org.jprune.engine.nn.Conv2dLayer(d, "c1", 3, 8, 3, 1, 1, 1, false, 1), bn0);
                int b1 = g.add("b1", new org.jprune.engine.nn.BatchNorm2dLayer(d, "b1", 8, 1e-3f, 0.03f), c1);
                int a1 = g.add("a1", new org.jprune.engine.nn.SimpleLayers.ActLayer(org.jprune.engine.ops.Activation.SILU, 0f), b1);
                int c2 = g.add("c2", new org.jprune.engine.nn.Conv2dLayer(d, "c2", 8, 8, 3, 2, 1, 2, true, 2), a1);
                int b2 = g.add("b2", new org.jprune.engine.nn.BatchNorm2dLayer(d, "b2", 8, 1e-3f, 0.03f), c2);
                int add = g.add("add", new org.jprune.engine.nn.SimpleLayers.AddLayer(), b2, c2); // c2 has two readers: not folded
                int c3 = g.add("c3", new org.jprune.engine.nn.Conv2dLayer(d, "c3", 8, 4, 1, 1, 0, 1, true, 3), add);
                int b3 = g.add("b3", new org.jprune.engine.nn.BatchNorm2dLayer(d, "b3", 4, 1e-3f, 0.03f), c3);
                int c4 = g.add("c4", new org.jprune.engine.nn.Conv2dLayer(d, "c4", 8, 5, 3, 1, 1, 1, true, 4), a1);
                int a4 = g.add("a4", new org.jprune.engine.nn.SimpleLayers.ActLayer(org.jprune.engine.ops.Activation.LEAKY_RELU, 0.1f), c4);
                g.setOutputs(b3, a1, a4);
                // non-trivial statistics and affine parameters
                long seed = 10;
                for (Graph.Node n : g.nodes())
                    if (n.layer() instanceof org.jprune.engine.nn.BatchNorm2dLayer bn) {
                        int c = bn.channels();
                        float[] var = Tensor.randnArray(seed++, 0.5f, c);
                        for (int i = 0; i < c; i++) var[i] = 0.2f + var[i] * var[i];
                        bn.runningVar().copyFrom(var);
                        bn.runningMean().copyFrom(Tensor.randnArray(seed++, 0.5f, c));
                        bn.gamma().value().copyFrom(Tensor.randnArray(seed++, 1f, c));
                        bn.beta().value().copyFrom(Tensor.randnArray(seed++, 0.3f, c));
                    }
                List<float[]> ref = new ArrayList<>(), got = new ArrayList<>();
                try (Tensor x = Tensor.randn(d, 4, 1f, 2, 3, 12, 12)) {
                    try (Graph.Execution ex = g.forward(x, false)) {
                        for (int i = 0; i < 3; i++) ref.add(ex.output(i).toArray());
                    }
                    assertEquals(2, g.foldBatchNorms(), "b1 and b3 fold; bn0 (graph input) and b2 (conv with two readers) do not");
                    assertEquals(0, g.foldBatchNorms(), "folding twice changes nothing");
                    try (Graph.Execution ex = g.forward(x, false)) {
                        for (int i = 0; i < 3; i++) got.add(ex.output(i).toArray());
                    }
                    for (int i = 0; i < 3; i++) assertClose(d.kind() + " folded output " + i, ref.get(i), got.get(i), 1e-4, 1e-4);
                    // activations into the conv epilogues: a1 through the folded b1 into c1, a4 straight into c4
                    assertEquals(2, g.fuseActivations(), "a1 (after folded b1) and a4 (after c4) fuse");
                    assertEquals(0, g.fuseActivations(), "fusing twice changes nothing");
                    got.clear();
                    try (Graph.Execution ex = g.forward(x, false)) {
                        for (int i = 0; i < 3; i++) got.add(ex.output(i).toArray());
                    }
                    for (int i = 0; i < 3; i++) assertClose(d.kind() + " fused output " + i, ref.get(i), got.get(i), 1e-4, 1e-4);
                    var e = assertThrows(IllegalStateException.class, () -> g.forward(x, true).close());
                    assertTrue(e.getMessage().contains("folded"), e.getMessage());
                    g.unfoldBatchNorms(); // unfuses too: a1 would otherwise run before b1
                    try (Graph.Execution ex = g.forward(x, false)) {
                        for (int i = 0; i < 3; i++) assertClose(d.kind() + " unfolded output " + i, ref.get(i), ex.output(i).toArray(), 1e-6, 1e-6);
                    }
                    try (Graph.Execution ex = g.forward(x, true)) {
                        assertArrayEquals(new int[] {2, 4, 6, 6}, ex.output(0).shape());
                    }
                }
            }
        }
    }

    @Test
    void trainingReducesLoss() {
        // regress a fixed random target: loss = 0.5 * mean((y - t)^2), gradient (y - t) / numel
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 1); Tensor x = Tensor.randn(cpu, 5, 1f, 4, 3, 16, 16);
             Tensor target = Tensor.randn(cpu, 6, 0.5f, 4, 3, 8, 8)) {
            Sgd opt = new Sgd(g.parameters(), 0.1, 0.9, 0, false);
            double first = 0, last = 0;
            for (int it = 0; it < 60; it++) {
                opt.zeroGrad();
                try (Graph.Execution ex = g.forward(x, true); Tensor diff = ex.output(0).copy()) {
                    diff.axpy(-1f, target);
                    double loss = 0.5 * diff.sumSquares() / diff.numel();
                    diff.scaleInPlace(1f / diff.numel());
                    if (it == 0) first = loss;
                    last = loss;
                    ex.backward(List.of(diff));
                }
                opt.step();
            }
            assertTrue(last < 0.5 * first, "loss " + first + " -> " + last);
        }
    }

    @Test
    void inferenceIsThreadSafeAndFreesActivations() throws Exception {
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 2)) {
            List<float[]> inputs = new ArrayList<>(), expected = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                inputs.add(Tensor.randnArray(100 + i, 1f, 3 * 24 * 24));
                try (Tensor x = Tensor.of(cpu, inputs.get(i), 1, 3, 24, 24); var ex = g.forward(x, false)) {
                    expected.add(ex.output(0).toArray());
                }
            }
            long before = cpu.memoryStats().inUseBytes();
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<Boolean>> fs = new ArrayList<>();
                for (int t = 0; t < 32; t++) {
                    int i = t % 8;
                    fs.add(pool.submit(() -> {
                        try (Tensor x = Tensor.of(cpu, inputs.get(i), 1, 3, 24, 24); var ex = g.forward(x, false)) {
                            return java.util.Arrays.equals(expected.get(i), ex.output(0).toArray());
                        }
                    }));
                }
                for (Future<Boolean> f : fs) assertTrue(f.get(), "a concurrent result differs from the single-threaded one");
            } finally {
                pool.shutdown();
            }
            assertEquals(before, cpu.memoryStats().inUseBytes(), "every activation returned to the allocator");
        }
    }

    @Test
    void cachingAllocatorReusesBlocks() {
        Device d = cpu;
        for (int i = 0; i < 3; i++) Tensor.zeros(d, 1000, 37).close();
        long allocs = d.memoryStats().backendAllocations();
        for (int i = 0; i < 50; i++) Tensor.zeros(d, 1000, 37).close();
        assertEquals(allocs, d.memoryStats().backendAllocations(), "freed blocks are reused");
    }

    @Test
    void graphRejectsBadStructureAndInputs() {
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 1)) {
            assertThrows(IllegalArgumentException.class, () -> g.add("bad", new org.jprune.engine.nn.SimpleLayers.AddLayer(), 99));
            try (Tensor x = Tensor.zeros(cpu, 1, 4, 8, 8)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> g.forward(x, false));
                assertTrue(e.getMessage().contains("node 0 (c1)") && e.getMessage().contains("expects [n][3][h][w]"), e.getMessage());
            }
            int[][] s = g.shapes(2, 3, 16, 16);
            assertArrayEquals(new int[] {2, 3, 8, 8}, s[s.length - 1]);
        }
    }
}
