package org.jprune.engine.internal;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The kernel table as the engine calls it: around every call, (1) the device counts the call as in
 * flight, so closing the device waits for it and calls after the close fail cleanly, and (2) every
 * {@link Buf} argument is pinned, so freeing one waits for the calls reading it and later calls with
 * it fail ({@link Buf#retire()}); {@code free} retires its Buf first. A dynamic proxy: it adds a
 * reflective call per kernel call (well under a microsecond; kernels take microseconds to milliseconds).
 */
public final class GuardedKernels implements InvocationHandler {
    /** In-flight calls of one device, and whether it is closing. */
    public static final class Gate {
        private final AtomicInteger inFlight = new AtomicInteger();
        private volatile boolean closing;
        private final String name;

        public Gate(String name) { this.name = name; }

        void enter(String op) {
            inFlight.incrementAndGet();
            if (closing) {
                inFlight.decrementAndGet();
                throw new IllegalStateException(op + ": device " + name + " is closed");
            }
        }

        void exit() { inFlight.decrementAndGet(); }

        /** Refuses new calls and waits for those in flight. */
        public void close() {
            closing = true;
            for (int spins = 0; inFlight.get() > 0; spins++) {
                if (spins < 100) Thread.onSpinWait();
                else java.util.concurrent.locks.LockSupport.parkNanos(50_000);
            }
        }
    }

    private final Kernels target;
    private final Gate gate;

    private GuardedKernels(Kernels target, Gate gate) {
        this.target = target;
        this.gate = gate;
    }

    public static Kernels wrap(Kernels k, Gate gate) {
        return (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[] {Kernels.class}, new GuardedKernels(k, gate));
    }

    @Override
    public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
        if (m.getDeclaringClass() == Object.class) return m.invoke(target, args);
        String op = m.getName();
        boolean closeCall = op.equals("close");
        if (!closeCall) gate.enter(op);
        Buf[] pinned = null;
        int n = 0;
        try {
            if (args != null) {
                for (Object a : args) {
                    if (!(a instanceof Buf b)) continue;
                    if (op.equals("free")) { b.retire(); continue; }
                    if (pinned == null) pinned = new Buf[args.length];
                    b.pin(op);
                    pinned[n++] = b;
                }
            }
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        } finally {
            for (int i = 0; i < n; i++) pinned[i].unpin();
            if (!closeCall) gate.exit();
        }
    }
}
