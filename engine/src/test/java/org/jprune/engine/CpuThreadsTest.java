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
        // the JVM counts the same affinity mask and cgroup CPU quota as the native side
        assertEquals(Runtime.getRuntime().availableProcessors(), s.cores(), s.toString());
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
