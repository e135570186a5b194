package org.jprune.engine;

import java.nio.file.Path;
import java.util.Map;
import org.jprune.bindings.NativeLibrary;

/** What native code this process loaded, for diagnostics ({@code jprune info}) without reaching into the bindings. */
public final class Backends {
    private Backends() {}

    /** The directory the native libraries were loaded from. */
    public static Path directory() { return NativeLibrary.directory(); }

    /**
     * Backend name (cpu, cuda, cuda-emu) to whether its plugin is present beside the core library, with
     * its file or the reason it is absent. Whether a present plugin can run is decided when a device
     * opens ({@link Device#open}).
     */
    public static Map<String, String> files() { return NativeLibrary.backendFiles(); }

    /** Whether the plugin of {@code name} (cuda, cuda-emu) was built and shipped. */
    public static boolean present(String name) {
        String s = files().get(name);
        return s != null && s.startsWith("present");
    }
}
