package org.jprune.engine.prune;

import java.util.Locale;
import org.jprune.engine.Tensor;
import org.jprune.engine.nn.BatchNorm2dLayer;
import org.jprune.engine.ops.Channels;

/**
 * How much a channel group matters, in Torch-Pruning's sense: one score per {@link DependencyGraph}
 * group, computed from the current weights, that a {@link ChannelPruner} ranks (smallest first). A
 * group couples several producing layers (a residual add joins the channels of every conv feeding
 * it); their per-layer scores are combined by a {@link Reduce}. Groups no layer produces score 0.
 */
@FunctionalInterface
public interface Importance {
    /** One score per group of {@code dg}. */
    double[] of(DependencyGraph dg);

    /** How the scores of a group's coupled producers combine. */
    enum Reduce {
        SUM, MEAN, MAX;

        public static Reduce parse(String s) {
            try {
                return valueOf(s.strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("importance reduction must be sum, mean or max, got '" + s + "'");
            }
        }
    }

    /** Lp norm (p = 1 or 2) of each producing conv's output row (Li et al., "Pruning filters"). */
    static Importance magnitude(int p, Reduce reduce) {
        if (p != 1 && p != 2) throw new IllegalArgumentException("magnitude importance: norm p must be 1 or 2, got " + p);
        return dg -> {
            Acc acc = new Acc(dg, reduce);
            for (var e : dg.convs().entrySet()) {
                float[] norms;
                try (Tensor n = Channels.norms(e.getValue().weight().value(), 0, p)) {
                    norms = n.toArray();
                }
                acc.add(dg.channels(e.getKey()), norms);
            }
            return acc.result();
        };
    }

    /**
     * |gamma| of the batch norm after each producing conv (network slimming, Liu et al. 2017); a
     * producer without a batch norm after it scores by its row's L2 norm instead.
     */
    static Importance bnScale(Reduce reduce) {
        return dg -> {
            Acc acc = new Acc(dg, reduce);
            for (var e : dg.convs().entrySet()) {
                BatchNorm2dLayer bn = dg.bnAfter(e.getKey());
                float[] s;
                if (bn != null) {
                    s = bn.gamma().value().toArray();
                    for (int i = 0; i < s.length; i++) s[i] = Math.abs(s[i]);
                } else {
                    try (Tensor n = Channels.norms(e.getValue().weight().value(), 0, 2)) {
                        s = n.toArray();
                    }
                }
                acc.add(dg.channels(e.getKey()), s);
            }
            return acc.result();
        };
    }

    /**
     * The L2 norm of everything pruning a group removes (producer rows, biases, BN scale and shift,
     * consumer columns): what {@link GroupRegularizer} drives down before a step.
     */
    static Importance groupNorm() {
        return dg -> new GroupRegularizer(dg, 0, 1).groupNorms();
    }

    /** By name, as the CLI takes it: l1, l2, bn, group. */
    static Importance parse(String name, Reduce reduce) {
        return switch (name.strip().toLowerCase(Locale.ROOT)) {
            case "l1" -> magnitude(1, reduce);
            case "l2" -> magnitude(2, reduce);
            case "bn", "bn-scale" -> bnScale(reduce);
            case "group", "group-norm" -> groupNorm();
            default -> throw new IllegalArgumentException("importance must be l1, l2, bn or group, got '" + name + "'");
        };
    }

    /** Combines per-producer scores into per-group scores. */
    final class Acc {
        private final double[] v;
        private final int[] count;
        private final Reduce reduce;

        Acc(DependencyGraph dg, Reduce reduce) {
            this.v = new double[dg.groups().size()];
            this.count = new int[v.length];
            this.reduce = reduce;
        }

        void add(int[] groups, float[] scores) {
            for (int k = 0; k < groups.length; k++) {
                int g = groups[k];
                v[g] = reduce == Reduce.MAX ? Math.max(v[g], scores[k]) : v[g] + scores[k];
                count[g]++;
            }
        }

        double[] result() {
            if (reduce == Reduce.MEAN) for (int g = 0; g < v.length; g++) if (count[g] > 0) v[g] /= count[g];
            return v;
        }
    }
}
