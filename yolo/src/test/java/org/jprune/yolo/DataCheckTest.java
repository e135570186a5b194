package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jprune.yolo.cli.Main;
import org.jprune.yolo.data.Loader;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.data.YoloDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataCheckTest {
    @TempDir Path dir;

    @Test
    void everyBrokenLabelAndImageIsReportedWithFileAndLine() throws Exception {
        Path yaml = SynthDataset.write(dir, new SynthDataset.Spec(3, 2, 64, 1));
        Path lab = dir.resolve("labels/train/train_000000.txt");
        Files.writeString(lab, "0 0.5 0.5 0.2 0.2\n1 0.5 0.5\n9 0.5 0.5 0.1 0.1\n2 0.95 0.5 0.3 0.3\nx 0.5 0.5 0.1 0.1\n3 0.5 0.5 0.1 0.1\n");
        Files.write(dir.resolve("images/train/broken.png"), new byte[] {1, 2, 3});
        Files.write(dir.resolve("images/val/empty.png"), new byte[0]);
        var cfg = YoloDataset.readConfig(yaml);
        YoloDataset train = YoloDataset.load(cfg, "train", true);
        List<String> p = train.problems().stream().map(Object::toString).toList();
        assertTrue(p.contains(lab + ":2: expected 'class cx cy w h' (or a polygon 'class x1 y1 x2 y2 x3 y3 ...'), got 3 fields: '1 0.5 0.5'"), p.toString());
        assertTrue(p.contains(lab + ":3: class 9 outside [0, 8)"), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith(lab + ":4: box 0.95 0.5 0.3 0.3 is empty or outside")), p.toString());
        assertTrue(p.contains(lab + ":5: not a number in 'x 0.5 0.5 0.1 0.1'"), p.toString());
        assertTrue(p.contains(dir.resolve("images/train/broken.png") + ": not a readable image (its content is not PNG, JPEG, BMP, TIFF or GIF)"), p.toString());
        var s0 = train.samples().stream().filter(s -> s.image().getFileName().toString().equals("train_000000.png")).findFirst().orElseThrow();
        assertEquals(2, s0.labels().size(), "the valid lines are kept");
        assertTrue(YoloDataset.load(cfg, "val", true).problems().toString().contains("empty.png: empty file"));

        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf));
        int code;
        try {
            code = Main.execute("data", "check", "--data", yaml.toString());
        } finally {
            System.setOut(old);
        }
        assertEquals(2, code);
        assertTrue(buf.toString().contains("train: 4 images") && buf.toString().contains(":3: class 9 outside [0, 8)"), buf.toString());
    }

    @Test
    void loaderIsDeterministicAndLetterboxes() throws Exception {
        Path yaml = SynthDataset.write(dir, new SynthDataset.Spec(6, 2, 96, 2));
        var ds = YoloDataset.load(YoloDataset.readConfig(yaml), "train", false);
        try (Loader a = new Loader(ds.samples(), 4, 64, Loader.Augment.from(org.jprune.yolo.loss.Hyp.SCRATCH_LOW), 5, 2);
             Loader b = new Loader(ds.samples(), 4, 64, Loader.Augment.from(org.jprune.yolo.loss.Hyp.SCRATCH_LOW), 5, 1)) {
            var ia = a.epoch(3, 0);
            var ib = b.epoch(3, 0);
            while (ia.hasNext()) {
                Loader.Batch x = ia.next(), y = ib.next();
                assertTrue(java.util.Arrays.equals(x.images(), y.images()) && java.util.Arrays.equals(x.targets(), y.targets()),
                        "same seed and epoch give the same batch whatever the threads");
                assertEquals(x.n() * 3 * 64 * 64, x.images().length);
                for (int t = 0; t < x.targetCount(); t++) {
                    float cx = x.targets()[t * 6 + 2], w = x.targets()[t * 6 + 4];
                    assertTrue(cx - w / 2 >= -1e-5 && cx + w / 2 <= 1 + 1e-5);
                }
            }
        }
    }
}
