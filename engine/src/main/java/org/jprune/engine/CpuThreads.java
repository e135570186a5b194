package org.jprune.engine;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.jprune.bindings.jprune_h;
import org.jprune.engine.internal.NativeKernels;

/**
 * How the CPU backend sizes its parallel regions, for server operators (native/cpu/team.c).
 *
 * <p>A region runs on {@code min(threads asked, adaptive limit)} threads. Threads asked: the
 * device's {@link Device#setThreads} (default: the cores in the process's affinity mask, so
 * {@code taskset} and container cpusets count), or {@link #setForThisThread} for the ops the calling
 * thread issues. The adaptive limit starts at all cores and drops by one whenever a worker starts a
 * region more than 0.5 ms late (it was off its core: another process or thread held it), then probes
 * back up; {@code JPRUNE_ADAPTIVE_THREADS=0} in the environment turns it off. libgomp's own variables
 * ({@code OMP_WAIT_POLICY}, {@code GOMP_SPINCOUNT}, {@code OMP_PROC_BIND}) are left to the operator.
 */
public final class CpuThreads {
    private CpuThreads() {}

    /** The team sizing's state: see {@code jp_cpu_team_stats} in jprune.h. */
    public record Stats(int cores, int limit, long lateStarts, long drops, long rises, boolean adaptive) {}

    /**
     * Worker threads for the CPU ops the calling OS thread issues from now on (every CPU device); 0
     * restores the device's setting. A request thread that runs its own forward pass beside others
     * does best with 1. A virtual thread may change carrier between calls, so set it on platform
     * threads.
     */
    public static void setForThisThread(int threads) {
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        NativeKernels.check(jprune_h.jp_set_call_threads(threads), "jp_set_call_threads");
    }

    /** Turns the adaptive limit on (the default) or off (teams of the asked size); restarts it at all cores. */
    public static void setAdaptive(boolean on) {
        NativeKernels.check(jprune_h.jp_cpu_set_adaptive(on ? 1 : 0), "jp_cpu_set_adaptive");
    }

    /**
     * Pins the thread limit at 1..cores, as if the machine gave the process that many cores (adaptive
     * off); 0 unpins (adaptive on, from all cores). Results never depend on the limit: partitions that
     * decide the order of sums follow the asked team size.
     */
    public static void pinLimit(int limit) {
        NativeKernels.check(jprune_h.jp_cpu_pin_limit(limit), "jp_cpu_pin_limit");
    }

    public static Stats stats() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG, 6);
            NativeKernels.check(jprune_h.jp_cpu_team_stats(out, 6), "jp_cpu_team_stats");
            long[] v = out.toArray(JAVA_LONG);
            return new Stats((int) v[0], (int) v[1], v[2], v[3], v[4], v[5] != 0);
        }
    }
}
