package org.jprune.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One benchmark summary as markdown (tables per section) and JSON (machine facts + one object per
 * row), written side by side: the CPU suite (BenchMain) and the GPU suite (GpuBench) share it.
 */
final class Report {
    final StringBuilder md = new StringBuilder();
    final Map<String, Object> machine = new LinkedHashMap<>();
    final List<Map<String, Object>> rows = new ArrayList<>();
    private Path autosaveDir;
    private String autosaveStem;

    /**
     * Rewrites the summary under dir after every row, so a run cut off by its time box (the GPU
     * machine's lease) still leaves every row it measured.
     */
    void autosave(Path dir, String stem) {
        autosaveDir = dir;
        autosaveStem = stem;
    }

    private void save() {
        if (autosaveDir == null) return;
        try {
            writeQuietly(autosaveDir, autosaveStem);
        } catch (IOException e) {
            System.err.println("autosave failed: " + e.getMessage());
        }
    }

    void section(String title, String intro, String... header) {
        md.append("\n## ").append(title).append("\n\n");
        if (!intro.isEmpty()) md.append(intro).append("\n\n");
        md.append("| ").append(String.join(" | ", header)).append(" |\n|");
        for (int i = 0; i < header.length; i++) md.append("---|");
        md.append('\n');
        System.out.println("\n== " + title);
    }

    void row(String section, Map<String, Object> values) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("section", section);
        r.putAll(values);
        rows.add(r);
        StringBuilder line = new StringBuilder("|");
        for (Object v : values.values()) line.append(' ').append(fmt(v)).append(" |");
        md.append(line).append('\n');
        System.out.println(line);
        save();
    }

    /** A row that goes to the JSON only (summaries also written as prose). */
    void data(Map<String, Object> values) {
        rows.add(values);
        save();
    }

    /** Machine facts as a bullet list under the title. */
    void header(String title, String madeBy) {
        md.append("# ").append(title).append("\n\n").append(madeBy).append("\n\n");
        for (var e : machine.entrySet()) if (!e.getKey().equals("command")) md.append("- ").append(e.getKey()).append(": ").append(e.getValue()).append('\n');
    }

    /** stem, or stem-2, stem-3, ... : the first whose .md and .json are both absent (results never overwrite one another). */
    static String freeStem(Path dir, String stem) {
        String s = stem;
        for (int i = 2; Files.exists(dir.resolve(s + ".md")) || Files.exists(dir.resolve(s + ".json")); i++) s = stem + "-" + i;
        return s;
    }

    void write(Path dir, String stem) throws IOException {
        writeQuietly(dir, stem);
        System.out.println("\nwrote " + dir.resolve(stem + ".md") + " and .json");
    }

    private void writeQuietly(Path dir, String stem) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(stem + ".md"), md.toString());
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("machine", machine);
        json.put("rows", rows);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(dir.resolve(stem + ".json").toFile(), json);
    }

    static String fmt(Object v) {
        if (v instanceof Double d) return Math.abs(d) >= 100 ? String.format(Locale.ROOT, "%.0f", d) : String.format(Locale.ROOT, "%.3g", d);
        return String.valueOf(v);
    }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }
}
