package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jprune.engine.io.SafeTensors;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.train.AnchorMode;
import org.jprune.yolo.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
    @TempDir Path dir;

    /** A YOLOv5n with an eighth of the channels: the same architecture, small enough for a unit test. */
    static Path tinyModel(Path dir) throws Exception {
        String yaml = new String(TrainerTest.class.getResourceAsStream("/org/jprune/yolo/models/yolov5n.yaml").readAllBytes())
                .replace("width_multiple: 0.25", "width_multiple: 0.125");
        Path p = dir.resolve("tiny.yaml");
        Files.writeString(p, yaml);
        return p;
    }

    /**
     * The synthetic set (8 train + 4 val images at 64 px) in DIR/data and the tiny YOLOv5 trained for one
     * epoch into DIR/t; returns DIR/t/last.safetensors.
     */
    static Path tinyCheckpoint(Path dir) throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(8, 4, 64, 5));
        new Trainer(Trainer.Options.builder(tinyModel(dir).toString(), data, dir.resolve("t")).epochs(1).batch(4).nbs(4).imgSize(64).seed(1)
                .anchors(AnchorMode.MODEL).build(), new PrintStream(new ByteArrayOutputStream())).run();
        return dir.resolve("t/last.safetensors");
    }

    Trainer.Options opts(Path data, Path model, Path out, int epochs, boolean resume, int stopAfter) {
        return Trainer.Options.builder(model.toString(), data, out).epochs(epochs).batch(4).imgSize(64).seed(3).resume(resume).stopAfterEpochs(stopAfter)
                .anchors(AnchorMode.EVOLVE).build();
    }

    @Test
    void resumeAfterInterruptionGivesTheSameWeights() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(10, 4, 64, 11));
        Path model = tinyModel(dir);
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        new Trainer(opts(data, model, dir.resolve("a"), 3, false, -1), quiet).run();
        new Trainer(opts(data, model, dir.resolve("b"), 3, false, 2), quiet).run();   // "killed" after 2 epochs
        assertEquals("1", SafeTensors.read(dir.resolve("b/last.safetensors")).metadata().get("epoch"), "interrupted after epoch index 1");
        // fitted anchors travel in the checkpoint and come back with it (the resumed run must use them)
        var ckpt = org.jprune.yolo.train.Checkpoint.read(dir.resolve("b/last.safetensors"));
        String fitted = ckpt.metadata().get("anchors");
        assertTrue(!fitted.equals("10,13,16,30,33,23;30,61,62,45,59,119;116,90,156,198,373,326"), "anchors were fitted: " + fitted);
        assertEquals(fitted, org.jprune.yolo.model.Anchors.format(ckpt.config().anchors()));
        var mid = SafeTensors.read(dir.resolve("b/last.safetensors")).tensors();
        var aLast = SafeTensors.read(dir.resolve("a/last.safetensors")).tensors();
        assertTrue(!java.util.Arrays.equals(mid.get("model/model.0.conv.weight").data(), aLast.get("model/model.0.conv.weight").data()),
                "the interrupted run is behind the full one");
        // a kill during epoch index 2's writes, after best and the results row but before last (the
        // commit point): a row for an epoch last does not hold, and an atomic write's temporary file
        Path csvB = dir.resolve("b/results.csv");
        Files.writeString(csvB, Files.readString(csvB) + "2,9,9,9,0.5,0.5,0.001,1.00,1.0\n");
        Path stale = dir.resolve("b/.last.safetensors.12345.tmp");
        Files.write(stale, new byte[1000]);
        // while the folder is locked (another run writing), a second run into it is refused
        try (var ch = java.nio.channels.FileChannel.open(dir.resolve("b/.lock"), java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
             var lock = ch.lock()) {
            IllegalArgumentException busy = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> new Trainer(opts(data, model, dir.resolve("b"), 3, true, -1), quiet).run());
            assertTrue(busy.getMessage().contains("another run"), busy.getMessage());
        }
        // --resume with another image size is refused, naming both
        IllegalArgumentException img = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new Trainer(
                opts(data, model, dir.resolve("b"), 3, true, -1).toBuilder().imgSize(96).build(),
                quiet).run());
        assertTrue(img.getMessage().contains("64") && img.getMessage().contains("96"), img.getMessage());
        new Trainer(opts(data, model, dir.resolve("b"), 3, true, -1), quiet).run();   // --resume
        assertTrue(!Files.exists(stale), "stale temporary files are removed on start");
        List<String> rowsA = Files.readAllLines(dir.resolve("a/results.csv")), rowsB = Files.readAllLines(csvB);
        assertEquals(rowsA.size(), rowsB.size(), rowsB.toString());
        for (int i = 0; i < rowsA.size(); i++) // epoch, losses and mAPs equal; the timing columns differ
            assertEquals(String.join(",", java.util.Arrays.asList(rowsA.get(i).split(",")).subList(0, 7)),
                    String.join(",", java.util.Arrays.asList(rowsB.get(i).split(",")).subList(0, 7)), "row " + i);
        var bestA = SafeTensors.read(dir.resolve("a/best.safetensors"));
        var bestB = SafeTensors.read(dir.resolve("b/best.safetensors"));
        assertEquals(bestA.metadata().get("epoch"), bestB.metadata().get("epoch"), "best is the same epoch's");
        var a = SafeTensors.read(dir.resolve("a/last.safetensors")).tensors();
        var b = SafeTensors.read(dir.resolve("b/last.safetensors")).tensors();
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) assertArrayEquals(a.get(k).data(), b.get(k).data(), k);
        assertEquals(4, Files.readAllLines(dir.resolve("b/results.csv")).size(), "header + 3 epochs");
        assertTrue(Files.isRegularFile(dir.resolve("a/best.safetensors")));
        // the checkpoint evaluates through the CLI, with a per-class table
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf));
        int code;
        try {
            code = org.jprune.yolo.cli.Main.execute("val", "-w", dir.resolve("a/last.safetensors").toString(), "--data", data.toString());
        } finally {
            System.setOut(old);
        }
        assertEquals(0, code, buf.toString());
        assertTrue(buf.toString().contains("all") && buf.toString().contains("hexagon"), buf.toString());
        assertEquals(2, org.jprune.yolo.cli.Main.execute("val", "-w", data.toString(), "--data", data.toString()), "not a checkpoint");
    }
}
