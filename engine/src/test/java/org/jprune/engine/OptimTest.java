package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.jprune.engine.nn.Parameter;
import org.jprune.engine.optim.AdamW;
import org.jprune.engine.optim.Ema;
import org.jprune.engine.optim.LrSchedule;
import org.jprune.engine.optim.Sgd;
import org.junit.jupiter.api.Test;

/** Optimizers against hand-computed PyTorch semantics; schedules against their formulas. */
class OptimTest {
    final Device cpu = Device.cpu();

    @Test
    void sgdNesterovWeightDecayByHand() {
        try (Parameter p = new Parameter("w", Tensor.of(cpu, new float[] {1f, -2f}, 2), true)) {
            Sgd sgd = new Sgd(List.of(p), 0.1, 0.9, 0.01, true);
            double[] w = {1, -2}, buf = {0, 0};
            double[][] grads = {{0.5, 0.25}, {-1, 2}, {0.1, 0.1}};
            for (double[] g : grads) {
                p.grad().copyFrom(new float[] {(float) g[0], (float) g[1]});
                sgd.step();
                for (int i = 0; i < 2; i++) {
                    double gi = g[i] + 0.01 * w[i];
                    buf[i] = 0.9 * buf[i] + gi;
                    w[i] -= 0.1 * (gi + 0.9 * buf[i]);
                }
            }
            float[] got = p.value().toArray();
            assertEquals(w[0], got[0], 1e-5);
            assertEquals(w[1], got[1], 1e-5);
        }
    }

    @Test
    void adamwByHandAndMasksStayZero() {
        try (Parameter p = new Parameter("w", Tensor.of(cpu, new float[] {1f, 3f}, 2), true)) {
            p.setMask(Tensor.of(cpu, new float[] {1f, 0f}, 2));
            AdamW opt = new AdamW(List.of(p), 0.01, 0.9, 0.999, 1e-8, 0.1);
            double w = 1, m = 0, v = 0;
            for (int t = 1; t <= 3; t++) {
                double g = 0.3 * t;
                p.grad().copyFrom(new float[] {(float) g, 5f});
                opt.step();
                w *= 1 - 0.01 * 0.1;
                m = 0.9 * m + 0.1 * g;
                v = 0.999 * v + 0.001 * g * g;
                w -= 0.01 * (m / (1 - Math.pow(0.9, t))) / (Math.sqrt(v / (1 - Math.pow(0.999, t))) + 1e-8);
            }
            float[] got = p.value().toArray();
            assertEquals(w, got[0], 1e-6);
            assertEquals(0f, got[1], "pruned weight stays 0");
            assertEquals(0f, p.state("exp_avg").toArray()[1]);
        }
    }

    @Test
    void schedules() {
        LrSchedule cos = LrSchedule.cosine(100, 0.01);
        assertEquals(1.0, cos.factor(0), 1e-12);
        assertEquals(0.505, cos.factor(50), 1e-12);
        assertEquals(0.01, cos.factor(100), 1e-12);
        LrSchedule lin = LrSchedule.linear(10, 0.1);
        assertEquals(1.0, lin.factor(0), 1e-12);
        assertEquals(0.55, lin.factor(5), 1e-12);
        assertEquals(0.1, lin.factor(10), 1e-12);
        assertEquals(0.8 + (0.937 - 0.8) * 0.25, LrSchedule.warmup(25, 100, 0.8, 0.937), 1e-12);
        assertEquals(0.937, LrSchedule.warmup(100, 100, 0.8, 0.937), 1e-12);
    }

    @Test
    void emaFollowsFormula() {
        try (Tensor w = Tensor.of(cpu, new float[] {1f}, 1); Ema ema = new Ema(Map.of("w", w), 0.9999, 2000)) {
            double e = 1;
            for (int i = 1; i <= 5; i++) {
                w.copyFrom(new float[] {1f + i});
                ema.update(Map.of("w", w));
                double d = 0.9999 * (1 - Math.exp(-i / 2000.0));
                e = d * e + (1 - d) * (1 + i);
            }
            assertEquals(e, ema.state().get("w").item(), 1e-5);
        }
    }
}
