import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Generates Panama bindings in jextract's shape from native/include/jprune.h.
 *
 * <p>jextract is not in any registry this project can reach, so the build runs this generator over
 * the header's deliberately restricted C subset; {@code scripts/jextract.sh} produces the same package
 * with the real jextract. The subset, and nothing else (anything else fails the build with file and
 * line):
 * <ul>
 *   <li>comments; {@code #include <...>}; include guards; {@code #ifdef __cplusplus} and
 *       {@code #if defined(_WIN32)} blocks (taken as false); {@code #else}/{@code #endif};
 *   <li>{@code #define NAME <integer>} (a constant) and {@code #define JP_API ...} (the export
 *       marker, dropped from prototypes);
 *   <li>{@code typedef <scalar> name;}, {@code typedef struct tag *name;} (an opaque handle);
 *   <li>{@code typedef struct tag { <type> field; ... } name;} one field per declaration;
 *   <li>{@code JP_API <type> name(<params>);} where every type is void, int32_t, int64_t, float,
 *       double, a typedef above, or any pointer (const is ignored).
 * </ul>
 * Usage: {@code java Jextract.java <header> <output dir> <package>}
 */
public class Jextract {

    record Field(String name, String type) {}
    record Struct(String name, List<Field> fields) {}
    record Param(String name, String type) {}
    record Function(String name, String ret, List<Param> params) {}

    static final Map<String, String> SCALARS = Map.of(
            "int32_t", "int", "int64_t", "long", "float", "float", "double", "double", "void", "void");
    static final Map<String, String> LAYOUTS = Map.of(
            "int", "C_INT", "long", "C_LONG", "float", "C_FLOAT", "double", "C_DOUBLE", "MemorySegment", "C_POINTER");

    final Path header;
    final Map<String, Long> constants = new LinkedHashMap<>();
    final Map<String, String> aliases = new LinkedHashMap<>();   // typedef name -> Java type
    final Map<String, Struct> structs = new LinkedHashMap<>();
    final List<Function> functions = new ArrayList<>();

    Jextract(Path header) { this.header = header; }

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            System.err.println("usage: java Jextract.java <header> <output dir> <package>");
            System.exit(2);
        }
        Jextract g = new Jextract(Path.of(args[0]));
        try {
            g.parse(Files.readAllLines(g.header));
        } catch (IllegalArgumentException e) {
            System.err.println("Jextract: " + e.getMessage());
            System.exit(1);
        }
        Path out = Path.of(args[1]).resolve(args[2].replace('.', '/'));
        Files.createDirectories(out);
        g.writeHeaderClass(out, args[2]);
        for (Struct s : g.structs.values()) g.writeStruct(out, args[2], s);
        System.out.printf("Jextract: %s -> %s (%d functions, %d structs, %d constants)%n", g.header, out,
                g.functions.size(), g.structs.size(), g.constants.size());
    }

    // ---------------------------------------------------------------- parsing

    private IllegalArgumentException error(int line, String msg) {
        return new IllegalArgumentException(header + ":" + line + ": " + msg);
    }

    void parse(List<String> lines) {
        StringBuilder code = new StringBuilder();
        List<Integer> lineOf = new ArrayList<>(); // line number of each char in code
        boolean inComment = false;
        int skipDepth = 0, depth = 0;
        for (int ln = 1; ln <= lines.size(); ln++) {
            String line = lines.get(ln - 1);
            StringBuilder clean = new StringBuilder();
            for (int i = 0; i < line.length(); i++) {
                if (inComment) {
                    if (line.startsWith("*/", i)) { inComment = false; i++; }
                } else if (line.startsWith("/*", i)) { inComment = true; i++; }
                else if (line.startsWith("//", i)) break;
                else clean.append(line.charAt(i));
            }
            String t = clean.toString().trim();
            if (t.startsWith("#")) {
                String d = t.substring(1).trim();
                if (d.startsWith("if")) {
                    depth++;
                    boolean falseBlock = d.equals("ifdef __cplusplus") || d.equals("if defined(_WIN32)");
                    if (skipDepth == 0 && falseBlock) skipDepth = depth;
                    else if (skipDepth == 0 && !d.matches("ifndef \\w+")) throw error(ln, "unsupported conditional: #" + d);
                } else if (d.equals("else")) {
                    if (skipDepth == depth) skipDepth = 0;
                    else if (skipDepth == 0) skipDepth = depth;
                } else if (d.equals("endif")) {
                    if (skipDepth == depth) skipDepth = 0;
                    depth--;
                } else if (skipDepth == 0) {
                    directive(ln, d);
                }
                continue;
            }
            if (skipDepth != 0 || t.isEmpty()) continue;
            for (char c : t.toCharArray()) { code.append(c); lineOf.add(ln); }
            code.append(' ');
            lineOf.add(ln);
        }
        // split into top-level declarations at ';' outside braces
        int brace = 0, start = 0;
        for (int i = 0; i < code.length(); i++) {
            char c = code.charAt(i);
            if (c == '{') brace++;
            else if (c == '}') brace--;
            else if (c == ';' && brace == 0) {
                String decl = code.substring(start, i).trim().replaceAll("\\s+", " ");
                int ln = lineOf.get(Math.min(start + (code.substring(start, i).length() - code.substring(start, i).stripLeading().length()), lineOf.size() - 1));
                if (!decl.isEmpty()) declaration(ln, decl);
                start = i + 1;
            }
        }
        if (!code.substring(start).isBlank()) throw error(lines.size(), "trailing text without ';': " + code.substring(start).trim());
    }

    private static final Pattern DEFINE_INT = Pattern.compile("define (\\w+) (-?\\d+)");

    private void directive(int ln, String d) {
        Matcher m = DEFINE_INT.matcher(d);
        if (m.matches()) { constants.put(m.group(1), Long.parseLong(m.group(2))); return; }
        if (d.matches("include <\\w+\\.h>") || d.matches("define \\w+_H") || d.startsWith("define JP_API ")) return;
        throw error(ln, "unsupported directive: #" + d);
    }

    private static final Pattern TYPEDEF_STRUCT = Pattern.compile("typedef struct (\\w+) \\{(.*)\\} (\\w+)");
    private static final Pattern TYPEDEF_HANDLE = Pattern.compile("typedef struct \\w+ ?\\* ?(\\w+)");
    private static final Pattern TYPEDEF_SCALAR = Pattern.compile("typedef (\\w+) (\\w+)");
    private static final Pattern FUNCTION = Pattern.compile("JP_API (.+?)\\b(\\w+) ?\\((.*)\\)");

    private void declaration(int ln, String decl) {
        Matcher m;
        if ((m = TYPEDEF_STRUCT.matcher(decl)).matches()) {
            if (!m.group(1).equals(m.group(3))) throw error(ln, "struct tag and typedef name differ: " + decl);
            List<Field> fields = new ArrayList<>();
            for (String f : m.group(2).split(";")) {
                if (f.isBlank()) continue;
                if (f.contains(",") || f.contains("[")) throw error(ln, "one scalar field per declaration: " + f.trim());
                Param p = param(ln, f.trim());
                fields.add(new Field(p.name(), p.type()));
            }
            structs.put(m.group(3), new Struct(m.group(3), fields));
        } else if ((m = TYPEDEF_HANDLE.matcher(decl)).matches()) {
            aliases.put(m.group(1), "MemorySegment");
        } else if ((m = TYPEDEF_SCALAR.matcher(decl)).matches()) {
            aliases.put(m.group(2), javaType(ln, m.group(1)));
        } else if ((m = FUNCTION.matcher(decl)).matches()) {
            String ret = javaType(ln, m.group(1).trim());
            List<Param> params = new ArrayList<>();
            String ps = m.group(3).trim();
            if (!ps.equals("void") && !ps.isEmpty()) {
                for (String p : ps.split(",")) params.add(param(ln, p.trim()));
            }
            functions.add(new Function(m.group(2), ret, params));
        } else if (decl.equals("extern \"C\" {") || decl.equals("}")) {
            // only inside __cplusplus blocks, which are skipped
            throw error(ln, "unexpected C++ linkage block outside #ifdef __cplusplus");
        } else {
            throw error(ln, "not in the supported C subset: " + decl);
        }
    }

    private Param param(int ln, String p) {
        Matcher m = Pattern.compile("(.*?)(\\w+)$").matcher(p);
        if (!m.matches() || m.group(1).isBlank()) throw error(ln, "parameter needs a type and a name: " + p);
        return new Param(m.group(2), javaType(ln, m.group(1).trim()));
    }

    private String javaType(int ln, String c) {
        String t = c.replace("const ", "").replace(" const", "").trim();
        if (t.endsWith("*")) return "MemorySegment";
        if (SCALARS.containsKey(t)) return SCALARS.get(t);
        if (aliases.containsKey(t)) return aliases.get(t);
        if (structs.containsKey(t)) throw error(ln, "structs are passed by pointer only: " + c);
        throw error(ln, "unsupported type: " + c);
    }

    // ---------------------------------------------------------------- output

    private static String layout(String javaType) { return LAYOUTS.get(javaType); }

    private static String banner() {
        return "// Generated by bindings/src/build/Jextract.java from native/include/jprune.h. Do not edit.\n";
    }

    void writeHeaderClass(Path out, String pkg) throws IOException {
        StringBuilder b = new StringBuilder(banner());
        b.append("package ").append(pkg).append(";\n\n");
        b.append("import java.lang.foreign.*;\nimport java.lang.invoke.MethodHandle;\n\n");
        b.append("@SuppressWarnings({\"unused\", \"checkstyle:all\"})\n");
        b.append("public final class jprune_h {\n");
        b.append("    private jprune_h() {}\n\n");
        b.append("    public static final ValueLayout.OfInt C_INT = ValueLayout.JAVA_INT;\n");
        b.append("    public static final ValueLayout.OfLong C_LONG = ValueLayout.JAVA_LONG;\n");
        b.append("    public static final ValueLayout.OfFloat C_FLOAT = ValueLayout.JAVA_FLOAT;\n");
        b.append("    public static final ValueLayout.OfDouble C_DOUBLE = ValueLayout.JAVA_DOUBLE;\n");
        b.append("    public static final AddressLayout C_POINTER = ValueLayout.ADDRESS\n");
        b.append("            .withTargetLayout(MemoryLayout.sequenceLayout(java.lang.Long.MAX_VALUE, ValueLayout.JAVA_BYTE));\n\n");
        b.append("    static final SymbolLookup SYMBOL_LOOKUP = NativeLibrary.lookup();\n\n");
        b.append("    static MemorySegment findOrThrow(String symbol) {\n");
        b.append("        return SYMBOL_LOOKUP.find(symbol).orElseThrow(() -> new UnsatisfiedLinkError(\"unresolved symbol: \" + symbol));\n");
        b.append("    }\n\n");
        for (var c : constants.entrySet()) {
            boolean isInt = c.getValue() >= Integer.MIN_VALUE && c.getValue() <= Integer.MAX_VALUE;
            b.append("    private static final ").append(isInt ? "int " : "long ").append(c.getKey()).append(" = ")
                    .append(c.getValue()).append(isInt ? "" : "L").append(";\n");
            b.append("    /** {@snippet lang=c : #define ").append(c.getKey()).append(' ').append(c.getValue()).append(" } */\n");
            b.append("    public static ").append(isInt ? "int " : "long ").append(c.getKey()).append("() { return ")
                    .append(c.getKey()).append("; }\n\n");
        }
        for (Function f : functions) writeFunction(b, f);
        b.append("}\n");
        Files.writeString(out.resolve("jprune_h.java"), b.toString());
    }

    private void writeFunction(StringBuilder b, Function f) {
        String n = f.name();
        List<String> layouts = new ArrayList<>();
        for (Param p : f.params()) layouts.add(layout(p.type()));
        String desc = f.ret().equals("void")
                ? "FunctionDescriptor.ofVoid(" + String.join(", ", layouts) + ")"
                : "FunctionDescriptor.of(" + layout(f.ret()) + (layouts.isEmpty() ? "" : ", ") + String.join(", ", layouts) + ")";
        b.append("    private static class ").append(n).append(" {\n");
        b.append("        public static final FunctionDescriptor DESC = ").append(desc).append(";\n");
        b.append("        public static final MemorySegment ADDR = findOrThrow(\"").append(n).append("\");\n");
        b.append("        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);\n");
        b.append("    }\n\n");
        b.append("    public static FunctionDescriptor ").append(n).append("$descriptor() { return ").append(n).append(".DESC; }\n");
        b.append("    public static MethodHandle ").append(n).append("$handle() { return ").append(n).append(".HANDLE; }\n");
        b.append("    public static MemorySegment ").append(n).append("$address() { return ").append(n).append(".ADDR; }\n\n");
        List<String> decl = new ArrayList<>(), args = new ArrayList<>();
        for (Param p : f.params()) { decl.add(p.type() + " " + p.name()); args.add(p.name()); }
        b.append("    public static ").append(f.ret()).append(' ').append(n).append('(').append(String.join(", ", decl)).append(") {\n");
        b.append("        var mh$ = ").append(n).append(".HANDLE;\n");
        b.append("        try {\n");
        b.append("            ").append(f.ret().equals("void") ? "" : "return (" + f.ret() + ") ").append("mh$.invokeExact(")
                .append(String.join(", ", args)).append(");\n");
        b.append("        } catch (Error | RuntimeException ex$) {\n            throw ex$;\n");
        b.append("        } catch (Throwable ex$) {\n            throw new AssertionError(\"should not reach here\", ex$);\n        }\n");
        b.append("    }\n\n");
    }

    void writeStruct(Path out, String pkg, Struct s) throws IOException {
        StringBuilder b = new StringBuilder(banner());
        b.append("package ").append(pkg).append(";\n\n");
        b.append("import java.lang.foreign.*;\nimport static java.lang.foreign.ValueLayout.*;\n\n");
        b.append("public final class ").append(s.name()).append(" {\n");
        b.append("    private ").append(s.name()).append("() {}\n\n");
        // natural alignment with explicit padding, as the C compiler lays it out
        List<String> members = new ArrayList<>();
        long offset = 0, maxAlign = 1;
        List<Long> offsets = new ArrayList<>();
        for (Field f : s.fields()) {
            long size = switch (f.type()) { case "int", "float" -> 4; default -> 8; };
            maxAlign = Math.max(maxAlign, size);
            if (offset % size != 0) {
                long pad = size - offset % size;
                members.add("MemoryLayout.paddingLayout(" + pad + ")");
                offset += pad;
            }
            offsets.add(offset);
            members.add("jprune_h." + layout(f.type()) + ".withName(\"" + f.name() + "\")");
            offset += size;
        }
        if (offset % maxAlign != 0) members.add("MemoryLayout.paddingLayout(" + (maxAlign - offset % maxAlign) + ")");
        b.append("    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(\n        ")
                .append(String.join(",\n        ", members)).append(").withName(\"").append(s.name()).append("\");\n\n");
        b.append("    public static GroupLayout layout() { return $LAYOUT; }\n");
        b.append("    public static long sizeof() { return $LAYOUT.byteSize(); }\n");
        b.append("    public static MemorySegment allocate(SegmentAllocator allocator) { return allocator.allocate($LAYOUT); }\n\n");
        for (int i = 0; i < s.fields().size(); i++) {
            Field f = s.fields().get(i);
            String jt = f.type(), vl = switch (jt) {
                case "int" -> "JAVA_INT"; case "long" -> "JAVA_LONG"; case "float" -> "JAVA_FLOAT";
                case "double" -> "JAVA_DOUBLE"; default -> "ADDRESS"; };
            b.append("    public static final long ").append(f.name()).append("$OFFSET = ").append(offsets.get(i)).append(";\n");
            b.append("    public static ").append(jt).append(' ').append(f.name()).append("(MemorySegment struct) { return struct.get(")
                    .append(vl).append(", ").append(f.name()).append("$OFFSET); }\n");
            b.append("    public static void ").append(f.name()).append("(MemorySegment struct, ").append(jt)
                    .append(" fieldValue) { struct.set(").append(vl).append(", ").append(f.name()).append("$OFFSET, fieldValue); }\n\n");
        }
        b.append("}\n");
        Files.writeString(out.resolve(s.name() + ".java"), b.toString());
    }
}
