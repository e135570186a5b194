package org.jprune.engine.nn;

import java.util.LinkedHashMap;
import java.util.Map;
import org.jprune.engine.Tensor;

/**
 * A trainable tensor with its gradient, an optional element mask (pruned entries are 0 and stay 0
 * through the optimizer), whether weight decay applies, and the optimizer's state tensors. Owns all
 * of them and frees them in {@link #close()}.
 */
public final class Parameter implements AutoCloseable {
    private final String name;
    private final Tensor value;
    private final Tensor grad;
    private final boolean decay;
    private Tensor mask;
    private final Map<String, Tensor> state = new LinkedHashMap<>();

    public Parameter(String name, Tensor value, boolean decay) {
        this.name = name;
        this.value = value;
        this.grad = Tensor.zeros(value.device(), value.shape());
        this.decay = decay;
    }

    public String name() { return name; }
    public Tensor value() { return value; }
    public Tensor grad() { return grad; }
    public boolean decay() { return decay; }
    public Tensor mask() { return mask; }

    /** Sets (or with null clears) the element mask, and applies it to the value, gradient and state. */
    public void setMask(Tensor newMask) {
        if (newMask != null) value.requireSameShape("Parameter.setMask(" + name + ")", newMask);
        if (mask != null) mask.close();
        mask = newMask;
        if (mask != null) {
            org.jprune.engine.ops.Eltwise.mul(value, value, mask);
            org.jprune.engine.ops.Eltwise.mul(grad, grad, mask);
            for (Tensor s : state.values()) org.jprune.engine.ops.Eltwise.mul(s, s, mask);
        }
    }

    /** Optimizer state by key, created as zeros of the value's shape on first use. */
    public Tensor state(String key) {
        return state.computeIfAbsent(key, k -> Tensor.zeros(value.device(), value.shape()));
    }

    public Map<String, Tensor> stateMap() { return state; }

    public void zeroGrad() { grad.zero(); }

    @Override
    public void close() {
        value.close();
        grad.close();
        if (mask != null) mask.close();
        state.values().forEach(Tensor::close);
        state.clear();
    }

    @Override
    public String toString() { return "Parameter(" + name + ", " + java.util.Arrays.toString(value.shape()) + ")"; }
}
