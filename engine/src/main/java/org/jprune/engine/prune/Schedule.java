package org.jprune.engine.prune;

import java.util.Arrays;
import java.util.Locale;

/**
 * An iterative pruning schedule: after step i the network has {@code levels[i]} of its original
 * size removed (of its channels, parameters or FLOPs, as {@link Target} says) and fine-tunes
 * {@code epochs[i]} epochs. Levels increase strictly, each in (0, 1).
 */
public record Schedule(Target target, double[] levels, int[] epochs) {
    /** What a level is a fraction of. */
    public enum Target {
        CHANNELS, PARAMS, FLOPS;

        public static Target parse(String s) {
            try {
                return valueOf(s.strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("pruning target must be channels, params or flops, got '" + s + "'");
            }
        }

        public String label() { return name().toLowerCase(Locale.ROOT); }
    }

    public Schedule {
        if (target == null) throw new IllegalArgumentException("schedule: target is null");
        if (levels.length == 0) throw new IllegalArgumentException("schedule: no pruning level given");
        if (epochs.length != levels.length)
            throw new IllegalArgumentException("schedule: " + epochs.length + " fine-tuning epoch counts for " + levels.length + " levels");
        for (int i = 0; i < levels.length; i++) {
            if (!(levels[i] > 0 && levels[i] < 1)) throw new IllegalArgumentException("pruning levels must be in (0, 1), got " + levels[i]);
            if (i > 0 && !(levels[i] > levels[i - 1]))
                throw new IllegalArgumentException("pruning levels must increase (each step prunes further), got " + levels[i - 1] + " then " + levels[i]);
            if (epochs[i] < 0 || epochs[i] > 100_000) throw new IllegalArgumentException("fine-tuning epochs must be in [0, 100000], got " + epochs[i]);
        }
        levels = levels.clone();
        epochs = epochs.clone();
    }

    /** {@code steps} equal steps to {@code finalLevel}, the same epochs after each. */
    public static Schedule linear(Target target, double finalLevel, int steps, int epochsPerStep) {
        if (steps < 1 || steps > 1000) throw new IllegalArgumentException("steps must be in [1, 1000], got " + steps);
        double[] l = new double[steps];
        for (int i = 0; i < steps; i++) l[i] = finalLevel * (i + 1) / steps;
        int[] e = new int[steps];
        Arrays.fill(e, epochsPerStep);
        return new Schedule(target, l, e);
    }

    /** Levels with one epoch count for every step, or one count per step. */
    public static Schedule of(Target target, double[] levels, int[] epochs) {
        if (epochs.length == 1 && levels.length > 1) {
            int[] e = new int[levels.length];
            Arrays.fill(e, epochs[0]);
            return new Schedule(target, levels, e);
        }
        return new Schedule(target, levels, epochs);
    }

    public int steps() { return levels.length; }
    @Override public double[] levels() { return levels.clone(); }
    @Override public int[] epochs() { return epochs.clone(); }
}
