package org.jprune.engine.ops;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
import org.jprune.engine.Tensor;

/**
 * Pointwise activations (ReLU, LeakyReLU, SiLU, sigmoid) and their ops; the code is the ABI's JP_ACT_* value.
 * Backward takes the forward input x.
 */
public enum Activation {
    IDENTITY(0), RELU(1), LEAKY_RELU(2), SILU(3), SIGMOID(4);

    public final int code;
    Activation(int code) { this.code = code; }

    /** y = act(x), elementwise; y may be x (in place). */
    public void forward(float alpha, Tensor y, Tensor x) {
        Checks.sameDevice("act_fwd", y, x);
        Checks.size("act_fwd", "y", y, x.numel());
        kernels(x.device()).actFwd(code, alpha, buf(y), buf(x), x.numel());
    }

    public Tensor forward(float alpha, Tensor x) {
        Tensor y = Tensor.empty(Checks.open("act_fwd", "x", x).device(), x.shape());
        forward(alpha, y, x);
        return y;
    }

    /** dx = dy * act'(x). */
    public void backward(float alpha, Tensor dx, Tensor dy, Tensor x) {
        Checks.sameDevice("act_bwd", dx, dy, x);
        Checks.size("act_bwd", "dy", dy, x.numel());
        Checks.size("act_bwd", "dx", dx, x.numel());
        kernels(x.device()).actBwd(code, alpha, buf(dx), buf(dy), buf(x), x.numel());
    }
}
