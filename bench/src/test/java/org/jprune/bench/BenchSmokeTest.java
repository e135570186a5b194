package org.jprune.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
        for (String section : new String[] {"SGEMM", "conv2d forward + backward", "Channel-sparse", "CSR", "Channel-mask", "under contention", "ONNX Runtime", "request threads"})
            assertTrue(text.contains(section), "missing section " + section);
        JsonNode json = new ObjectMapper().readTree(Files.readString(Path.of(md.toString().replace(".md", ".json"))));
        assertTrue(json.path("rows").size() > 10, json.toString());
        assertTrue(json.path("machine").path("cpu").isTextual());
        for (JsonNode r : json.path("rows"))
            if (r.has("ours_gflops")) assertTrue(r.path("ours_gflops").asDouble() > 0, r.toString());
    }

    /** The GPU suite's every path (native, channel-sparse, CSR, mask, YOLOv5s step) on cuda-emu at tiny sizes. */
    @Test
    void gpuSuiteRunsOnTheEmulator() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(org.jprune.bindings.NativeLibrary.backendFiles().get("cuda-emu").startsWith("present"),
                "cuda-emu plugin not built");
        BenchMain.main(new String[] {"gpu", "--smoke", "--device", "cuda-emu", "--out", dir.toString(), "--name", "emu"});
        String text = Files.readString(dir.resolve("emu.md"));
        for (String section : new String[] {"Dense conv2d", "Channel-sparse", "CSR", "Mask kernels", "YOLOv5s training step"})
            assertTrue(text.contains(section), "missing section " + section + "\n" + text);
        assertTrue(text.contains("absent (native rows only)"), "cuDNN is reported absent in emulation");
        JsonNode json = new ObjectMapper().readTree(Files.readString(dir.resolve("emu.json")));
        for (JsonNode r : json.path("rows"))
            if (r.has("img_per_s")) assertTrue(r.path("img_per_s").asDouble() > 0, r.toString());
        // the step is timed with the loss on the device and on the host, and cut into each one's phases
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (JsonNode r : json.path("rows")) {
            if (r.has("img_per_s") && r.has("loss")) seen.add("step/" + r.path("loss").asText());
            if (r.has("phase")) seen.add(r.path("loss").asText() + "/" + r.path("phase").asText());
        }
        for (String want : new String[] {"step/device", "step/host", "device/loss on the device", "host/outputs to the host", "host/loss on the host",
                                         "device/backward", "device/SGD step + zero grad"})
            assertTrue(seen.contains(want), "no " + want + " in " + seen);
        // every conv kernel is timed: FP32 v4 / v5 / v7 and TF32 v6 (cuda-emu models the tensor-core instructions)
        java.util.Set<String> maths = new java.util.HashSet<>(), convs = new java.util.HashSet<>();
        for (JsonNode r : json.path("rows")) {
            if (r.has("math")) maths.add(r.path("math").asText());
            if (r.has("img_per_s") && r.has("conv")) convs.add(r.path("conv").asText());
        }
        assertEquals(java.util.Set.of("fp32", "fp32-db", "fp32-async", "tf32"), maths);
        assertEquals(java.util.Set.of("native", "native-db", "native-async", "native-tf32"), convs);
    }
}
