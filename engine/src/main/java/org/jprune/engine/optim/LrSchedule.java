package org.jprune.engine.optim;

/**
 * Learning-rate factor as a function of (fractional) epoch, multiplied into the base LR.
 * {@link #cosine} and {@link #linear} are YOLOv5's one-cycle and linear schedules from 1 to
 * {@code finalFactor} over {@code epochs}; {@link #warmup} gives the linear ramp from a start value
 * to the scheduled value over the first iterations, as YOLOv5 does for lr and momentum.
 */
@FunctionalInterface
public interface LrSchedule {
    double factor(double epoch);

    static LrSchedule constant() { return e -> 1.0; }

    static LrSchedule cosine(int epochs, double finalFactor) {
        check(epochs, finalFactor);
        return e -> ((1 - Math.cos(Math.min(e, epochs) * Math.PI / epochs)) / 2) * (finalFactor - 1) + 1;
    }

    static LrSchedule linear(int epochs, double finalFactor) {
        check(epochs, finalFactor);
        return e -> (1 - Math.min(e, epochs) / epochs) * (1.0 - finalFactor) + finalFactor;
    }

    private static void check(int epochs, double f) {
        if (epochs <= 0) throw new IllegalArgumentException("epochs must be > 0, got " + epochs);
        if (!(f >= 0)) throw new IllegalArgumentException("final factor must be >= 0, got " + f);
    }

    /** Linear interpolation from start to target over warmupIters iterations (then target). */
    static double warmup(int iteration, int warmupIters, double start, double target) {
        if (warmupIters <= 0 || iteration >= warmupIters) return target;
        return start + (target - start) * iteration / (double) warmupIters;
    }
}
