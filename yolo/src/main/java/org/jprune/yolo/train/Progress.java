package org.jprune.yolo.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A per-epoch progress line: batches done, the running mean of each loss part, images per second and
 * the time left in the epoch. On a terminal the line redraws in place (at most 4 times a second);
 * elsewhere (logs, CI) it prints a line at each quarter of the epoch.
 */
final class Progress {
    private final PrintStream out;
    private final boolean tty;
    private final String prefix;
    private final int total;
    private final long t0 = System.nanoTime();
    private long lastDraw;
    private int lastQuarter;

    Progress(PrintStream out, boolean tty, String prefix, int total) {
        this.out = out;
        this.tty = tty;
        this.prefix = prefix;
        this.total = total;
    }

    static String clock(double s) {
        long t = Math.max(0, Math.round(s));
        return t >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String.format(Locale.ROOT, "%d:%02d", t / 60, t % 60);
    }

    /** done: batches finished; sums: summed loss parts (box, obj, cls) over them; images so far. */
    void update(int done, double[] sums, int images) {
        long now = System.nanoTime();
        if (tty ? done < total && now - lastDraw < 250_000_000L : done * 4 / Math.max(total, 1) <= lastQuarter || done == total) return;
        double secs = (now - t0) / 1e9, rate = images / Math.max(secs, 1e-9);
        double eta = done == 0 ? 0 : secs / done * (total - done);
        String line = String.format(Locale.ROOT, "%s %4d/%d  box %.4f  obj %.4f  cls %.4f  %.1f img/s  %s<%s", prefix, done, total,
                sums[0] / Math.max(done, 1), sums[1] / Math.max(done, 1), sums[2] / Math.max(done, 1), rate, clock(secs), clock(eta));
        if (tty) {
            lastDraw = now;
            out.print("\r" + line + (done == total ? "\n" : ""));
            out.flush();
        } else {
            lastQuarter = done * 4 / Math.max(total, 1);
            out.println(line);
        }
    }
}
