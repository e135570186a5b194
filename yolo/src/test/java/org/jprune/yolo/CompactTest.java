package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.nn.BatchNorm2dLayer;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.prune.ChannelPruner;
import org.jprune.engine.prune.Compactor;
import org.jprune.engine.prune.DependencyGraph;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.train.Checkpoint;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Compaction of every built-in model under random pruning plans: the compact model computes what the
 * masked model computes, has the parameter count the pruner reports, saves to a smaller file and loads
 * back (widths and all) through {@link Checkpoint#buildModel}.
 */
class CompactTest {
    @TempDir Path dir;

    /** Non-trivial batch-norm state, so a wrong gather of any BN vector shows in the outputs. */
    static void randomizeBatchNorms(Graph g, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (Graph.Node n : g.nodes()) {
            if (!(n.layer() instanceof BatchNorm2dLayer bn)) continue;
            int c = bn.channels();
            float[] gamma = new float[c], beta = new float[c], mean = new float[c], var = new float[c];
            for (int i = 0; i < c; i++) {
                gamma[i] = (float) (0.5 + r.nextDouble());
                beta[i] = (float) (r.nextDouble() - 0.5);
                mean[i] = (float) (r.nextDouble() - 0.5) * 0.2f;
                var[i] = (float) (0.5 + r.nextDouble());
            }
            bn.gamma().value().copyFrom(gamma);
            bn.beta().value().copyFrom(beta);
            bn.runningMean().copyFrom(mean);
            bn.runningVar().copyFrom(var);
        }
    }

    /** Prunes {@code ratio} of the model's channel groups under random scores and puts the plan on it; returns the pruner. */
    static ChannelPruner randomPlan(YoloModel m, double ratio, long seed) {
        DependencyGraph dg = m.dependencyGraph();
        ChannelPruner p = new ChannelPruner(dg, new ChannelPruner.Options(true, 1));
        double[] imp = new double[dg.groups().size()];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < imp.length; i++) imp[i] = r.nextDouble();
        p.step(ratio, imp);
        m.applyPlan(p.plan());
        return p;
    }

    @ParameterizedTest(name = "compact == masked [{0}]")
    @ValueSource(strings = {"yolov5n", "yolov5s", "yolov5m", "yolov3-tiny", "yolov4-tiny"})
    void compactModelEqualsMaskedModel(String name) throws IOException {
        Device cpu = Device.cpu();
        ModelConfig cfg = ModelConfig.load(name).withClasses(3);
        try (YoloModel m = YoloModel.build(cfg, cpu, 1); Tensor x = Tensor.randn(cpu, 5, 1f, 2, 3, 64, 64)) {
            randomizeBatchNorms(m.graph(), 3);
            ChannelPruner p = randomPlan(m, 0.6, name.hashCode());
            float[][] masked = m.forwardRaw(x);
            try (YoloModel c = m.compact()) {
                assertEquals(p.parameterCount(), c.parameterCount(), "the compact model has the pruner's parameter count");
                assertTrue(c.parameterCount() < 0.7 * m.parameterCount(), c.parameterCount() + " vs " + m.parameterCount());
                assertNull(c.plan());
                assertNotNull(c.widths());
                float[][] compact = c.forwardRaw(x);
                double maxAbs = 0, maxRef = 0;
                for (int l = 0; l < masked.length; l++) {
                    assertEquals(masked[l].length, compact[l].length);
                    for (int i = 0; i < masked[l].length; i++) {
                        maxAbs = Math.max(maxAbs, Math.abs(masked[l][i] - compact[l][i]));
                        maxRef = Math.max(maxRef, Math.abs(masked[l][i]));
                    }
                }
                System.out.printf("compact == masked [%s]: %d -> %d parameters, max |diff| %.2e (%.2e of max |output| %.2f)%n", name, m.parameterCount(),
                        c.parameterCount(), maxAbs, maxAbs / maxRef, maxRef);
                assertTrue(maxAbs <= 1e-4 * maxRef, name + ": max |diff| " + maxAbs + " > 1e-4 x " + maxRef);

                // the compact model file: smaller, and loads back as the same network
                Path dense = dir.resolve(name + "-dense.safetensors"), small = dir.resolve(name + "-compact.safetensors");
                Checkpoint.writeModel(dense, m, name, List.of("a", "b", "c"), 64, Map.of());
                Checkpoint.writeModel(small, c, name, List.of("a", "b", "c"), 64, Map.of());
                assertTrue(Files.size(small) < 0.7 * Files.size(dense), Files.size(small) + " vs " + Files.size(dense));
                Checkpoint ck = Checkpoint.read(small);
                assertEquals(c.widths(), ck.widths());
                try (YoloModel back = ck.buildModel()) {
                    assertEquals(c.parameterCount(), back.parameterCount());
                    float[][] again = back.forwardRaw(x);
                    for (int l = 0; l < again.length; l++) assertArrayEquals(compact[l], again[l], name + " level " + l);
                }
                // the masked file keeps its plan: loading it puts the plan back (channel-sparse convs)
                try (YoloModel back = Checkpoint.read(dense).buildModel()) {
                    assertEquals(p.plan(), back.plan());
                    float[][] again = back.forwardRaw(x);
                    for (int l = 0; l < again.length; l++) assertArrayEquals(masked[l], again[l], name + " masked level " + l);
                }
            }
        }
    }

    @ParameterizedTest(name = "bad widths refused [{0}]")
    @ValueSource(strings = {"{\"format\":\"jprune-widths/1\",\"conv_out\":{\"model.0.conv\":9999}}",
            "{\"format\":\"jprune-widths/1\",\"conv_out\":{\"nope.conv\":4}}", "{\"format\":\"jprune-widths/1\",\"conv_out\":{\"model.0.conv\":\"x\"}}",
            "{\"format\":\"other\"}", "not json"})
    void badWidthsAreRefusedNamingTheEntry(String widths) {
        Device cpu = Device.cpu();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> YoloModel.build(ModelConfig.load("yolov5n").withClasses(2), cpu, 0, Compactor.Spec.parse(widths, "m.safetensors")).close());
        assertTrue(e.getMessage().contains("widths"), e.getMessage());
    }
}
