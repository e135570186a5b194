package org.jprune.engine;

import org.jprune.engine.internal.Access;
import org.jprune.engine.internal.Buf;
import org.jprune.engine.internal.CachingAllocator;
import org.jprune.engine.internal.KernelProfile;
import org.jprune.engine.internal.Kernels;
import org.jprune.engine.internal.NativeKernels;
import org.jprune.engine.internal.ReferenceKernels;

/**
 * A backend context plus its caching allocator. {@link #cpu()} and {@link #reference()} are shared
 * process-wide instances that live until exit (closing them does nothing); {@link #open} makes a new
 * device that the caller owns and closes. Thread-safe: ops may run on one device from many threads.
 */
public final class Device implements AutoCloseable {
    static {
        Access.install(new Access.Engine() {
            @Override public Buf buf(Tensor t) { return t.buf(); }
            @Override public Kernels kernels(Device d) { return d.kernels(); }
        });
    }

    private static volatile Device cpu, reference;

    private final DeviceKind kind;
    private final int ordinal;
    private final Kernels kernels;
    private final CachingAllocator allocator;
    private final boolean shared;
    private volatile boolean closed;
    private final org.jprune.engine.internal.GuardedKernels.Gate gate;

    private Device(DeviceKind kind, int ordinal, boolean shared) {
        this.kind = kind;
        this.ordinal = ordinal;
        this.shared = shared;
        Kernels k;
        if (kind == DeviceKind.REFERENCE) {
            k = new ReferenceKernels();
        } else {
            try {
                k = new NativeKernels(kind.code, ordinal);
            } catch (NativeException e) {
                throw new BackendUnavailableException(kind + " backend unavailable: " + e.getMessage(), e);
            }
        }
        Kernels inner = KernelProfile.enabled() ? KernelProfile.wrap(k, kind == DeviceKind.CUDA) : k;
        gate = new org.jprune.engine.internal.GuardedKernels.Gate(kind.name().toLowerCase(java.util.Locale.ROOT) + ":" + ordinal);
        kernels = org.jprune.engine.internal.GuardedKernels.wrap(inner, gate);
        allocator = new CachingAllocator(inner); // it frees only cached blocks no call can hold, also after the gate closed
        if (kind == DeviceKind.CUDA || kind == DeviceKind.CUDA_EMU) applyProperties();
    }

    /** -Djprune.conv=native|cudnn and -Djprune.tf32=true|false, for CUDA devices as they open. */
    private void applyProperties() {
        String conv = System.getProperty("jprune.conv"), tf32 = System.getProperty("jprune.tf32");
        try {
            if (conv != null && !conv.isBlank()) kernels.setOption("conv", conv.trim());
            if (tf32 != null && !tf32.isBlank()) kernels.setOption("tf32", Boolean.parseBoolean(tf32.trim()) ? "1" : "0");
        } catch (IllegalArgumentException e) {
            kernels.close();
            throw new BackendUnavailableException(kind + " backend: " + e.getMessage(), e);
        }
    }

    /** The shared CPU device (native kernels, all cores). */
    public static Device cpu() {
        Device d = cpu;
        if (d == null) {
            synchronized (Device.class) {
                if (cpu == null) cpu = new Device(DeviceKind.CPU, 0, true);
                d = cpu;
            }
        }
        return d;
    }

    /** The shared reference device: pure Java, double precision, slow; the oracle for tests. */
    public static Device reference() {
        Device d = reference;
        if (d == null) {
            synchronized (Device.class) {
                if (reference == null) reference = new Device(DeviceKind.REFERENCE, 0, true);
                d = reference;
            }
        }
        return d;
    }

    /**
     * A new device of the given kind, owned by the caller.
     * @throws BackendUnavailableException with the reason, where this machine cannot run that kind
     */
    public static Device open(DeviceKind kind, int ordinal) {
        if (ordinal < 0) throw new IllegalArgumentException("device ordinal must be >= 0, got " + ordinal);
        return new Device(kind, ordinal, false);
    }

    /**
     * A device from its name, as the CLI's {@code --device} takes it: {@code cpu}, {@code reference},
     * {@code cuda-emu[:N]} or {@code cuda[:N]} (default ordinal 0). CPU and REFERENCE are the shared
     * devices (closing them does nothing); the others are new and owned by the caller.
     * @throws IllegalArgumentException naming the value when it is not a device name
     * @throws BackendUnavailableException with the reason, where this machine cannot run that kind
     */
    public static Device parse(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("device name is empty (cpu, cuda[:N], cuda-emu[:N], reference)");
        String s = spec.trim();
        int colon = s.indexOf(':');
        DeviceKind kind = DeviceKind.parse(colon < 0 ? s : s.substring(0, colon));
        int ordinal = 0;
        if (colon >= 0) {
            String n = s.substring(colon + 1);
            if (!n.matches("\\d{1,4}")) throw new IllegalArgumentException("device '" + spec + "': the ordinal after ':' must be a number 0..9999");
            ordinal = Integer.parseInt(n);
            if (ordinal != 0 && (kind == DeviceKind.CPU || kind == DeviceKind.REFERENCE))
                throw new IllegalArgumentException("device '" + spec + "': " + kind.name().toLowerCase(java.util.Locale.ROOT) + " has only ordinal 0");
        }
        return kind == DeviceKind.CPU || kind == DeviceKind.REFERENCE ? of(kind) : open(kind, ordinal);
    }

    /** The shared device for CPU and REFERENCE, a new owned one otherwise. */
    public static Device of(DeviceKind kind) {
        return switch (kind) {
            case CPU -> cpu();
            case REFERENCE -> reference();
            default -> open(kind, 0);
        };
    }

    public DeviceKind kind() { return kind; }
    public int ordinal() { return ordinal; }
    public String describe() { return kernels.describe(); }

    /** Worker threads for this device's ops (CPU backends); 0 means all cores. */
    public void setThreads(int threads) {
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        checkOpen();
        kernels.setThreads(threads);
    }

    /** Waits for every op issued on this device to finish (ops on GPU devices return before they run). */
    public void sync() {
        checkOpen();
        kernels.sync();
    }

    public MemoryStats memoryStats() { return allocator.stats(); }

    /** Backend memory as the native side counts it (device memory for CUDA): bytes held by live allocations and bytes reserved. */
    public record NativeMemory(long inUse, long reserved) {}

    public NativeMemory nativeMemory() {
        checkOpen();
        long[] m = kernels.memStats();
        return new NativeMemory(m[0], m[1]);
    }

    /**
     * A backend setting (CUDA: {@code conv} = native | cudnn, {@code tf32} = 0 | 1, {@code pipeline} =
     * 0 | 1 | 2: the FP32 conv kernel, plain, with double-buffered shared memory, or with a cp.async ring
     * and 16-byte copies; the CPU backend accepts only its defaults; the reference takes tf32, its
     * definition).
     * @throws IllegalArgumentException naming the reason, for an unknown key or value or one this backend cannot honour
     */
    public void setOption(String key, String value) {
        if (key == null || value == null) throw new IllegalArgumentException("option key and value must not be null");
        checkOpen();
        kernels.setOption(key, value);
    }

    /**
     * What this device can do: the ops of the ABI it lacks (none for every backend built today), the
     * convolution providers it accepts ({@code native}, and {@code cudnn} where cuDNN loaded) and
     * whether it runs TF32 tensor-core convolutions.
     */
    public record Capabilities(java.util.List<String> missingOps, java.util.List<String> convProviders, boolean tf32) {}

    /** Probes {@link Capabilities} by trying each option and setting the defaults (conv=native, tf32=0) back. */
    public synchronized Capabilities capabilities() {
        checkOpen();
        java.util.List<String> conv = new java.util.ArrayList<>(java.util.List.of("native"));
        if (accepts("conv", "cudnn")) conv.add("cudnn");
        boolean tf32 = accepts("tf32", "1");
        return new Capabilities(kernels.missingOps(), java.util.List.copyOf(conv), tf32);
    }

    private boolean accepts(String key, String value) {
        try {
            kernels.setOption(key, value);
            return true;
        } catch (RuntimeException e) {
            return false;
        } finally {
            try {
                kernels.setOption(key, key.equals("conv") ? "native" : "0");
            } catch (RuntimeException ignored) {
                // the default is always accepted
            }
        }
    }

    /** Returns cached, unused blocks to the backend. */
    public void emptyCache() { allocator.emptyCache(); }

    /** Engine-internal (package-private; other engine packages use {@link Access}): the kernel table. */
    Kernels kernels() {
        checkOpen();
        return kernels;
    }

    /** Engine-internal: the caching allocator. */
    CachingAllocator allocator() {
        checkOpen();
        return allocator;
    }

    void checkOpen() {
        if (closed) throw new IllegalStateException("device " + kind + ":" + ordinal + " is closed");
    }

    public boolean isClosed() { return closed; }

    @Override
    public void close() {
        if (shared || closed) return;
        closed = true;
        gate.close(); // waits for the ops in flight on other threads; later ones fail cleanly
        allocator.emptyCache();
        kernels.close();
    }

    @Override
    public String toString() { return kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-') + ":" + ordinal; }
}
