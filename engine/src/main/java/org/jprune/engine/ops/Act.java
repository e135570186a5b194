package org.jprune.engine.ops;

import org.jprune.engine.Tensor;

/** Pointwise activations (ReLU, LeakyReLU, SiLU); backward takes the forward input x. */
public final class Act {
    private Act() {}

    public static void forward(Activation kind, float alpha, Tensor y, Tensor x) {
        Checks.sameDevice("act_fwd", y, x);
        Checks.size("act_fwd", "y", y, x.numel());
        x.device().kernels().actFwd(kind.code, alpha, y.buf(), x.buf(), x.numel());
    }

    public static Tensor forward(Activation kind, float alpha, Tensor x) {
        Tensor y = Tensor.empty(Checks.open("act_fwd", "x", x).device(), x.shape());
        forward(kind, alpha, y, x);
        return y;
    }

    public static void backward(Activation kind, float alpha, Tensor dx, Tensor dy, Tensor x) {
        Checks.sameDevice("act_bwd", dx, dy, x);
        Checks.size("act_bwd", "dy", dy, x.numel());
        Checks.size("act_bwd", "dx", dx, x.numel());
        x.device().kernels().actBwd(kind.code, alpha, dx.buf(), dy.buf(), x.buf(), x.numel());
    }
}
