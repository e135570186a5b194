package org.jprune.engine.optim;

import java.util.List;
import org.jprune.engine.nn.Parameter;

/** Updates parameters from their gradients; masks (Parameter.mask) keep pruned entries at zero. */
public abstract class Optimizer {
    protected final List<Parameter> params;
    protected double lr;

    protected Optimizer(List<Parameter> params, double lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        this.params = List.copyOf(params);
        this.lr = lr;
    }

    public double lr() { return lr; }

    public void setLr(double lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        this.lr = lr;
    }

    public List<Parameter> parameters() { return params; }

    public abstract void step();

    public void zeroGrad() { params.forEach(Parameter::zeroGrad); }
}
