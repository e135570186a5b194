package org.jprune.engine.optim;

import java.util.List;
import org.jprune.engine.nn.Parameter;

/**
 * SGD with momentum (PyTorch semantics: buf = mu*buf + g; step with buf, or g + mu*buf for Nesterov).
 * Weight decay applies only to parameters marked for it (conv weights, not BN or biases), as
 * YOLOv5's parameter groups do. The momentum buffer is the parameter's "momentum" state.
 */
public final class Sgd extends Optimizer {
    private double momentum;
    private final double weightDecay;
    private final boolean nesterov;

    public Sgd(List<Parameter> params, double lr, double momentum, double weightDecay, boolean nesterov) {
        super(params, lr);
        if (!(momentum >= 0 && momentum < 1)) throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
    }

    public double momentum() { return momentum; }

    /** Warmup ramps momentum too. */
    public void setMomentum(double m) {
        if (!(m >= 0 && m < 1)) throw new IllegalArgumentException("momentum must be in [0, 1), got " + m);
        momentum = m;
    }

    @Override
    public void step() {
        for (Parameter p : params) {
            var k = p.value().device().kernels();
            var buf = momentum == 0 ? null : p.state("momentum").buf();
            k.sgdStep((float) lr, (float) momentum, p.decay() ? (float) weightDecay : 0f, nesterov, p.value().buf(), buf,
                    p.grad().buf(), p.mask() == null ? null : p.mask().buf(), p.value().numel());
        }
    }
}
