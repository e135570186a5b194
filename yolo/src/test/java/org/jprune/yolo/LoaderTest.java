package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import javax.imageio.ImageIO;
import org.jprune.yolo.data.Loader;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.loss.Hyp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Augmentation moves boxes exactly as it moves pixels, mosaic included, and is deterministic. */
class LoaderTest {
    @TempDir Path dir;

    /** Black images with one white rectangle each (its label), of different sizes and aspect ratios. */
    List<YoloDataset.Sample> whiteBoxes() throws Exception {
        List<YoloDataset.Sample> out = new ArrayList<>();
        int[][] specs = {{96, 64, 10, 12, 40, 30}, {64, 64, 30, 5, 20, 50}, {80, 120, 5, 60, 60, 40}, {100, 100, 60, 60, 30, 30}, {70, 50, 0, 0, 35, 25}};
        for (int i = 0; i < specs.length; i++) {
            int[] s = specs[i];
            BufferedImage im = new BufferedImage(s[0], s[1], BufferedImage.TYPE_INT_RGB);
            Graphics2D g = im.createGraphics();
            g.setColor(Color.WHITE);
            g.fillRect(s[2], s[3], s[4], s[5]);
            g.dispose();
            Path p = dir.resolve("images/" + i + ".png");
            Files.createDirectories(p.getParent());
            ImageIO.write(im, "png", p.toFile());
            out.add(new YoloDataset.Sample(p, null, List.of(new YoloDataset.Label(0, (s[2] + s[4] / 2f) / s[0], (s[3] + s[5] / 2f) / s[1],
                    (float) s[4] / s[0], (float) s[5] / s[1]))));
        }
        return out;
    }

    static float meanInside(Loader.Batch b, float[] t, int shrink) {
        int size = b.size(), im = (int) t[0], plane = size * size;
        int x1 = (int) Math.ceil((t[2] - t[4] / 2) * size) + shrink, x2 = (int) Math.floor((t[2] + t[4] / 2) * size) - shrink;
        int y1 = (int) Math.ceil((t[3] - t[5] / 2) * size) + shrink, y2 = (int) Math.floor((t[3] + t[5] / 2) * size) - shrink;
        double s = 0;
        int n = 0;
        for (int y = y1; y < y2; y++)
            for (int x = x1; x < x2; x++) { s += b.images()[im * 3 * plane + y * size + x]; n++; }
        return n == 0 ? 1 : (float) (s / n);
    }

    @Test
    void boxesFollowThePixels() throws Exception {
        List<YoloDataset.Sample> samples = whiteBoxes();
        for (String h : new String[] {"mosaic=0", "mosaic=1", "mosaic=1,scale=0.3,translate=0.2"}) {
            Loader.Augment a = Loader.Augment.from(Hyp.SCRATCH_LOW.with(List.of(h.split(","))));
            int checked = 0;
            try (Loader l = new Loader(samples, 5, 96, a, 3, 2)) {
                for (int epoch = 0; epoch < 6; epoch++)
                    for (Iterator<Loader.Batch> it = l.epoch(epoch, 0); it.hasNext(); ) {
                        Loader.Batch b = it.next();
                        for (int k = 0; k < b.targetCount(); k++) {
                            float[] t = java.util.Arrays.copyOfRange(b.targets(), k * 6, k * 6 + 6);
                            assertTrue(t[2] - t[4] / 2 >= -1e-6 && t[2] + t[4] / 2 <= 1 + 1e-6 && t[3] - t[5] / 2 >= -1e-6 && t[3] + t[5] / 2 <= 1 + 1e-6,
                                    h + ": box outside the input " + java.util.Arrays.toString(t));
                            if (t[4] * 96 < 8 || t[5] * 96 < 8) continue;
                            // HSV gains change the white's value by at most 40%: inside the box stays bright
                            assertTrue(meanInside(b, t, 2) > 0.5f, h + ": box " + java.util.Arrays.toString(t) + " is not on the white rectangle");
                            checked++;
                        }
                    }
            }
            assertTrue(checked > 10, h + ": only " + checked + " boxes checked");
        }
    }

    @Test
    void deterministicWhateverTheThreads() throws Exception {
        List<YoloDataset.Sample> samples = whiteBoxes();
        Loader.Augment a = Loader.Augment.from(Hyp.SCRATCH_LOW);
        try (Loader one = new Loader(samples, 2, 64, a, 9, 1); Loader four = new Loader(samples, 2, 64, a, 9, 4)) {
            Iterator<Loader.Batch> x = one.epoch(2, 0), y = four.epoch(2, 0);
            while (x.hasNext()) {
                Loader.Batch p = x.next(), q = y.next();
                assertArrayEquals(p.images(), q.images());
                assertArrayEquals(p.targets(), q.targets());
            }
            assertTrue(!java.util.Arrays.equals(one.epoch(2, 0).next().images(), one.epoch(3, 0).next().images()), "epochs differ");
            assertEquals(3, one.batchesPerEpoch());
        }
    }
    @Test
    void cachedImagesGiveTheSameBatches() throws Exception {
        List<YoloDataset.Sample> samples = whiteBoxes();
        Loader.Augment a = Loader.Augment.from(Hyp.SCRATCH_LOW);
        try (Loader l = new Loader(samples, 2, 64, a, 9, 2); Loader fresh = new Loader(samples, 2, 64, a, 9, 2)) {
            l.epoch(0, 0).forEachRemaining(b -> {}); // decodes (and caches) every image
            Iterator<Loader.Batch> x = l.epoch(1, 0), y = fresh.epoch(1, 0);
            while (x.hasNext()) assertArrayEquals(y.next().images(), x.next().images());
        }
    }

    /** The integer 8-bit HSV path against java.awt.Color's float HSB round trip with the same gains. */
    @Test
    void hsvGainsMatchAFloatReference() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        double[][] gains = {{1, 1, 1}, {1.015, 0.7, 1.4}, {0.985, 1.7, 0.6}};
        for (double[] g : gains) {
            int[] px = new int[4000];
            for (int i = 0; i < px.length; i++) px[i] = r.nextInt(1 << 24);
            int[] got = px.clone();
            Loader.hsv(got, g[0], g[1], g[2]);
            int worst = 0;
            long total = 0;
            float[] hsb = new float[3];
            for (int i = 0; i < px.length; i++) {
                int c = px[i];
                Color.RGBtoHSB((c >> 16) & 255, (c >> 8) & 255, c & 255, hsb);
                int want = Color.HSBtoRGB((float) ((hsb[0] * g[0]) % 1.0), (float) Math.min(1, hsb[1] * g[1]), (float) Math.min(1, hsb[2] * g[2])) & 0xFFFFFF;
                for (int sh = 0; sh <= 16; sh += 8) {
                    int d = Math.abs(((want >> sh) & 255) - ((got[i] >> sh) & 255));
                    worst = Math.max(worst, d);
                    total += d;
                }
            }
            // 8-bit hue is in 2-degree steps and its table truncates (up to ~2 degrees, 9 levels on a
            // saturated channel, more where the value gain scales them); s and v truncate too
            double mean = total / (3.0 * px.length);
            assertTrue(worst <= 16 && mean < 1.5, "gains " + java.util.Arrays.toString(g) + ": channel difference worst " + worst + ", mean " + mean);
        }
    }
}
