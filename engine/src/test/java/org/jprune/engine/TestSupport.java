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

    /**
     * A native backend under test: a device plus the CPU ISA to force while it runs (or -1) and a
     * backend option to set while it runs ("key=value", reset to "key=0" after; or null).
     */
    public record Backend(String name, Device device, int isa, String option) implements AutoCloseable {
        public Backend(String name, Device device, int isa) { this(name, device, isa, null); }
        public void activate() {
            if (isa >= 0) jprune_h.jp_cpu_set_isa(isa);
            if (option != null) device.setOption(option.substring(0, option.indexOf('=')), option.substring(option.indexOf('=') + 1));
        }
        @Override public void close() {
            if (isa >= 0) jprune_h.jp_cpu_set_isa(jprune_h.jp_cpu_isa_supported());
            if (option != null) device.setOption(option.substring(0, option.indexOf('=')), "0");
        }
        /** TF32 convolutions (conv2d.cu v6): compared with the reference in its tf32 mode. */
        public boolean tf32() { return "tf32=1".equals(option); }
        @Override public String toString() { return name; }
    }

    /** cpu at every ISA this machine has, plus cuda-emu when its plugin is built and cuda where a GPU is. */
    public static Stream<Backend> nativeBackends() {
        List<Backend> out = new ArrayList<>();
        Device cpu = Device.cpu();
        String[] names = {"scalar", "avx2", "avx512"};
        for (int isa = jprune_h.jp_cpu_isa_supported(); isa >= 0; isa--) out.add(new Backend("cpu-" + names[isa], cpu, isa));
        device(DeviceKind.CUDA_EMU).ifPresent(d -> out.add(new Backend("cuda-emu", d, -1)));
        cuda().ifPresent(d -> out.add(new Backend("cuda", d, -1)));
        return selected(out);
    }

    /**
     * {@link #nativeBackends} plus the CUDA backends' other convolution kernels (conv2d.cu v5 and v7:
     * pipeline=1 and 2; v6: tf32=1, cuda-emu modelling the sm_80 instructions): for the tests of sgemm
     * and the convolutions, the only ops these options change.
     */
    public static Stream<Backend> convBackends() {
        List<Backend> out = new ArrayList<>(nativeBackends().toList());
        String[][] variants = {{"-pipelined", "pipeline=1"}, {"-async", "pipeline=2"}, {"-tf32", "tf32=1"}};
        device(DeviceKind.CUDA_EMU).ifPresent(d -> { for (String[] v : variants) out.add(new Backend("cuda-emu" + v[0], d, -1, v[1])); });
        cuda().ifPresent(d -> { for (String[] v : variants) out.add(new Backend("cuda" + v[0], d, -1, v[1])); });
        return selected(out);
    }

    // -Djprune.test.backends=cuda (comma-separated names): scripts/device/gpu-suite.sh runs the
    // op suite under compute-sanitizer on the GPU alone, where every host backend would only add time
    private static Stream<Backend> selected(List<Backend> out) {
        String only = System.getProperty("jprune.test.backends", "");
        if (!only.isBlank()) {
            List<String> names = List.of(only.split(","));
            return out.stream().filter(b -> names.contains(b.name()));
        }
        return out.stream();
    }

    private static final java.util.Map<DeviceKind, java.util.Optional<Device>> OPENED = new java.util.EnumMap<>(DeviceKind.class);

    /** A CUDA or cuda-emu device, opened once per test JVM, or empty with the reason printed once. */
    public static synchronized java.util.Optional<Device> device(DeviceKind kind) {
        return OPENED.computeIfAbsent(kind, k -> {
            try {
                Device d = Device.open(k, 0);
                System.out.println("[backend] " + d.describe()); // the report says what cuda-emu leaves out
                // destroyed when the test JVM exits, so compute-sanitizer's leak check (gpu-suite.sh)
                // reports only blocks that a test or the library never freed, not the context's cache
                Runtime.getRuntime().addShutdownHook(new Thread(d::close, "close-" + k));
                return java.util.Optional.of(d);
            } catch (BackendUnavailableException e) {
                System.out.println("[skip] " + k + " backend: " + e.getMessage());
                return java.util.Optional.empty();
            }
        });
    }

    /** The GPU, where this machine has one. */
    public static java.util.Optional<Device> cuda() { return device(DeviceKind.CUDA); }
}
