package org.jprune.engine.ops;

import java.util.Arrays;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;

/** Argument checks shared by the ops: every message names the op, the argument and the values. */
public final class Checks {
    private Checks() {}

    /** t must be non-null and open; returns it. */
    public static Tensor open(String op, String name, Tensor t) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        if (t.isClosed()) throw new IllegalStateException(op + ": " + name + " " + t + " is closed");
        return t;
    }

    public static void shape(String op, String name, Tensor t, int... expected) {
        open(op, name, t);
        if (!Arrays.equals(t.shape(), expected))
            throw new IllegalArgumentException(op + ": " + name + " has shape " + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(expected));
    }

    public static void rank(String op, String name, Tensor t, int rank) {
        open(op, name, t);
        if (t.rank() != rank)
            throw new IllegalArgumentException(op + ": " + name + " must have rank " + rank + ", has shape " + Arrays.toString(t.shape()));
    }

    public static void size(String op, String name, Tensor t, long numel) {
        open(op, name, t);
        if (t.numel() != numel) throw new IllegalArgumentException(op + ": " + name + " has " + t.numel() + " elements, expected " + numel);
    }

    /** All non-null tensors on one device; returns it. */
    public static Device sameDevice(String op, Tensor... ts) {
        Device d = null;
        for (Tensor t : ts) {
            if (t == null) continue;
            open(op, "argument", t);
            if (d == null) d = t.device();
            else if (t.device() != d) throw new IllegalArgumentException(op + ": tensors on different devices (" + d + " and " + t.device() + ")");
        }
        if (d == null) throw new IllegalArgumentException(op + ": no tensor arguments");
        return d;
    }

    /** Product of shape[from, to). */
    public static long prod(int[] shape, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) p *= shape[i];
        return p;
    }

    public static int axis(String op, Tensor t, int axis) {
        int a = axis < 0 ? t.rank() + axis : axis;
        if (a < 0 || a >= t.rank()) throw new IllegalArgumentException(op + ": axis " + axis + " out of range for shape " + Arrays.toString(t.shape()));
        return a;
    }
}
