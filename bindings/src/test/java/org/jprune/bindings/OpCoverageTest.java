package org.jprune.bindings;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Every function of jprune.h is bound, and every op of it is implemented by the CPU backend. */
class OpCoverageTest {
    /** Functions of the header that are not backend ops (the runtime answers them itself). */
    static final Set<String> RUNTIME = Set.of("jp_abi_version", "jp_last_error", "jp_ctx_create", "jp_ctx_destroy",
            "jp_ctx_set_threads", "jp_ctx_device", "jp_ctx_describe", "jp_cpu_isa_supported", "jp_cpu_isa", "jp_cpu_set_isa",
            "jp_op_count", "jp_op_name", "jp_ctx_implements", "jp_noop", "jp_ctx_set_option", "jp_set_call_threads", "jp_cpu_team_stats", "jp_cpu_set_adaptive", "jp_cpu_pin_limit");

    static List<String> headerFunctions() throws Exception {
        String h = Files.readString(Path.of("..", "native", "include", "jprune.h"));
        Matcher m = Pattern.compile("JP_API [^(;]*?\\b(jp_\\w+)\\(").matcher(h);
        List<String> out = new ArrayList<>();
        while (m.find()) out.add(m.group(1));
        return out;
    }

    static String cstr(MemorySegment s) { return s.reinterpret(256).getString(0); }

    @Test
    void everyHeaderFunctionIsBoundAndEveryOpImplementedOnCpu() throws Exception {
        List<String> fns = headerFunctions();
        assertTrue(fns.size() > 40, "parsed " + fns.size() + " functions from jprune.h");
        Set<String> bound = new TreeSet<>();
        for (Method m : jprune_h.class.getDeclaredMethods())
            if (Modifier.isPublic(m.getModifiers()) && m.getName().startsWith("jp_") && !m.getName().contains("$")) bound.add(m.getName());
        assertEquals(new TreeSet<>(fns), bound, "generated bindings vs header");

        Set<String> ops = new LinkedHashSet<>();
        for (int i = 0; i < jprune_h.jp_op_count(); i++) ops.add("jp_" + cstr(jprune_h.jp_op_name(i)));
        Set<String> expectedOps = new LinkedHashSet<>(fns);
        expectedOps.removeAll(RUNTIME);
        assertEquals(expectedOps, ops, "backend table (ops.def) vs header");

        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            assertEquals(0, jprune_h.jp_ctx_create(jprune_h.JP_DEVICE_CPU(), 0, out));
            MemorySegment ctx = out.get(ADDRESS, 0);
            List<String> missing = new ArrayList<>();
            for (int i = 0; i < jprune_h.jp_op_count(); i++)
                if (jprune_h.jp_ctx_implements(ctx, i) == 0) missing.add(cstr(jprune_h.jp_op_name(i)));
            assertEquals(List.of(), missing, "ops the CPU backend lacks");
            assertEquals(0, jprune_h.jp_ctx_destroy(ctx));
        }
    }

    @Test
    void runtimeBasics() {
        assertEquals(jprune_h.JP_ABI_VERSION(), jprune_h.jp_abi_version());
        assertEquals(42, jprune_h.jp_noop(41));
        assertTrue(NativeLibrary.shippedLibraries().contains("libjprune.so"));
        assertTrue(NativeLibrary.backendFiles().get("cpu").startsWith("built in"));
        // a bad ISA is refused with a message naming the function
        assertEquals(jprune_h.JP_ERR_INVALID(), jprune_h.jp_cpu_set_isa(99));
        assertTrue(cstr(jprune_h.jp_last_error()).startsWith("jp_cpu_set_isa:"), cstr(jprune_h.jp_last_error()));
        // unknown devices and missing plugins fail cleanly
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            assertEquals(jprune_h.JP_ERR_INVALID(), jprune_h.jp_ctx_create(7, 0, out));
            assertTrue(cstr(jprune_h.jp_last_error()).contains("unknown device 7"));
            assertEquals(MemorySegment.NULL.address(), out.get(ADDRESS, 0).address());
        }
    }
}
