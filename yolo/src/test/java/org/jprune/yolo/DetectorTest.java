package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.eval.Postprocess;
import org.jprune.yolo.infer.Detector;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DetectorTest {
    @TempDir Path dir;

    @Test
    void manyThreadsOnOneDetectorEqualSingleThreaded() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(6, 2, 64, 3));
        new Trainer(Trainer.Options.builder(TrainerTest.tinyModel(dir).toString(), data, dir.resolve("run")).epochs(1).batch(4).imgSize(64).seed(1)
                .workers(1).build(), new PrintStream(new ByteArrayOutputStream())).run();
        // low thresholds so an untrained model still returns many boxes to compare
        Postprocess.Settings loose = new Postprocess.Settings(0.001f, 0.6f, true, 50);
        List<BufferedImage> images = new ArrayList<>();
        for (int i = 0; i < 6; i++) images.add(SynthDataset.render(64 + 16 * i, new java.util.SplittableRandom(i), new ArrayList<>()));
        Detector det = Detector.load(dir.resolve("run/last.safetensors"));
        assertEquals(SynthDataset.CLASSES, det.classNames());
        List<List<Detector.Box>> expected = new ArrayList<>();
        for (BufferedImage im : images) expected.add(det.detect(List.of(im), loose).get(0));
        assertTrue(expected.stream().mapToInt(List::size).sum() > 0, "some boxes to compare");
        for (int i = 0; i < images.size(); i++)
            for (Detector.Box b : expected.get(i))
                assertTrue(b.x1() >= 0 && b.x2() <= images.get(i).getWidth() && b.y2() <= images.get(i).getHeight(), "boxes in image pixels: " + b);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Boolean>> fs = new ArrayList<>();
            for (int t = 0; t < 48; t++) {
                int i = t % images.size();
                fs.add(pool.submit(() -> expected.get(i).equals(det.detect(List.of(images.get(i)), loose).get(0))));
            }
            for (Future<Boolean> f : fs) assertTrue(f.get(), "a concurrent result differs from the single-threaded one");
        } finally {
            pool.shutdown();
        }
        // batched = one by one
        assertEquals(expected, det.detect(images, loose));
        det.close();
        assertThrows(IllegalStateException.class, () -> det.detect(images.get(0)));
    }

    /** detect writes labels and images; eval reads them back against the YOLO ground truth; bad input exits 2. */
    @Test
    void detectThenEvalThroughTheCli() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(6, 3, 64, 4));
        new Trainer(Trainer.Options.builder(TrainerTest.tinyModel(dir).toString(), data, dir.resolve("run")).epochs(1).batch(4).imgSize(64).seed(1)
                .workers(1).build(), new PrintStream(new ByteArrayOutputStream())).run();
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf));
        int detect, eval;
        try {
            detect = org.jprune.yolo.cli.Main.execute("detect", "-w", dir.resolve("run/last.safetensors").toString(), "--source",
                    data.getParent().resolve("images/val").toString(), "--conf", "0.001", "-o", dir.resolve("det").toString());
            eval = org.jprune.yolo.cli.Main.execute("eval", "--data", data.toString(), "--dets", dir.resolve("det/labels").toString(),
                    "-o", dir.resolve("ev").toString());
        } finally {
            System.setOut(old);
        }
        assertEquals(0, detect, buf.toString());
        assertEquals(0, eval, buf.toString());
        assertTrue(java.nio.file.Files.isRegularFile(dir.resolve("det/val_000000.png")));
        assertTrue(java.nio.file.Files.isRegularFile(dir.resolve("det/labels/val_000002.txt")));
        assertTrue(java.nio.file.Files.size(dir.resolve("ev/PR_curve.png")) > 1000);
        String out = buf.toString();
        assertTrue(out.contains(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = "), out);
        assertTrue(out.contains("VOC2007 11-point"), out);
        assertEquals(2, org.jprune.yolo.cli.Main.execute("eval", "--dets", dir.resolve("nowhere").toString(), "--data", data.toString()));
        assertEquals(2, org.jprune.yolo.cli.Main.execute("detect", "-w", dir.resolve("run/last.safetensors").toString(), "--source", "nowhere.png"));
    }
}
