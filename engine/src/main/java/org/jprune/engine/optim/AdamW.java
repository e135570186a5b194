package org.jprune.engine.optim;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
import java.util.List;
import org.jprune.engine.nn.Parameter;

/** AdamW (decoupled weight decay, bias-corrected moments); states "exp_avg" and "exp_avg_sq". */
public final class AdamW extends Optimizer {
    private final double beta2, eps, weightDecay;
    private double beta1;
    private int step;

    public AdamW(List<Parameter> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        super(params, lr);
        if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("betas must be in [0, 1): " + beta1 + ", " + beta2);
        if (!(eps > 0) || !(weightDecay >= 0)) throw new IllegalArgumentException("eps must be > 0 and weight decay >= 0");
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    public double beta1() { return beta1; }

    /** Sets beta1 (YOLOv5's warmup ramps it as it ramps SGD's momentum). */
    public void setBeta1(double b) {
        if (!(b >= 0 && b < 1)) throw new IllegalArgumentException("beta1 must be in [0, 1): " + b);
        beta1 = b;
    }

    public int stepCount() { return step; }
    public void setStepCount(int s) { step = s; }

    @Override
    public void step() {
        step++;
        for (Parameter p : params) {
            var k = kernels(p.value().device());
            k.adamwStep((float) lr, (float) beta1, (float) beta2, (float) eps, p.decay() ? (float) weightDecay : 0f, step,
                    buf(p.value()), buf(p.state("exp_avg")), buf(p.state("exp_avg_sq")), buf(p.grad()),
                    p.mask() == null ? null : buf(p.mask()), p.value().numel());
        }
    }
}
