package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.train.Study;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StudyTest {
    @TempDir Path dir;

    @Test
    void studyPrunesIterativelyAndReportsEveryLevel() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(8, 4, 64, 5));
        Path model = TrainerTest.tinyModel(dir);
        List<Study.Row> rows = new Study(new Study.Options(model.toString(), data, 64, 4, 4, 1, 1, new double[] {0.3, 0.6}, true, 1,
                dir.resolve("study"), 2, org.jprune.yolo.loss.Hyp.SCRATCH_LOW, "SGD"), new PrintStream(new ByteArrayOutputStream())).run();
        assertEquals(3, rows.size());
        assertEquals(0.0, rows.get(0).level());
        assertTrue(rows.get(1).level() > 0.2 && rows.get(2).level() > rows.get(1).level(), rows.toString());
        assertTrue(rows.get(1).params() < rows.get(0).params() && rows.get(2).params() < rows.get(1).params(), rows.toString());
        assertTrue(rows.get(2).gflops() < rows.get(0).gflops(), rows.toString());
        String md = Files.readString(dir.resolve("study/study.md"));
        assertTrue(md.contains("| Pruning level | mAP50 | mAP50-95 | Parameters | GFLOPs |"), md);
        assertEquals(4, Files.readAllLines(dir.resolve("study/study.csv")).size());

        // group-regularization pruning from the baseline just trained (not trained again)
        Path baseline = dir.resolve("study/baseline/last.safetensors");
        List<Study.Row> reg = new Study(new Study.Options(model.toString(), data, 64, 4, 4, 1, 1, new double[] {0.3, 0.6}, true, 1,
                dir.resolve("reg"), 2, org.jprune.yolo.loss.Hyp.SCRATCH_LOW, "SGD", "model", "group-reg", 1e-3, 4, 1, baseline),
                new PrintStream(new ByteArrayOutputStream())).run();
        assertEquals(3, reg.size());
        assertEquals(rows.get(0).map50(), reg.get(0).map50(), 1e-9, "the given baseline is evaluated as trained");
        assertEquals(rows.get(0).params(), reg.get(0).params());
        assertEquals(1, reg.get(0).epochs(), "the baseline's epochs, from its checkpoint");
        assertEquals(2, reg.get(1).epochs(), "1 regularized + 1 fine-tuning epoch");
        assertTrue(reg.get(2).params() < reg.get(1).params() && reg.get(1).params() < reg.get(0).params(), reg.toString());
        assertTrue(Files.exists(dir.resolve("reg/prune-60/regularized/last.safetensors")));
        // the second step's regularized training kept the first step's pruned channels at exactly 0
        int zeroBefore = zeroGroups(dir.resolve("reg/prune-30/last.safetensors"));
        assertTrue(zeroBefore > 0);
        assertTrue(zeroGroups(dir.resolve("reg/prune-60/regularized/last.safetensors")) >= zeroBefore);
        assertTrue(Files.readString(dir.resolve("reg/study.md")).contains("group-regularization pruning"));
    }

    static int zeroGroups(Path ckpt) throws Exception {
        try (var m = org.jprune.yolo.train.Checkpoint.read(ckpt).buildModel()) {
            var dg = new org.jprune.engine.prune.DependencyGraph(m.graph(), 3);
            double[] n = new org.jprune.engine.prune.GroupRegularizer(dg, 0, 1).groupNorms();
            int z = 0;
            for (var g : dg.groups()) if (g.prunable() && dg.layerOf(g.id()) >= 0 && n[g.id()] == 0) z++;
            return z;
        }
    }

    @Test
    void badStudyOptionsAreRefused() {
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new Study.Options("m", dir, 64, 4, 4, 1, 1,
                new double[] {0.3}, true, 1, dir, 2, org.jprune.yolo.loss.Hyp.SCRATCH_LOW, "SGD", "model", "lasso", 1e-3, 4, 1, null));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new Study.Options("m", dir, 64, 4, 4, 1, 1,
                new double[] {0.3}, true, 1, dir, 2, org.jprune.yolo.loss.Hyp.SCRATCH_LOW, "SGD", "model", "group-reg", -1, 4, 1, null));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new Study.Options("m", dir, 64, 4, 4, 1, 1,
                new double[] {1.2}, true, 1, dir, 2, org.jprune.yolo.loss.Hyp.SCRATCH_LOW, "SGD", "model", "magnitude", 1e-3, 4, 1, null));
    }
}
