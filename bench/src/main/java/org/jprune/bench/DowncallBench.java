package org.jprune.bench;

import static java.lang.foreign.ValueLayout.ADDRESS;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.jprune.bindings.jprune_h;
import org.openjdk.jmh.annotations.*;

/** The cost of crossing into C: a trivial downcall, and a backend op with pointer arguments on 16 floats. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class DowncallBench {
    Arena arena;
    MemorySegment ctx, buf;
    int x;

    @Setup
    public void setup() {
        arena = Arena.ofConfined();
        MemorySegment out = arena.allocate(ADDRESS);
        if (jprune_h.jp_ctx_create(jprune_h.JP_DEVICE_CPU(), 0, out) != 0) throw new IllegalStateException("no CPU context");
        ctx = out.get(ADDRESS, 0);
        jprune_h.jp_ctx_set_threads(ctx, 1);
        buf = arena.allocate(64, 64);
    }

    @TearDown
    public void tearDown() {
        jprune_h.jp_ctx_destroy(ctx);
        arena.close();
    }

    @Benchmark
    public int trivial() { return jprune_h.jp_noop(x++); }

    @Benchmark
    public int withSegments() { return jprune_h.jp_fill(ctx, buf, 1f, 16); }
}
