package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.jprune.engine.io.SafeTensors;
import org.jprune.yolo.cli.Main;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.infer.Detector;
import org.jprune.yolo.train.Checkpoint;
import org.jprune.yolo.train.Study;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `jprune prune` end to end, and the compact model as a first-class model: summary, val, detect, the
 * Detector and further training load it; unstructured (GMP) pruning keeps its masks to the model file.
 */
class PruneCommandTest {
    @TempDir Path dir;

    @Test
    void pruneWritesCompactModelsThatEveryCommandLoads() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(8, 4, 64, 5));
        String model = TrainerTest.tinyModel(dir).toString();
        assertEquals(0, Main.execute("train", "--data", data.toString(), "-m", model, "--epochs", "1", "--batch", "4", "--img", "64", "-o",
                dir.resolve("base").toString(), "--anchors", "model"));
        Path base = dir.resolve("base/last.safetensors");
        assertEquals(0, Main.execute("prune", "-w", base.toString(), "--data", data.toString(), "--levels", "0.3,0.5", "--target", "params",
                "--finetune-epochs", "1,0", "--batch", "4", "-o", dir.resolve("p").toString()));
        Path step2 = dir.resolve("p/step-2/model.safetensors");
        assertTrue(Files.isRegularFile(dir.resolve("p/step-1/model.safetensors")) && Files.isRegularFile(step2));
        Checkpoint c = Checkpoint.read(step2);
        assertTrue(c.widths() != null && c.plan() == null, "a compact model");
        long dense;
        try (var m = Checkpoint.read(base).buildModel()) { dense = m.parameterCount(); }
        try (var m = c.buildModel()) {
            double removed = 1 - (double) m.parameterCount() / dense;
            assertTrue(removed >= 0.5 && removed < 0.7, "params removed " + removed);
        }
        // every command loads the compact model
        assertEquals(0, Main.execute("model", "summary", "-w", step2.toString(), "--img", "64"));
        assertEquals(0, Main.execute("val", "-w", step2.toString(), "--data", data.toString(), "--batch", "4"));
        Path img = dir.resolve("data/images/val");
        assertEquals(0, Main.execute("detect", "-w", step2.toString(), "--source", img.toString(), "-o", dir.resolve("det").toString(), "--conf", "0.001"));
        assertEquals(0, Main.execute("train", "-w", step2.toString(), "--data", data.toString(), "--epochs", "1", "--batch", "4", "--img", "64", "-o",
                dir.resolve("more").toString()));
        assertEquals(c.widths(), Checkpoint.read(dir.resolve("more/last.safetensors")).widths(), "further training keeps the compact widths");
        try (Detector d = Detector.load(step2)) {
            BufferedImage im = ImageIO.read(Files.list(img).filter(p -> p.toString().endsWith(".png")).findFirst().orElseThrow().toFile());
            assertTrue(d.detect(im) != null);
        }
        // a later prune continues from the compact model: the original size travels in its metadata
        assertEquals(0, Main.execute("prune", "-w", step2.toString(), "--data", data.toString(), "--levels", "0.7", "--target", "params",
                "--finetune-epochs", "0", "--batch", "4", "-o", dir.resolve("p2").toString()));
        try (var m = Checkpoint.read(dir.resolve("p2/step-1/model.safetensors")).buildModel()) {
            assertTrue(1 - (double) m.parameterCount() / dense >= 0.7);
        }
        // bad input: one line, exit 2
        assertEquals(2, Main.execute("prune", "-w", dir.resolve("nope.safetensors").toString(), "--data", data.toString()));
        assertEquals(2, Main.execute("prune", "-w", base.toString(), "--data", data.toString(), "--levels", "0.5,0.3"));
        assertEquals(2, Main.execute("prune", "-w", base.toString(), "--data", data.toString(), "--method", "lasso"));
        assertEquals(2, Main.execute("prune", "-w", base.toString(), "--data", data.toString(), "--target", "bytes"));
        assertEquals(2, Main.execute("prune", "-w", base.toString(), "--data", data.toString(), "--ignore", "model.99.conv"));
    }

    @Test
    void gradualUnstructuredPruningKeepsExactZerosAndPicksKernels() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(8, 4, 64, 5));
        Path model = TrainerTest.tinyModel(dir);
        List<Study.Row> rows = new Study(StudyTest.options(model, data, dir.resolve("u"), 2, 0.5, 0.8)
                .withStrategy(org.jprune.yolo.train.PruneRun.Strategy.named("gmp", true, 0, 4, 1)), new PrintStream(new ByteArrayOutputStream())).run();
        assertEquals(3, rows.size());
        assertTrue(rows.get(2).paramsRemoved() > rows.get(1).paramsRemoved() && rows.get(1).paramsRemoved() > 0.3, rows.toString());
        Path file = dir.resolve("u/step-2/model.safetensors");
        Checkpoint c = Checkpoint.read(file);
        assertTrue(c.plan() != null && !c.plan().weightMasks().isEmpty());
        // the saved (EMA) weights are exactly 0 wherever the mask is, and the masks reach 80% of the target weights
        Map<String, SafeTensors.Entry> t = c.tensors();
        long zeros = 0, n = 0;
        for (var e : c.plan().weightMasks().entrySet()) {
            float[] w = t.get("ema/" + e.getKey()).data();
            for (int i = 0; i < w.length; i++) {
                if (e.getValue()[i] == 0f) { assertTrue(w[i] == 0f, e.getKey() + "[" + i + "] = " + w[i]); zeros++; }
                n++;
            }
        }
        assertEquals(0.8, (double) zeros / n, 0.01);
        try (var m = c.buildModel()) {
            assertFalse(m.sparseKernels().isEmpty(), "loading a weight-sparse model measures dense vs CSR per conv");
        }
        assertTrue(Files.readString(dir.resolve("u/study.md")).contains("unstructured magnitude pruning"));
    }
}
