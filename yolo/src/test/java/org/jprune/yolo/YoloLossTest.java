package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.loss.YoloLoss;
import org.junit.jupiter.api.Test;

class YoloLossTest {
    static final float[][] ANCHORS = {{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}, {116, 90, 156, 198, 373, 326}};
    static final int[] STRIDES = {8, 16, 32};

    static YoloLoss loss(int nc, int img) { return new YoloLoss(nc, ANCHORS, STRIDES, Hyp.SCRATCH_LOW.scaled(3, nc, img)); }

    /** Analytic gradient vs central differences of the loss (detached quantities held fixed, as autograd does). */
    @Test
    void gradientMatchesFiniteDifferences() {
        int nc = 3, img = 64, bs = 2, no = nc + 5;
        int[] ny = {8, 4, 2}, nx = {8, 4, 2};
        float[][] out = new float[3][];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 3; i++) {
            out[i] = new float[bs * 3 * no * ny[i] * nx[i]];
            for (int j = 0; j < out[i].length; j++) out[i][j] = (float) (r.nextGaussian() * 1.5);
        }
        float[] t = {0, 1, 0.30f, 0.40f, 0.25f, 0.30f, 0, 2, 0.71f, 0.62f, 0.10f, 0.12f, 1, 0, 0.5f, 0.5f, 0.8f, 0.7f, 1, 2, 0.12f, 0.83f, 0.2f, 0.25f};
        YoloLoss l = loss(nc, img);
        float[][] g = new float[3][];
        for (int i = 0; i < 3; i++) g[i] = new float[out[i].length];
        YoloLoss.Frozen fr = new YoloLoss.Frozen();
        YoloLoss.Result base = l.compute(out, bs, ny, nx, t, 4, g, fr);
        assertTrue(base.matches() > 4 && base.box() > 0 && base.obj() > 0 && base.cls() > 0, base.toString());
        int checked = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < out[i].length; j++) {
                boolean interesting = g[i][j] != 0 && (Math.abs(g[i][j]) > 1e-4 || j % 37 == 0);
                if (!interesting) continue;
                float old = out[i][j];
                double h = 1e-3;
                out[i][j] = (float) (old + h);
                double lp = l.compute(out, bs, ny, nx, t, 4, null, fr).total();
                out[i][j] = (float) (old - h);
                double lm = l.compute(out, bs, ny, nx, t, 4, null, fr).total();
                out[i][j] = old;
                double num = (lp - lm) / (2 * h);
                if (Math.abs(num - g[i][j]) > 2e-4 + 2e-3 * Math.abs(num))
                    fail("level " + i + " index " + j + ": analytic " + g[i][j] + ", numeric " + num);
                checked++;
            }
        assertTrue(checked > 50, "checked " + checked);
    }

    @Test
    void handComputedCases() {
        // a perfect box prediction has CIoU 1: predicting exactly the target gives zero box loss
        YoloLoss l = loss(1, 64);
        int[] ny = {8, 4, 2}, nx = {8, 4, 2};
        float[] t = {0, 0, 0.5625f, 0.5625f, 13f / 64, 10f / 64}; // centre of cell (4,4) at stride 8: gx = 4.5
        float[][] out = new float[3][];
        for (int i = 0; i < 3; i++) out[i] = new float[3 * 6 * ny[i] * nx[i]];
        // anchor 0 of level 0 is 10x13 px = 1.25 x 1.625 cells; target 13x10 px. Predict exactly the target box:
        // 2*sig(tx) - 0.5 = 0.5 -> sig = 0.5 -> tx = 0; (2 sig(tw))^2 * aw = gw -> sig = sqrt(gw/aw)/2
        for (int i = 0; i < 3; i++) java.util.Arrays.fill(out[i], -20f); // no objectness anywhere
        YoloLoss.Result empty = l.compute(out, 1, ny, nx, new float[0], 0, null, null);
        assertEquals(0, empty.matches());
        assertEquals(0, empty.box(), 1e-12);
        assertTrue(empty.obj() < 1e-6, "confident background costs ~0: " + empty.obj());
        YoloLoss.Result r = l.compute(out, 1, ny, nx, t, 1, null, null);
        // gx = 4.5 (fraction 0.5: no x/y neighbour), 3 anchors pass anchor_t at level 0, fewer at coarser levels
        assertTrue(r.matches() >= 3, "matches " + r.matches());
        float[][] g = new float[3][];
        for (int i = 0; i < 3; i++) g[i] = new float[out[i].length];
        double sw = Math.sqrt(1.625 / 1.25) / 2, sh = Math.sqrt(1.25 / 1.625) / 2;
        int plane = 64, cell = 4 * 8 + 4;
        out[0][cell] = 0f;
        out[0][plane + cell] = 0f;
        out[0][2 * plane + cell] = (float) Math.log(sw / (1 - sw));
        out[0][3 * plane + cell] = (float) Math.log(sh / (1 - sh));
        YoloLoss.Result perfect = l.compute(out, 1, ny, nx, t, 1, g, null);
        out[0][2 * plane + cell] += 1f; // a wrong width costs more
        YoloLoss.Result wrongW = l.compute(out, 1, ny, nx, t, 1, null, null);
        assertTrue(wrongW.box() > perfect.box() + 1e-3, perfect + " vs " + wrongW);
        assertEquals(0, g[0][cell], 1e-6, "centred box: no x gradient");
        assertTrue(g[0][4 * plane + cell] < 0, "objectness is pushed up at the matched cell");
    }
}
