package org.jprune.bench;

import java.util.Arrays;

/** Wall times of repeated runs after a warmup; at least minReps runs and minSeconds in total (1024 runs at most). */
public final class Timer {
    private Timer() {}

    public static double median(Runnable r, int warmup, int minReps, double minSeconds) {
        double[] s = samples(r, warmup, minReps, minSeconds);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }

    /** The sorted wall times (seconds) of the runs behind {@link #median}. */
    public static double[] samples(Runnable r, int warmup, int minReps, double minSeconds) {
        for (int i = 0; i < warmup; i++) r.run();
        double[] t = new double[1024];
        int n = 0;
        long start = System.nanoTime();
        while (n < t.length && (n < minReps || (System.nanoTime() - start) * 1e-9 < minSeconds)) {
            long a = System.nanoTime();
            r.run();
            t[n++] = (System.nanoTime() - a) * 1e-9;
        }
        double[] s = Arrays.copyOf(t, n);
        Arrays.sort(s);
        return s;
    }

    /**
     * Side by side: the runnables take turns, {@code rounds} times (a, b, ..., a, b, ...), and each gets
     * the better of its round medians, so a slow phase of the machine hits all of them alike. A null
     * runnable (a baseline that is not available) gets {@link Double#MAX_VALUE}.
     */
    public static double[] inTurns(int rounds, int warmup, int minReps, double minSeconds, Runnable... rs) {
        double[] t = new double[rs.length];
        Arrays.fill(t, Double.MAX_VALUE);
        for (int round = 0; round < rounds; round++)
            for (int i = 0; i < rs.length; i++)
                if (rs[i] != null) t[i] = Math.min(t[i], median(rs[i], warmup, minReps, minSeconds));
        return t;
    }
}
