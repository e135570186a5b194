package org.jprune.engine;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.jprune.engine.internal.Buf;
import org.jprune.engine.internal.Kernels;

/**
 * A dense float32 tensor in row-major (NCHW) order, stored on a {@link Device}.
 *
 * <p>Ownership is explicit: whoever creates a tensor closes it (try-with-resources), which returns
 * its block to the device's caching allocator at once rather than when the GC notices. A view
 * ({@link #view}) shares its base's storage, is valid while the base is open, and closing it frees
 * nothing. Using a closed tensor, or mixing devices, throws before any native call.
 */
public final class Tensor implements AutoCloseable {
    private final Device device;
    private final int[] shape;
    private final long numel;
    private final Tensor base;   // non-null for views
    private Buf buf;
    private volatile boolean closed;

    private Tensor(Device device, int[] shape, Buf buf, Tensor base) {
        this.device = device;
        this.shape = shape;
        this.numel = numel(shape);
        this.buf = buf;
        this.base = base;
    }

    static long numel(int[] shape) {
        long n = 1;
        for (int s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, s);
        }
        return n;
    }

    /** Uninitialised contents. */
    public static Tensor empty(Device device, int... shape) {
        int[] s = shape.clone();
        long n = numel(s);
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor of " + n + " elements is larger than 2^31-1");
        return new Tensor(device, s, device.allocator().alloc(n), null);
    }

    public static Tensor zeros(Device device, int... shape) { return full(device, 0f, shape); }

    public static Tensor full(Device device, float value, int... shape) {
        Tensor t = empty(device, shape);
        t.fill(value);
        return t;
    }

    /** A tensor holding a copy of data; data.length must equal the shape's size. */
    public static Tensor of(Device device, float[] data, int... shape) {
        if (numel(shape) != data.length)
            throw new IllegalArgumentException("Tensor.of: " + data.length + " values for shape " + Arrays.toString(shape));
        Tensor t = empty(device, shape);
        t.copyFrom(data);
        return t;
    }

    /** Normal(0, std) values from a seeded generator: the same seed gives the same values on every device. */
    public static Tensor randn(Device device, long seed, float std, int... shape) {
        return of(device, randnArray(seed, std, (int) numel(shape)), shape);
    }

    public static float[] randnArray(long seed, float std, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i += 2) {
            double u1 = r.nextDouble(), u2 = r.nextDouble();
            double rad = Math.sqrt(-2 * Math.log(Math.max(u1, 1e-300)));
            a[i] = (float) (std * rad * Math.cos(2 * Math.PI * u2));
            if (i + 1 < n) a[i + 1] = (float) (std * rad * Math.sin(2 * Math.PI * u2));
        }
        return a;
    }

    public Device device() { return device; }
    public int[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }
    public long numel() { return numel; }
    public boolean isClosed() { return closed || (base != null && base.isClosed()); }

    /** Engine-internal (package-private; other engine packages use {@link org.jprune.engine.internal.Access}): the storage, after checking the tensor is open. */
    Buf buf() {
        if (isClosed()) throw new IllegalStateException("tensor " + Arrays.toString(shape) + " is closed");
        device.checkOpen();
        return buf;
    }

    Kernels k() { return device.kernels(); }

    public float[] toArray() {
        float[] out = new float[(int) numel];
        k().download(buf(), out, 0, (int) numel);
        return out;
    }

    public float item() {
        if (numel != 1) throw new IllegalStateException("item() needs one element, tensor has shape " + Arrays.toString(shape));
        return toArray()[0];
    }

    public Tensor copyFrom(float[] data) {
        if (data.length != numel)
            throw new IllegalArgumentException("copyFrom: " + data.length + " values for tensor of " + numel + " " + Arrays.toString(shape));
        k().upload(buf(), data, 0, data.length);
        return this;
    }

    public Tensor copyFrom(Tensor src) {
        requireSameDevice("copyFrom", src);
        if (src.numel != numel)
            throw new IllegalArgumentException("copyFrom: sizes differ " + Arrays.toString(src.shape) + " -> " + Arrays.toString(shape));
        k().copy(buf(), src.buf(), numel);
        return this;
    }

    public Tensor copy() {
        Tensor t = empty(device, shape);
        t.copyFrom(this);
        return t;
    }

    /** A copy on another device (through host memory). */
    public Tensor to(Device other) {
        if (other == device) return copy();
        return of(other, toArray(), shape);
    }

    /** A tensor sharing this one's storage with another shape of the same size. */
    public Tensor view(int... newShape) {
        if (numel(newShape) != numel)
            throw new IllegalArgumentException("view: " + Arrays.toString(newShape) + " has a different size than " + Arrays.toString(shape));
        return new Tensor(device, newShape.clone(), buf(), base == null ? this : base);
    }

    public Tensor fill(float value) {
        k().fill(buf(), value, numel);
        return this;
    }

    public Tensor zero() { return fill(0f); }

    /** this += alpha * x */
    public Tensor axpy(float alpha, Tensor x) {
        requireSameShape("axpy", x);
        k().axpy(buf(), x.buf(), alpha, numel);
        return this;
    }

    public Tensor addInPlace(Tensor x) { return axpy(1f, x); }

    public Tensor scaleInPlace(float alpha) {
        k().scale(buf(), buf(), alpha, numel);
        return this;
    }

    public float sum() { return reduce(0); }
    public float sumSquares() { return reduce(1); }
    public float absMax() { return reduce(2); }

    private float reduce(int kind) {
        Buf out = device.allocator().alloc(1);
        try {
            k().reduce(kind, out, buf(), numel);
            float[] r = new float[1];
            k().download(out, r, 0, 1);
            return r[0];
        } finally {
            device.allocator().release(out);
        }
    }

    public void requireSameDevice(String op, Tensor other) {
        if (other.device != device)
            throw new IllegalArgumentException(op + ": tensors on different devices (" + device + " and " + other.device + ")");
    }

    public void requireSameShape(String op, Tensor other) {
        requireSameDevice(op, other);
        if (!Arrays.equals(shape, other.shape))
            throw new IllegalArgumentException(op + ": shapes differ " + Arrays.toString(shape) + " vs " + Arrays.toString(other.shape));
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (base == null && !device.isClosed()) device.allocator().release(buf);
        buf = null;
    }

    @Override
    public String toString() { return "Tensor" + Arrays.toString(shape) + "@" + device; }
}
