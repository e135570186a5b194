package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.jprune.yolo.cli.Main;
import org.jprune.yolo.train.Sensitivity;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sensitivity analysis end to end on a tiny model, its per-layer ratios, and prune --layer-ratios. */
class SensitivityTest {
    @TempDir Path dir;

    @Test
    void everyLayerAtEveryRatioWithWeightsRestoredAndRatiosForAnAllowance() throws Exception {
        Path data = dir.resolve("data/data.yaml"), ckpt = TrainerTest.tinyCheckpoint(dir);
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        Sensitivity.Result r = new Sensitivity(new Sensitivity.Options(ckpt, data, 64, 4, 1.0, new double[] {0.3, 0.6, 0.9}, 1, dir.resolve("s"), 1), quiet).run();
        assertTrue(r.layers().size() > 10, r.layers().toString());
        assertEquals(r.layers().size(), r.map50().length);
        for (double[] row : r.map50()) {
            assertEquals(3, row.length);
            for (double v : row) assertTrue(v >= 0 && v <= 1, "mAP50 " + v);
        }
        assertTrue(r.evaluations() > 0 && r.evaluations() <= 3 * r.layers().size());
        // (the analysis re-evaluates the restored model at the end and fails if it scores differently)
        Map<String, Double> all = Sensitivity.layerRatios(r, 1.0), none = Sensitivity.layerRatios(r, -1.0);
        for (String l : r.layers()) {
            assertEquals(0.9, all.get(l), 0, "any loss allowed: the largest ratio");
            assertEquals(0.0, none.get(l), 0, "no loss allowed, not even none: nothing");
        }
        for (String f : new String[] {"sensitivity.csv", "sensitivity.md", "sensitivity.png"}) assertTrue(Files.size(dir.resolve("s").resolve(f)) > 0, f);
        assertEquals(r.layers().size() + 1, Files.readAllLines(dir.resolve("s/sensitivity.csv")).size());

        // the CLI writes layer-ratios.json, and prune applies it in one step
        assertEquals(0, Main.execute("sensitivity", "-w", ckpt.toString(), "--data", data.toString(), "--ratios", "0.5", "--fraction", "0.5", "--max-drop",
                "0.99", "--round-to", "1", "-o", dir.resolve("s2").toString()));
        Path ratios = dir.resolve("s2/layer-ratios.json");
        assertTrue(Files.readString(ratios).contains("0.5"));
        assertEquals(0, Main.execute("prune", "-w", ckpt.toString(), "--data", data.toString(), "--layer-ratios", ratios.toString(), "--round-to", "1",
                "--finetune-epochs", "0", "--batch", "4", "-o", dir.resolve("p").toString()));
        try (var m = org.jprune.yolo.train.Checkpoint.read(dir.resolve("p/step-1/model.safetensors")).buildModel();
             var base = org.jprune.yolo.train.Checkpoint.read(ckpt).buildModel()) {
            assertTrue(m.parameterCount() < 0.6 * base.parameterCount(), m.parameterCount() + " vs " + base.parameterCount());
        }
        Files.writeString(dir.resolve("bad.json"), "{\"model.99.conv\": 0.5}");
        assertEquals(2, Main.execute("prune", "-w", ckpt.toString(), "--data", data.toString(), "--layer-ratios", dir.resolve("bad.json").toString(), "-o",
                dir.resolve("p2").toString()));
        // malformed files and values: one line, exit 2
        for (String bad : new String[] {"{", "[1, 2]", "{\"model.2.cv1.conv\": \"half\"}", "{\"model.2.cv1.conv\": 1.5}", ""}) {
            Files.writeString(dir.resolve("bad.json"), bad);
            assertEquals(2, Main.execute("prune", "-w", ckpt.toString(), "--data", data.toString(), "--layer-ratios", dir.resolve("bad.json").toString(), "-o",
                    dir.resolve("p3").toString()), bad);
        }
        assertEquals(2, Main.execute("sensitivity", "-w", ckpt.toString(), "--data", data.toString(), "--fraction", "2"));
        assertEquals(2, Main.execute("sensitivity", "-w", ckpt.toString(), "--data", data.toString(), "--ratios", "0.5,1.5"));
    }
}
