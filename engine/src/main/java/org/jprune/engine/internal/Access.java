package org.jprune.engine.internal;

import java.lang.invoke.MethodHandles;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;

/**
 * The engine's own way to a tensor's storage and a device's kernel table, for its packages outside
 * {@code org.jprune.engine} (ops, optimizers, pruning). {@link Tensor} and {@link Device} keep these
 * accessors package-private and hand them over here once, when {@code Device} is initialised (the
 * JDK's "shared secrets" pattern). This package is not exported (module-info), so code outside the
 * engine cannot reach a raw buffer or a kernel table: it goes through the checked ops.
 */
public final class Access {
    /** Implemented once, inside {@code org.jprune.engine}. */
    public interface Engine {
        Buf buf(Tensor t);
        Kernels kernels(Device d);
    }

    private static volatile Engine engine;

    private Access() {}

    /** Called once by {@code Device}'s static initialiser. */
    public static void install(Engine e) {
        synchronized (Access.class) {
            if (engine != null) throw new IllegalStateException("engine access is already installed");
            engine = e;
        }
    }

    /** The tensor's storage, after checking the tensor and its device are open. */
    public static Buf buf(Tensor t) { return engine().buf(t); }

    /** The device's kernel table, after checking the device is open. */
    public static Kernels kernels(Device d) { return engine().kernels(d); }

    private static Engine engine() {
        Engine e = engine;
        if (e != null) return e;
        try {
            MethodHandles.lookup().ensureInitialized(Device.class); // its initialiser installs the access
        } catch (IllegalAccessException ex) {
            throw new IllegalStateException(ex);
        }
        return engine;
    }
}
