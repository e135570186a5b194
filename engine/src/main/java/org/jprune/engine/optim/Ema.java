package org.jprune.engine.optim;

import java.util.LinkedHashMap;
import java.util.Map;
import org.jprune.engine.Tensor;

/**
 * Exponential moving average of a model's state (parameters and BN statistics), YOLOv5's ModelEMA:
 * d = decay * (1 - exp(-updates / tau)); ema = d * ema + (1 - d) * model. Owns its copies.
 */
public final class Ema implements AutoCloseable {
    private final Map<String, Tensor> shadow = new LinkedHashMap<>();
    private final double decay, tau;
    private long updates;

    public Ema(Map<String, Tensor> state, double decay, double tau) {
        if (!(decay > 0 && decay < 1) || !(tau > 0)) throw new IllegalArgumentException("EMA needs 0 < decay < 1 and tau > 0");
        this.decay = decay;
        this.tau = tau;
        state.forEach((k, v) -> shadow.put(k, v.copy()));
    }

    public long updates() { return updates; }
    public void setUpdates(long u) { updates = u; }
    public Map<String, Tensor> state() { return shadow; }

    public double currentDecay() { return decay * (1 - Math.exp(-updates / tau)); }

    public void update(Map<String, Tensor> model) {
        updates++;
        float d = (float) currentDecay();
        for (var e : shadow.entrySet()) {
            Tensor src = model.get(e.getKey());
            if (src == null) throw new IllegalArgumentException("EMA: model has no tensor " + e.getKey());
            e.getValue().scaleInPlace(d).axpy(1 - d, src);
        }
    }

    @Override
    public void close() { shadow.values().forEach(Tensor::close); }
}
