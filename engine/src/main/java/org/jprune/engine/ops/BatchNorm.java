package org.jprune.engine.ops;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
import org.jprune.engine.Tensor;

/** Batch norm over [n][c][h][w] (or [n][c]), per-channel statistics; forward and backward together. */
public final class BatchNorm {
    private BatchNorm() {}

    public static BnDesc desc(Tensor x, float eps, float momentum) {
        Checks.open("batchnorm", "x", x);
        if (x.rank() < 2) throw new IllegalArgumentException("batchnorm: x needs rank >= 2, has shape " + java.util.Arrays.toString(x.shape()));
        return new BnDesc(x.dim(0), x.dim(1), (int) Checks.prod(x.shape(), 2, x.rank()), eps, momentum);
    }

    private static void check(String op, BnDesc d, Tensor y, Tensor x, Tensor... perChannel) {
        Checks.sameDevice(op, y, x);
        Checks.size(op, "x", x, (long) d.n() * d.c() * d.hw());
        Checks.size(op, "y", y, (long) d.n() * d.c() * d.hw());
        for (Tensor t : perChannel) {
            Checks.sameDevice(op, x, t);
            Checks.shape(op, "per-channel tensor", t, d.c());
        }
    }

    /** Training forward: batch statistics into saveMean/saveInvstd, running stats updated in place. */
    public static void forwardTrain(BnDesc d, Tensor y, Tensor saveMean, Tensor saveInvstd, Tensor runMean, Tensor runVar,
                                    Tensor x, Tensor gamma, Tensor beta) {
        check("batchnorm_fwd_train", d, y, x, saveMean, saveInvstd, runMean, runVar, gamma, beta);
        kernels(x.device()).batchnormFwdTrain(d, buf(y), buf(saveMean), buf(saveInvstd), buf(runMean), buf(runVar), buf(x), buf(gamma), buf(beta));
    }

    public static void forwardInfer(BnDesc d, Tensor y, Tensor x, Tensor gamma, Tensor beta, Tensor runMean, Tensor runVar) {
        check("batchnorm_fwd_infer", d, y, x, gamma, beta, runMean, runVar);
        kernels(x.device()).batchnormFwdInfer(d, buf(y), buf(x), buf(gamma), buf(beta), buf(runMean), buf(runVar));
    }

    public static void backward(BnDesc d, Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor gamma,
                                Tensor saveMean, Tensor saveInvstd) {
        check("batchnorm_bwd", d, dx, x, dgamma, dbeta, gamma, saveMean, saveInvstd);
        Checks.size("batchnorm_bwd", "dy", dy, x.numel());
        Checks.sameDevice("batchnorm_bwd", x, dy);
        kernels(x.device()).batchnormBwd(d, buf(dx), buf(dgamma), buf(dbeta), buf(dy), buf(x), buf(gamma), buf(saveMean), buf(saveInvstd));
    }
}
