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
