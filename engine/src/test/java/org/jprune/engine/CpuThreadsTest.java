package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jprune.engine.ops.Conv2d;
import org.junit.jupiter.api.Test;

/** The CPU backend's team sizing (native/cpu/team.c): knobs, state, and that no setting changes results. */
class CpuThreadsTest {
    private static float[] conv(Device cpu) {
        // batch 8 of 32 channels at 24x24: large enough that every region forks a team
        try (Tensor x = Tensor.randn(cpu, 1, 1f, 8, 32, 24, 24); Tensor w = Tensor.randn(cpu, 2, 0.1f, 48, 32, 3, 3);
             Tensor b = Tensor.randn(cpu, 3, 0.1f, 48); Tensor y = Conv2d.forward(x, w, b, 1, 1, 1)) {
            return y.toArray();
        }
    }

    @Test
    void badSettingsNameTheValue() {
        var e = assertThrows(IllegalArgumentException.class, () -> CpuThreads.setForThisThread(-3));
        assertTrue(e.getMessage().contains("-3"), e.getMessage());
        var n = assertThrows(NativeException.class, () -> org.jprune.engine.internal.NativeKernels.check(
                org.jprune.bindings.jprune_h.jp_cpu_set_adaptive(7), "jp_cpu_set_adaptive"));
        assertTrue(n.getMessage().contains("got 7"), n.getMessage());
    }

    @Test
    void statsAreConsistent() {
        CpuThreads.Stats s = CpuThreads.stats();
        assertTrue(s.cores() >= 1, s.toString());
        assertTrue(s.limit() >= 1 && s.limit() <= s.cores(), s.toString());
        assertTrue(s.lateStarts() >= 0 && s.drops() >= 0 && s.rises() >= 0, s.toString());
        // the native side counts the affinity mask and the cgroup CPU quota as the JVM does (the JVM may
        // also be told otherwise with -XX:ActiveProcessorCount, so only where nothing overrides it)
        boolean overridden = java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .anyMatch(a -> a.contains("ActiveProcessorCount"));
        if (!overridden) assertEquals(Runtime.getRuntime().availableProcessors(), s.cores(), s.toString());
    }

    /** Gradients of a batch (per-range partial sums) are bitwise the same whatever limit the machine imposes. */
    @Test
    void gradientsDoNotDependOnTheLimit() {
        Device cpu = Device.cpu();
        int cores = CpuThreads.stats().cores();
        // three backward-filter paths: 3x3 stride 1 (indirect), 3x3 stride 2 (im2col), 1x1 on small planes (batched)
        int[][] shapes = {{8, 16, 20, 32, 3, 1, 1}, {8, 16, 20, 32, 3, 2, 1}, {16, 32, 5, 24, 1, 1, 0}};
        for (int[] sh : shapes) {
            float[][] got = new float[2][];
            for (int pass = 0; pass < 2; pass++) {
                try (Tensor x = Tensor.randn(cpu, 1, 1f, sh[0], sh[1], sh[2], sh[2]); Tensor w = Tensor.randn(cpu, 2, 0.1f, sh[3], sh[1], sh[4], sh[4])) {
                    var d = Conv2d.desc(x, w, sh[5], sh[6], 1, 1);
                    try (Tensor dy = Tensor.randn(cpu, 3, 1f, d.n(), d.k(), d.outH(), d.outW()); Tensor dw = Tensor.zeros(cpu, w.shape());
                         Tensor db = Tensor.zeros(cpu, d.k())) {
                        CpuThreads.pinLimit(pass == 0 ? 0 : 1);
                        Conv2d.backwardFilter(d, dw, db, dy, x);
                        got[pass] = dw.toArray();
                    } finally {
                        CpuThreads.pinLimit(0);
                    }
                }
            }
            assertArrayEquals(got[0], got[1], 0f, "limit " + cores + " vs 1 for " + java.util.Arrays.toString(sh));
        }
        assertThrows(NativeException.class, () -> CpuThreads.pinLimit(cores + 1));
    }

    @Test
    void resultsDoNotDependOnTheTeam() throws Exception {
        Device cpu = Device.cpu();
        float[] ref = conv(cpu);
        try {
            CpuThreads.setForThisThread(1);
            assertArrayEquals(ref, conv(cpu), 1e-4f, "one thread per call");
            CpuThreads.setForThisThread(0);
            CpuThreads.setAdaptive(false);
            assertEquals(CpuThreads.stats().cores(), CpuThreads.stats().limit());
            assertArrayEquals(ref, conv(cpu), 1e-4f, "fixed teams");
        } finally {
            CpuThreads.setForThisThread(0);
            CpuThreads.setAdaptive(true);
        }
        assertTrue(CpuThreads.stats().adaptive());
        // request threads, some with one thread per call and some with the device's teams, at once
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<float[]>> fs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                int perCall = i % 2;
                fs.add(pool.submit(() -> {
                    CpuThreads.setForThisThread(perCall);
                    try {
                        return conv(cpu);
                    } finally {
                        CpuThreads.setForThisThread(0);
                    }
                }));
            }
            for (Future<float[]> f : fs) assertArrayEquals(ref, f.get(), 1e-4f);
        } finally {
            pool.shutdown();
        }
    }
}
