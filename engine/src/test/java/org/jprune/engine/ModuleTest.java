package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The engine's module boundary: what it exports, and that no exported signature leaks an internal type. */
class ModuleTest {
    private static Path classes() throws Exception {
        return Path.of(Tensor.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static ModuleDescriptor descriptor() throws Exception {
        return ModuleFinder.of(classes()).findAll().iterator().next().descriptor();
    }

    @Test
    void exportsTheApiNotTheInternals() throws Exception {
        ModuleDescriptor d = descriptor();
        assertEquals("org.jprune.engine", d.name());
        Set<String> exported = d.exports().stream().map(ModuleDescriptor.Exports::source).collect(Collectors.toSet());
        assertEquals(Set.of("org.jprune.engine", "org.jprune.engine.io", "org.jprune.engine.nn", "org.jprune.engine.ops",
                "org.jprune.engine.optim", "org.jprune.engine.prune"), exported);
        assertTrue(d.packages().contains("org.jprune.engine.internal"), d.packages().toString());
        // the bindings are used, not handed on: a module reading the engine does not read them
        for (ModuleDescriptor.Requires r : d.requires())
            if (r.name().equals("org.jprune.bindings"))
                assertFalse(r.modifiers().contains(ModuleDescriptor.Requires.Modifier.TRANSITIVE), r.toString());
    }

    /** Every public or protected member of every public class in an exported package names exported types only (no internals, bindings or java.lang.foreign types). */
    @Test
    void noExportedSignatureNamesAnInternalType() throws Exception {
        Path root = classes();
        List<String> leaks = new ArrayList<>();
        int checked = 0;
        for (String pkg : descriptor().exports().stream().map(ModuleDescriptor.Exports::source).toList()) {
            try (Stream<Path> files = Files.list(root.resolve(pkg.replace('.', '/')))) {
                for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                    Class<?> c = Class.forName(pkg + "." + f.getFileName().toString().replace(".class", ""), false, Tensor.class.getClassLoader());
                    if (!Modifier.isPublic(c.getModifiers()) || !visible(c)) continue;
                    checked++;
                    for (Method m : c.getDeclaredMethods()) {
                        if (!Modifier.isPublic(m.getModifiers()) && !Modifier.isProtected(m.getModifiers())) continue;
                        List<Type> types = new ArrayList<>(List.of(m.getGenericParameterTypes()));
                        types.add(m.getGenericReturnType());
                        for (Type t : types)
                            if (internal(t)) leaks.add(c.getName() + "." + m.getName() + " names " + t.getTypeName());
                    }
                    for (var k : c.getDeclaredConstructors())
                        if (Modifier.isPublic(k.getModifiers()))
                            for (Type t : k.getGenericParameterTypes())
                                if (internal(t)) leaks.add(c.getName() + ".<init> names " + t.getTypeName());
                    for (var fl : c.getDeclaredFields())
                        if (Modifier.isPublic(fl.getModifiers()) && internal(fl.getGenericType()))
                            leaks.add(c.getName() + "." + fl.getName() + " is a " + fl.getGenericType().getTypeName());
                }
            }
        }
        assertTrue(checked > 40, "checked " + checked + " public classes");
        assertTrue(leaks.isEmpty(), String.join("\n", leaks));
    }

    private static boolean visible(Class<?> c) {
        for (Class<?> o = c; o != null; o = o.getEnclosingClass()) if (!Modifier.isPublic(o.getModifiers())) return false;
        return true;
    }

    private static boolean internal(Type t) {
        String n = t.getTypeName();
        return n.contains("org.jprune.engine.internal.") || n.contains("org.jprune.bindings.") || n.contains("java.lang.foreign.");
    }
}
