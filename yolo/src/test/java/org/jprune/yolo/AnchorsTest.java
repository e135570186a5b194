package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.jprune.yolo.model.Anchors;
import org.jprune.yolo.model.ModelConfig;
import org.junit.jupiter.api.Test;

/** autoanchor's metrics on hand-made cases, and fitting that finds the clusters of box sizes. */
class AnchorsTest {
    @Test
    void fitCountsMatchesByTheSideRatioRule() {
        float[][] wh = {{10, 10}, {20, 10}, {50, 10}};
        // anchor 10x10: ratios 1 (match), 0.5 (match), 0.2 (no match at thr 0.25); anchor 40x10: 0.25 (not > thr), 0.5, 0.8
        Anchors.Fit f = Anchors.fit(wh, new float[] {10, 10, 40, 10}, 0.25);
        assertEquals(1.0, f.bpr(), 1e-12);
        assertEquals((1 + 2 + 1) / 3.0, f.aat(), 1e-12);
        assertEquals((1.0 + 0.5 + 0.8) / 3, f.fitness(), 1e-12);
        Anchors.Fit g = Anchors.fit(wh, new float[] {10, 10}, 0.25);
        assertEquals(2 / 3.0, g.bpr(), 1e-12);
        assertEquals((1.0 + 0.5) / 3, g.fitness(), 1e-12, "unmatched boxes add nothing");
    }

    @Test
    void evolveFindsTheSizeClustersAndIsRepeatable() {
        SplittableRandom r = new SplittableRandom(1);
        float[][] centres = {{8, 8}, {16, 32}, {40, 20}, {64, 64}, {100, 60}, {120, 140}};
        List<float[]> boxes = new ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            float[] c = centres[i % centres.length];
            boxes.add(new float[] {(float) (c[0] * (0.9 + 0.2 * r.nextDouble())), (float) (c[1] * (0.9 + 0.2 * r.nextDouble()))});
        }
        float[][] wh = boxes.toArray(float[][]::new);
        float[] a = Anchors.evolve(wh, 6, 0.25, 300, 7);
        assertArrayEquals(a, Anchors.evolve(wh, 6, 0.25, 300, 7), "same seed, same anchors");
        for (int i = 1; i < 6; i++) assertTrue(a[2 * i] * a[2 * i + 1] >= a[2 * i - 2] * a[2 * i - 1], "sorted by area");
        for (float[] c : centres) { // every cluster is covered closely: some anchor within a ratio of 0.75 on both sides
            double best = 0;
            for (int i = 0; i < 6; i++) {
                double rw = c[0] / a[2 * i], rh = c[1] / a[2 * i + 1];
                best = Math.max(best, Math.min(Math.min(rw, 1 / rw), Math.min(rh, 1 / rh)));
            }
            assertTrue(best > 0.75, "cluster " + c[0] + "x" + c[1] + " best ratio " + best + ": " + java.util.Arrays.toString(a));
        }
        Anchors.Fit fitted = Anchors.fit(wh, a, 0.25);
        Anchors.Fit yolo = Anchors.fit(wh, new float[] {10, 13, 16, 30, 33, 23, 116, 90, 156, 198, 373, 326}, 0.25);
        assertTrue(fitted.bpr() == 1.0 && fitted.fitness() > 0.85 && fitted.fitness() > yolo.fitness(), "fit " + fitted + " vs " + yolo);
    }

    @Test
    void levelsRoundTripThroughTheCheckpointStringAndTheConfig() throws Exception {
        List<float[]> levels = Anchors.toLevels(new float[] {10.4f, 13.6f, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326}, 3);
        assertArrayEquals(new float[] {10, 14, 16, 30, 33, 23}, levels.get(0));
        String s = Anchors.format(levels);
        assertEquals("10,14,16,30,33,23;30,61,62,45,59,119;116,90,156,198,373,326", s);
        ModelConfig cfg = ModelConfig.load("yolov5n").withAnchors(Anchors.parse(s));
        assertArrayEquals(new float[] {10, 14, 16, 30, 33, 23}, cfg.anchors().get(0));
        assertThrows(IllegalArgumentException.class, () -> ModelConfig.load("yolov5n").withAnchors(List.of(new float[] {1, 2})));
        // fractional anchors (an imported model's autoanchor) go through the checkpoint string unchanged
        List<float[]> frac = List.of(new float[] {10.375f, 13.1f, 16, 30, 33, 23}, new float[] {30, 61, 62, 45, 59, 119.25f},
                new float[] {116, 90, 156, 198, 373, 326.7f});
        String f = Anchors.format(frac);
        assertEquals("10.375,13.1,16,30,33,23;30,61,62,45,59,119.25;116,90,156,198,373,326.7", f);
        for (int l = 0; l < 3; l++) assertArrayEquals(frac.get(l), Anchors.parse(f).get(l));
        assertThrows(IllegalArgumentException.class, () -> ModelConfig.load("yolov5n").withAnchors(List.of(new float[] {Float.NaN, 2, 3, 4, 5, 6},
                new float[] {1, 2, 3, 4, 5, 6}, new float[] {1, 2, 3, 4, 5, 6})));
        assertThrows(IllegalArgumentException.class, () -> Anchors.toLevels(new float[] {1, 2, 3, 4}, 3));
    }
}
