package org.jprune.engine;

import java.util.Arrays;
import java.util.Objects;

/**
 * Input batches uploaded while the device is still busy with the previous step (jp_copy_h2d_async: the
 * bytes are staged in page-locked memory and copied on a stream of their own, so a GPU's copy engine
 * moves the next batch while its cores run the last one's backward pass). Two device buffers take
 * turns, and a staged tensor stays valid until the call after next: queue every op that reads it
 * (the forward pass, and the backward pass that reads the input again) before then. On the CPU
 * backend it is a plain copy. The tensors belong to the stager: never close them.
 */
public final class InputStager implements AutoCloseable {
    private final Device device;
    private final Tensor[] slots = new Tensor[2];
    private int next;
    private boolean closed;

    public InputStager(Device device) { this.device = Objects.requireNonNull(device, "device"); }

    public Device device() { return device; }

    /** data (row-major, at least the shape's element count) as a tensor of that shape on the device. */
    public synchronized Tensor stage(float[] data, int... shape) {
        if (closed) throw new IllegalStateException("InputStager: closed");
        long numel = Tensor.numel(shape);
        if (data.length < numel)
            throw new IllegalArgumentException("InputStager: shape " + Arrays.toString(shape) + " needs " + numel + " values, got " + data.length);
        Tensor t = slots[next];
        if (t == null || !Arrays.equals(t.shape(), shape)) {
            // a new buffer may get a block that queued work still uses (the copy does not wait for
            // the compute stream's latest work): let that work finish first. Shapes change rarely:
            // the first batch, an epoch's last one.
            device.sync();
            if (t != null) t.close();
            t = slots[next] = Tensor.empty(device, shape);
        }
        next ^= 1;
        device.kernels().uploadAsync(t.buf(), data, 0, (int) numel);
        return t;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (!device.isClosed()) device.sync();
        for (Tensor t : slots) if (t != null) t.close();
    }
}
