package org.jprune.engine.internal;

import java.io.PrintStream;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.jprune.engine.ops.BnDesc;
import org.jprune.engine.ops.Conv2dDesc;
import org.jprune.engine.ops.GemmDesc;
import org.jprune.engine.ops.PoolDesc;

/**
 * Opt-in per-op wall-clock profile of a backend ({@code -Djprune.profile=true}): every kernel call
 * goes through a proxy that times it, keyed by op and shape (convolutions, batch norm, pooling and
 * GEMM by their descriptor; element-wise ops by op only), and the table is printed to stderr at exit.
 * On a device backend each call is followed by a sync, so the time is the kernel's, not its launch.
 * Costs two clock reads and a map lookup per call: for finding where time goes, not for production.
 */
public final class KernelProfile {
    private record Key(String op, String shape) {}

    private static final class Cell {
        final LongAdder calls = new LongAdder(), nanos = new LongAdder();
        volatile long flops;
    }

    private static final Map<Key, Cell> CELLS = new ConcurrentHashMap<>();
    private static volatile boolean hooked;

    private KernelProfile() {}

    public static boolean enabled() { return Boolean.getBoolean("jprune.profile"); }

    /** k behind a timing proxy; the report is printed once, at JVM exit. */
    public static Kernels wrap(Kernels k, boolean syncEachCall) {
        synchronized (KernelProfile.class) {
            if (!hooked) {
                hooked = true;
                Runtime.getRuntime().addShutdownHook(new Thread(() -> print(System.err), "jprune-profile"));
            }
        }
        InvocationHandler h = (proxy, m, args) -> {
            if (m.getDeclaringClass() == Object.class || !timed(m.getName())) return invoke(k, m, args);
            long t0 = System.nanoTime();
            Object r = invoke(k, m, args);
            if (syncEachCall) k.sync();
            long dt = System.nanoTime() - t0;
            Key key = new Key(m.getName(), shape(args));
            Cell c = CELLS.computeIfAbsent(key, x -> new Cell());
            c.calls.increment();
            c.nanos.add(dt);
            c.flops = flops(m.getName(), args);
            return r;
        };
        return (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[] {Kernels.class}, h);
    }

    private static boolean timed(String op) {
        return !op.equals("describe") && !op.equals("close") && !op.equals("memStats") && !op.equals("setOption") && !op.equals("setThreads");
    }

    private static Object invoke(Kernels k, Method m, Object[] args) throws Throwable {
        try {
            return m.invoke(k, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private static String shape(Object[] args) {
        if (args == null || args.length == 0) return "";
        return switch (args[0]) {
            case Conv2dDesc d -> String.format(Locale.ROOT, "n%d c%d %dx%d -> k%d %dx%d s%d g%d", d.n(), d.c(), d.h(), d.w(), d.k(), d.r(), d.s(), d.strideH(), d.groups());
            case BnDesc d -> String.format(Locale.ROOT, "n%d c%d hw%d", d.n(), d.c(), d.hw());
            case PoolDesc d -> String.format(Locale.ROOT, "n%d c%d %dx%d k%d", d.n(), d.c(), d.h(), d.w(), d.kernel());
            case GemmDesc d -> String.format(Locale.ROOT, "%dx%dx%d", d.m(), d.n(), d.k());
            default -> "";
        };
    }

    private static long flops(String op, Object[] args) {
        if (args == null || args.length == 0) return 0;
        if (args[0] instanceof Conv2dDesc d && op.startsWith("conv2d") && !op.contains("Cs")) return 2 * d.macs();
        if (args[0] instanceof GemmDesc d) return 2L * d.m() * d.n() * d.k();
        return 0;
    }

    /** Clears the counts (for timing a window of a run). */
    public static void reset() { CELLS.clear(); }

    /** The table: per op, then the costliest (op, shape) rows: 25, or {@code -Djprune.profile.rows=N}. */
    public static void print(PrintStream out) {
        if (CELLS.isEmpty()) return;
        List<Map.Entry<Key, Cell>> rows = new ArrayList<>(CELLS.entrySet());
        double total = rows.stream().mapToLong(e -> e.getValue().nanos.sum()).sum();
        Map<String, long[]> perOp = new java.util.TreeMap<>();
        for (var e : rows) {
            long[] a = perOp.computeIfAbsent(e.getKey().op(), x -> new long[2]);
            a[0] += e.getValue().nanos.sum();
            a[1] += e.getValue().calls.sum();
        }
        out.printf(Locale.ROOT, "%n[jprune.profile] kernel time %.2f s (wall clock of the calls, all threads)%n", total / 1e9);
        out.printf(Locale.ROOT, "%-22s %10s %9s %7s%n", "op", "calls", "seconds", "share");
        perOp.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0])).forEach(e ->
                out.printf(Locale.ROOT, "%-22s %10d %9.3f %6.1f%%%n", e.getKey(), e.getValue()[1], e.getValue()[0] / 1e9, 100 * e.getValue()[0] / total));
        out.printf(Locale.ROOT, "%n%-18s %-36s %8s %9s %7s %9s%n", "op", "shape", "calls", "seconds", "share", "GFLOP/s");
        rows.sort((a, b) -> Long.compare(b.getValue().nanos.sum(), a.getValue().nanos.sum()));
        for (var e : rows.subList(0, Math.min(Integer.getInteger("jprune.profile.rows", 25), rows.size()))) {
            Cell c = e.getValue();
            double s = c.nanos.sum() / 1e9;
            String gf = c.flops > 0 ? String.format(Locale.ROOT, "%9.1f", c.flops * c.calls.sum() / s / 1e9) : "";
            out.printf(Locale.ROOT, "%-18s %-36s %8d %9.3f %6.1f%% %s%n", e.getKey().op(), e.getKey().shape(), c.calls.sum(), s, 100 * c.nanos.sum() / total, gf);
        }
    }
}
