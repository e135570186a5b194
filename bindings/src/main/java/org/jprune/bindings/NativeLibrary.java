package org.jprune.bindings;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Finds, unpacks and loads libjprune and reports which backends exist.
 *
 * <p>The libraries travel inside the bindings jar under {@code org/jprune/native/<platform>/}, listed
 * in {@code libs.txt}. From a jar they are unpacked once per content hash into
 * {@code ${jprune.cache}} (default {@code ~/.cache/jprune}), so two versions never overwrite each
 * other and a second JVM reuses the first one's copy; from a directory on the classpath (tests, an
 * IDE) they load in place. {@code -Djprune.library.path=DIR} loads from DIR instead. All libraries
 * land in one directory because libjprune dlopens its CUDA plugins from beside itself.
 */
public final class NativeLibrary {
    private static final String RESOURCE_DIR = "org/jprune/native/" + platform() + "/";

    private static volatile Path directory;
    private static volatile SymbolLookup lookup;

    private NativeLibrary() {}

    /** The platform name used in resource paths, e.g. {@code linux-x86_64}. */
    public static String platform() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        String o = os.contains("linux") ? "linux" : os.contains("mac") ? "macos" : os.contains("win") ? "windows" : os;
        String a = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64" : arch.equals("aarch64") ? "aarch64" : arch;
        return o + "-" + a;
    }

    /** Loads libjprune (once) and returns the lookup over its symbols. */
    public static SymbolLookup lookup() {
        SymbolLookup l = lookup;
        if (l == null) {
            synchronized (NativeLibrary.class) {
                if (lookup == null) {
                    Path dir = locate();
                    Path lib = dir.resolve("libjprune.so");
                    if (!Files.isRegularFile(lib)) {
                        throw new UnsatisfiedLinkError("libjprune.so not found in " + dir);
                    }
                    // global arena: the library stays mapped for the life of the process, as the
                    // generated method handles point into it
                    lookup = SymbolLookup.libraryLookup(lib, Arena.global());
                    directory = dir;
                }
                l = lookup;
            }
        }
        return l;
    }

    /** The directory the libraries were loaded from. */
    public static Path directory() {
        lookup();
        return directory;
    }

    /** Names of the libraries shipped for this platform ({@code libs.txt}). */
    public static List<String> shippedLibraries() {
        try (InputStream in = resource("libs.txt")) {
            if (in == null) return List.of();
            List<String> out = new ArrayList<>();
            for (String s : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\\R")) {
                if (!s.isBlank()) out.add(s.trim());
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Which backend plugins are present beside libjprune, with the reason where one is not. Whether a
     * present plugin can run (driver, GPU) is decided when a context is created.
     */
    public static Map<String, String> backendFiles() {
        Path dir = directory();
        Map<String, String> out = new LinkedHashMap<>();
        out.put("cpu", "built in: " + dir.resolve("libjprune.so"));
        for (String[] b : new String[][] {{"cuda", "libjprune_cuda.so"}, {"cuda-emu", "libjprune_cudaemu.so"}}) {
            Path p = dir.resolve(b[1]);
            out.put(b[0], Files.isRegularFile(p) ? "present: " + p
                    : "absent: " + b[1] + " was not built (no nvcc or the CUDA backend is not part of this build)");
        }
        return out;
    }

    private static InputStream resource(String name) {
        return NativeLibrary.class.getClassLoader().getResourceAsStream(RESOURCE_DIR + name);
    }

    private static Path locate() {
        String override = System.getProperty("jprune.library.path");
        if (override != null && !override.isBlank()) return Path.of(override);
        URL url = NativeLibrary.class.getClassLoader().getResource(RESOURCE_DIR + "libjprune.so");
        if (url == null) {
            throw new UnsatisfiedLinkError("no native libraries for platform " + platform()
                    + " in the bindings jar (resource " + RESOURCE_DIR + "libjprune.so); build with `mvn package` on this platform");
        }
        if ("file".equals(url.getProtocol())) {
            try {
                return Path.of(url.toURI()).getParent();
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
        return unpack();
    }

    private static Path unpack() {
        List<String> libs = shippedLibraries();
        try {
            Map<String, byte[]> contents = new LinkedHashMap<>();
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String lib : libs) {
                try (InputStream in = resource(lib)) {
                    if (in == null) throw new UnsatisfiedLinkError("libs.txt lists " + lib + " but the jar lacks it");
                    byte[] bytes = in.readAllBytes();
                    contents.put(lib, bytes);
                    sha.update(lib.getBytes(StandardCharsets.UTF_8));
                    sha.update(bytes);
                }
            }
            String hash = HexFormat.of().formatHex(sha.digest()).substring(0, 16);
            Path cache = Path.of(System.getProperty("jprune.cache",
                    Path.of(System.getProperty("user.home"), ".cache", "jprune").toString()));
            Path target = cache.resolve(platform() + "-" + hash);
            if (Files.isRegularFile(target.resolve("libjprune.so"))) return target;
            Files.createDirectories(cache);
            // unpack into a private directory, then rename: a concurrent JVM sees all or nothing
            Path tmp = Files.createTempDirectory(cache, ".unpack-");
            for (var e : contents.entrySet()) Files.write(tmp.resolve(e.getKey()), e.getValue());
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException | java.nio.file.DirectoryNotEmptyException e) {
                // another process won the race; its copy has the same content hash
                deleteTree(tmp);
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack native libraries", e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) Files.deleteIfExists(p);
        }
        Files.deleteIfExists(dir);
    }
}
