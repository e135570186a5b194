package org.jprune.engine;

/**
 * A device's memory as its caching allocator sees it: bytes held by open tensors, bytes cached for
 * reuse, the peak of the first, and how many blocks were asked of the backend.
 */
public record MemoryStats(long inUseBytes, long cachedBytes, long peakBytes, long backendAllocations) {}
