package org.jprune.engine.internal;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A raw device allocation: a native address for native backends, or a Java array for the reference
 * backend (doubles for float data, ints for index data). Engine-internal; the public API has Tensor.
 *
 * <p>A Buf is also a lease on its storage: every native call pins the Bufs it is given
 * ({@link GuardedKernels}) and {@link #retire()} (what freeing does first) waits until no call holds
 * it and refuses pins after that. Closing a tensor while another thread's op reads it therefore waits
 * for that op, and an op that starts after the close fails with a clear exception instead of reading
 * memory that a later allocation now owns. The caching allocator hands out a new lease per allocation
 * ({@link #lease()}) over the same block.
 */
public final class Buf {
    public final long address;
    public final long bytes;
    public final double[] data;
    public final int[] ints;
    private final Buf block;                         // the storage this lease is over (itself for a block)
    private final AtomicInteger pins = new AtomicInteger(); // >= 0: calls holding it; -1: retired

    private Buf(long address, long bytes, double[] data, int[] ints, Buf block) {
        this.address = address;
        this.bytes = bytes;
        this.data = data;
        this.ints = ints;
        this.block = block == null ? this : block;
    }

    public static Buf nativeBuf(long address, long bytes) { return new Buf(address, bytes, null, null, null); }
    public static Buf doubles(long n) { return new Buf(0, n * 4, new double[Math.toIntExact(n)], null, null); }
    public static Buf ints(long n) { return new Buf(0, n * 4, null, new int[Math.toIntExact(n)], null); }

    /** A new lease over this block's storage. */
    public Buf lease() { return new Buf(address, bytes, data, ints, block); }

    /** The block this lease is over (what the allocator caches). */
    public Buf block() { return block; }

    /** Marks the start of a native call that uses this storage; fails if it was freed. */
    void pin(String op) {
        for (;;) {
            int p = pins.get();
            if (p < 0) throw new IllegalStateException(op + ": a tensor or buffer it was given has been closed (by another thread?)");
            if (pins.compareAndSet(p, p + 1)) return;
        }
    }

    void unpin() { pins.decrementAndGet(); }

    /** Waits for the calls that hold this lease, then refuses new ones. Idempotent. */
    public void retire() {
        for (int spins = 0; ; spins++) {
            int p = pins.get();
            if (p < 0) return;
            if (p == 0 && pins.compareAndSet(0, -1)) return;
            if (spins < 100) Thread.onSpinWait();
            else java.util.concurrent.locks.LockSupport.parkNanos(50_000);
        }
    }

    public boolean retired() { return pins.get() < 0; }
}
