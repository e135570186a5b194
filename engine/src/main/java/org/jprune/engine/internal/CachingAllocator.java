package org.jprune.engine.internal;

import org.jprune.engine.MemoryStats;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Reuses freed device blocks instead of returning them to the backend, like PyTorch's caching
 * allocator: a training step frees and reallocates the same activation sizes every iteration, and
 * cudaMalloc/cudaFree (or malloc of large blocks) in every op would dominate small layers. Blocks
 * are binned by a rounded size (512-byte steps up to 1 MiB, then 1/8 of the next power of two), so
 * waste stays under 12.5%. Thread-safe.
 */
public final class CachingAllocator {
    private final Kernels kernels;
    private final Map<Long, ArrayDeque<Buf>> free = new HashMap<>();
    private long inUse, cached, peak, backendAllocs;

    public CachingAllocator(Kernels kernels) { this.kernels = kernels; }

    static long roundUp(long bytes) {
        bytes = Math.max(bytes, 1);
        if (bytes <= (1 << 20)) return (bytes + 511) & ~511L;
        long step = Long.highestOneBit(bytes - 1) << 1 >> 3;
        return (bytes + step - 1) / step * step;
    }

    /** A block of at least n floats (or ints), as a new lease (see {@link Buf}); contents are undefined. */
    public Buf alloc(long n) { return allocBlock(n).lease(); }

    private synchronized Buf allocBlock(long n) {
        long size = roundUp(n * 4);
        ArrayDeque<Buf> q = free.get(size);
        Buf b = q == null ? null : q.poll();
        if (b != null) {
            cached -= size;
        } else {
            try {
                b = kernels.allocFloats(size / 4);
            } catch (RuntimeException oom) {
                emptyCacheLocked(); // give cached blocks back and try once more
                b = kernels.allocFloats(size / 4);
            }
            backendAllocs++;
        }
        inUse += size;
        peak = Math.max(peak, inUse);
        return b;
    }

    /** Returns a lease's block for reuse, after the calls still using the lease are done (it is retired). */
    public void release(Buf lease) {
        lease.retire();
        releaseBlock(lease.block());
    }

    private synchronized void releaseBlock(Buf b) {
        long size = b.bytes;
        inUse -= size;
        cached += size;
        free.computeIfAbsent(size, k -> new ArrayDeque<>()).push(b);
    }

    public synchronized void emptyCache() { emptyCacheLocked(); }

    private void emptyCacheLocked() {
        for (ArrayDeque<Buf> q : free.values()) for (Buf b : q) kernels.free(b);
        free.clear();
        cached = 0;
    }

    public synchronized MemoryStats stats() { return new MemoryStats(inUse, cached, peak, backendAllocs); }
}
