package org.jprune.engine.prune;

import org.jprune.engine.Tensor;
import org.jprune.engine.nn.BatchNorm2dLayer;

/**
 * Network slimming's sparsity term (Liu et al., "Learning Efficient Convolutional Networks through
 * Network Slimming", 2017): between backward and the optimizer step, adds the subgradient of
 * {@code lambda * sum |gamma|} to the gradients of the batch-norm scales after the convolutions whose
 * channels are prunable, so that training drives unimportant channels' scales towards 0; then
 * {@link Importance#bnScale} ranks the channels by |gamma|. Channels feeding a model output are not
 * pushed. gamma is a few thousand floats: the sign is taken on the host.
 */
public final class BnSlimming {
    private BnSlimming() {}

    public static void apply(DependencyGraph dg, float lambda) {
        if (!(lambda >= 0) || Float.isInfinite(lambda)) throw new IllegalArgumentException("slimming lambda must be finite and >= 0, got " + lambda);
        if (lambda == 0) return;
        for (int node : dg.convs().keySet()) {
            BatchNorm2dLayer bn = dg.bnAfter(node);
            if (bn == null) continue;
            int[] groups = dg.channels(node);
            float[] g = bn.gamma().value().toArray();
            float[] d = new float[g.length];
            boolean any = false;
            for (int k = 0; k < g.length; k++) {
                if (!dg.groups().get(groups[k]).prunable()) continue;
                d[k] = lambda * Math.signum(g[k]);
                any |= d[k] != 0;
            }
            if (!any) continue;
            try (Tensor t = Tensor.of(bn.gamma().value().device(), d, g.length)) {
                bn.gamma().grad().addInPlace(t);
            }
        }
    }
}
