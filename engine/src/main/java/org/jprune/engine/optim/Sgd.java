package org.jprune.engine.optim;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
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
            var k = kernels(p.value().device());
            var momentumBuf = momentum == 0 ? null : buf(p.state("momentum"));
            k.sgdStep((float) lr, (float) momentum, p.decay() ? (float) weightDecay : 0f, nesterov, buf(p.value()), momentumBuf,
                    buf(p.grad()), p.mask() == null ? null : buf(p.mask()), p.value().numel());
        }
    }
}
