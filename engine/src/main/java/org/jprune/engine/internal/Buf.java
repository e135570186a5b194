package org.jprune.engine.internal;

/**
 * A raw device allocation: a native address for native backends, or a Java array for the reference
 * backend (doubles for float data, ints for index data). Engine-internal; the public API has Tensor.
 */
public final class Buf {
    public final long address;
    public final long bytes;
    public final double[] data;
    public final int[] ints;

    private Buf(long address, long bytes, double[] data, int[] ints) {
        this.address = address;
        this.bytes = bytes;
        this.data = data;
        this.ints = ints;
    }

    public static Buf nativeBuf(long address, long bytes) { return new Buf(address, bytes, null, null); }
    public static Buf doubles(long n) { return new Buf(0, n * 4, new double[Math.toIntExact(n)], null); }
    public static Buf ints(long n) { return new Buf(0, n * 4, null, new int[Math.toIntExact(n)]); }
}
