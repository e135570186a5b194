package org.jprune.bench;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * The CPU SGEMM baseline ("kernel 0"): Debian's OpenBLAS, loaded at run time through FFM, only in
 * the benchmarks (the product never links a BLAS). Absent library = no baseline rows, with a reason.
 */
public final class OpenBlas {
    private static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;
    private final MethodHandle sgemm, setThreads, coreName, config;

    private OpenBlas(SymbolLookup lib) {
        Linker l = Linker.nativeLinker();
        sgemm = l.downcallHandle(lib.find("cblas_sgemm").orElseThrow(), FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT));
        setThreads = l.downcallHandle(lib.find("openblas_set_num_threads").orElseThrow(), FunctionDescriptor.ofVoid(JAVA_INT));
        coreName = l.downcallHandle(lib.find("openblas_get_corename").orElseThrow(), FunctionDescriptor.of(ADDRESS));
        config = l.downcallHandle(lib.find("openblas_get_config").orElseThrow(), FunctionDescriptor.of(ADDRESS));
    }

    /** OpenBLAS if libopenblas.so.0 can be loaded; the reason otherwise. */
    public static Optional<OpenBlas> load(StringBuilder why) {
        for (String name : new String[] {"libopenblas.so.0", "libopenblas.so"}) {
            try {
                return Optional.of(new OpenBlas(SymbolLookup.libraryLookup(name, Arena.global())));
            } catch (IllegalArgumentException | java.util.NoSuchElementException e) {
                why.setLength(0);
                why.append(name).append(": ").append(e.getMessage());
            }
        }
        return Optional.empty();
    }

    public void setThreads(int n) {
        try { setThreads.invokeExact(n); } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    public String coreName() {
        try { return ((MemorySegment) coreName.invokeExact()).reinterpret(256).getString(0); } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    public String config() {
        try { return ((MemorySegment) config.invokeExact()).reinterpret(512).getString(0); } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    public void sgemm(boolean ta, boolean tb, int m, int n, int k, float alpha, MemorySegment a, int lda, MemorySegment b, int ldb,
                      float beta, MemorySegment c, int ldc) {
        try {
            sgemm.invokeExact(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
