package org.jprune.engine.ops;

/** Pointwise activations; the code is the ABI's JP_ACT_* value. */
public enum Activation {
    IDENTITY(0), RELU(1), LEAKY_RELU(2), SILU(3);

    public final int code;
    Activation(int code) { this.code = code; }
}
