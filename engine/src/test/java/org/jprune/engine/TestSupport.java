package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.jprune.bindings.jprune_h;

/** Shared test helpers: the one assertClose, seeded data, and the list of backends to compare. */
public final class TestSupport {
    private TestSupport() {}

    /**
     * Fails when |actual - expected| > abs + rel * |expected| anywhere; the message shows the first
     * mismatches and the largest error.
     */
    public static void assertClose(String what, float[] expected, float[] actual, double abs, double rel) {
        if (expected.length != actual.length) fail(what + ": length " + actual.length + ", expected " + expected.length);
        int bad = 0;
        double maxErr = 0;
        int maxAt = -1;
        StringBuilder first = new StringBuilder();
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i], err = Math.abs(a - e);
            boolean nan = Double.isNaN(a) != Double.isNaN(e);
            if (err > maxErr || nan) { maxErr = nan ? Double.NaN : err; maxAt = i; }
            if (nan || err > abs + rel * Math.abs(e)) {
                if (bad < 5) first.append(String.format("%n  [%d] expected %.7g got %.7g (err %.3g)", i, e, a, err));
                bad++;
            }
        }
        if (bad > 0) fail(String.format("%s: %d of %d values differ (abs %.1g + rel %.1g); max error %.3g at [%d]%s", what, bad,
                expected.length, abs, rel, maxErr, maxAt, first));
    }

    public static float[] random(long seed, int n, float lo, float hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return a;
    }

    /** A native backend under test: a device plus the CPU ISA to force while it runs (or -1). */
    public record Backend(String name, Device device, int isa) implements AutoCloseable {
        public void activate() {
            if (isa >= 0) jprune_h.jp_cpu_set_isa(isa);
        }
        @Override public void close() {
            if (isa >= 0) jprune_h.jp_cpu_set_isa(jprune_h.jp_cpu_isa_supported());
        }
        @Override public String toString() { return name; }
    }

    /** cpu at every ISA this machine has, plus cuda-emu when its plugin is built. */
    public static Stream<Backend> nativeBackends() {
        List<Backend> out = new ArrayList<>();
        Device cpu = Device.cpu();
        String[] names = {"scalar", "avx2", "avx512"};
        for (int isa = jprune_h.jp_cpu_isa_supported(); isa >= 0; isa--) out.add(new Backend("cpu-" + names[isa], cpu, isa));
        try {
            out.add(new Backend("cuda-emu", Device.of(DeviceKind.CUDA_EMU), -1));
        } catch (BackendUnavailableException e) {
            System.out.println("[skip] cuda-emu backend: " + e.getMessage());
        }
        return out.stream();
    }
}
