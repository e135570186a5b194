package org.jprune.engine.ops;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
import java.util.Arrays;
import org.jprune.engine.Device;
import org.jprune.engine.internal.Buf;

/**
 * A strictly increasing list of channel indices in [0, limit), copied to a device: the active
 * channels of a channel-sparse conv, or the channels kept by compaction. Validated here, so the
 * native side never sees a bad list. Closing returns the device memory.
 */
public final class ChannelIndex implements AutoCloseable {
    private final Device device;
    private final int[] indices;
    private final int limit;
    private Buf buf;

    public ChannelIndex(Device device, int[] indices, int limit) {
        if (limit < 0) throw new IllegalArgumentException("ChannelIndex: limit must be >= 0, got " + limit);
        for (int i = 0; i < indices.length; i++) {
            if (indices[i] < 0 || indices[i] >= limit)
                throw new IllegalArgumentException("ChannelIndex: index[" + i + "] = " + indices[i] + " outside [0, " + limit + ")");
            if (i > 0 && indices[i] <= indices[i - 1])
                throw new IllegalArgumentException("ChannelIndex: indices must be strictly increasing, got " + indices[i - 1] + " then " + indices[i]);
        }
        this.device = device;
        this.indices = indices.clone();
        this.limit = limit;
        this.buf = kernels(device).allocInts(Math.max(1, indices.length));
        kernels(device).uploadInts(buf, this.indices, indices.length);
    }

    public static ChannelIndex all(Device device, int limit) {
        return new ChannelIndex(device, java.util.stream.IntStream.range(0, limit).toArray(), limit);
    }

    public int size() { return indices.length; }
    public int limit() { return limit; }
    public int[] indices() { return indices.clone(); }
    public Device device() { return device; }

    Buf buf(String op) {
        if (buf == null) throw new IllegalStateException(op + ": channel index list is closed");
        return buf;
    }

    @Override
    public void close() {
        if (buf != null) {
            kernels(device).free(buf);
            buf = null;
        }
    }

    @Override
    public String toString() { return "ChannelIndex" + Arrays.toString(indices) + "/" + limit; }
}
