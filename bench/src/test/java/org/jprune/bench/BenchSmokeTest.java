package org.jprune.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark summary runs end to end on tiny sizes and writes both files (numbers not judged here). */
class BenchSmokeTest {
    @TempDir Path dir;

    @Test
    void smokeRunWritesMarkdownAndJson() throws Exception {
        BenchMain.main(new String[] {"cpu", "--smoke", "--out", dir.toString()});
        Path md;
        try (var files = Files.list(dir)) {
            md = files.filter(p -> p.toString().endsWith("-smoke.md")).findFirst().orElseThrow();
        }
        String text = Files.readString(md);
        for (String section : new String[] {"SGEMM", "conv2d forward + backward", "Channel-sparse", "CSR", "Channel-mask"})
            assertTrue(text.contains(section), "missing section " + section);
        JsonNode json = new ObjectMapper().readTree(Files.readString(Path.of(md.toString().replace(".md", ".json"))));
        assertTrue(json.path("rows").size() > 10, json.toString());
        assertTrue(json.path("machine").path("cpu").isTextual());
        for (JsonNode r : json.path("rows"))
            if (r.has("ours_gflops")) assertTrue(r.path("ours_gflops").asDouble() > 0, r.toString());
    }
}
