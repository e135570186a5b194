package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.yolo.loss.YoloLoss;
import org.junit.jupiter.api.Test;

/**
 * The loss computed on a device (DetectionLoss's kernels, what training uses on a GPU) equals the
 * host loss (double, checked against finite differences and PyTorch) on every backend: values and
 * gradients, with several classes and with one, with targets that share cells (so a cell's matches
 * add up and its last match sets the objectness target), and with an empty batch.
 */
class YoloDeviceLossTest {
    static List<Device> devices() {
        List<Device> out = new ArrayList<>(List.of(Device.reference()));
        out.addAll(CrossBackendTest.backends());  // cpu, and cuda-emu where its plugin is built
        return out;
    }

    @Test
    void deviceLossEqualsHostLoss() {
        int img = 64, bs = 3;
        int[] ny = {8, 4, 2}, nx = {8, 4, 2};
        // rows (image, class, cx, cy, w, h); the second row is a slightly different box in the first's cells
        // (same anchors: its matches join the first's groups and, coming later, set the objectness targets),
        // the third sits on a cell edge, the last ones are large (matched at the coarse levels)
        float[] t = {0, 1, 0.30f, 0.40f, 0.25f, 0.30f, 0, 1, 0.305f, 0.405f, 0.27f, 0.28f, 0, 2, 0.5f, 0.5f, 0.1f, 0.12f,
                     1, 0, 0.12f, 0.83f, 0.2f, 0.25f, 2, 2, 0.6f, 0.55f, 0.9f, 0.8f, 2, 0, 0.4f, 0.45f, 0.7f, 0.9f};
        for (int nc : new int[] {3, 1}) {
            float[] targets = t.clone();
            if (nc == 1) for (int k = 0; k < targets.length; k += 6) targets[k + 1] = 0;
            for (int nt : new int[] {6, 0}) check(nc, img, bs, ny, nx, targets, nt);
        }
    }

    private static void check(int nc, int img, int bs, int[] ny, int[] nx, float[] targets, int nt) {
        int no = nc + 5;
        YoloLoss l = YoloLossTest.loss(nc, img);
        SplittableRandom r = new SplittableRandom(nc * 31L + nt);
        float[][] out = new float[3][], want = new float[3][];
        for (int i = 0; i < 3; i++) {
            out[i] = new float[bs * 3 * no * ny[i] * nx[i]];
            for (int j = 0; j < out[i].length; j++) out[i][j] = (float) (r.nextGaussian() * 2);
            want[i] = new float[out[i].length];
        }
        YoloLoss.Result host = l.compute(out, bs, ny, nx, targets, nt, want, null);
        if (nt > 0) assertTrue(host.matches() > nt && host.box() > 0 && (nc == 1 || host.cls() > 0), host.toString());
        for (Device d : devices()) {
            String what = d + " nc=" + nc + " targets=" + nt;
            List<Tensor> outs = new ArrayList<>(), grads = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    outs.add(Tensor.of(d, out[i], bs, 3 * no, ny[i], nx[i]));
                    grads.add(Tensor.full(d, Float.NaN, bs, 3 * no, ny[i], nx[i]));  // overwritten, never read
                }
                YoloLoss.Result got = l.compute(outs, bs, targets, nt, grads);
                assertTrue(got.matches() == host.matches(), what + ": " + got.matches() + " matches, host " + host.matches());
                double[][] parts = {{got.total(), host.total()}, {got.box(), host.box()}, {got.obj(), host.obj()}, {got.cls(), host.cls()}};
                for (double[] p : parts)
                    if (Math.abs(p[0] - p[1]) > 1e-5 + 2e-6 * Math.abs(p[1])) fail(what + ": device " + got + ", host " + host);
                for (int i = 0; i < 3; i++) {
                    float[] have = grads.get(i).toArray();
                    for (int j = 0; j < have.length; j++)
                        if (!(Math.abs(have[j] - want[i][j]) <= 1e-7 + 1e-5 * Math.abs(want[i][j])))
                            fail(what + ": level " + i + " grad[" + j + "] = " + have[j] + ", host " + want[i][j]);
                }
            } finally {
                outs.forEach(Tensor::close);
                grads.forEach(Tensor::close);
            }
        }
    }
}
