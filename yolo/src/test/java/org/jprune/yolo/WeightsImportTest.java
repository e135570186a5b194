package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.yolo.cli.Main;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.train.Checkpoint;
import org.jprune.yolo.train.WeightsImport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An Ultralytics YOLOv5 state dict (as safetensors.torch.save_file writes it: Ultralytics' tensor names,
 * the Detect anchors buffer in grid units, batch norms' num_batches_tracked as I64) becomes a jprune
 * checkpoint whose model computes exactly what the source model does; weights of another architecture,
 * a jprune checkpoint and a PyTorch zip are refused naming why.
 */
class WeightsImportTest {
    @TempDir Path dir;

    /** The state dict of m as Ultralytics' save would give it: plain names, the anchors buffer, an I64 counter per batch norm. */
    static void writeUltralytics(Path file, YoloModel m, float[] anchorsGrid) throws IOException {
        Map<String, float[]> f32 = new LinkedHashMap<>();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        m.graph().stateDict().forEach((k, v) -> { f32.put(k, v.toArray()); shapes.put(k, v.shape()); });
        String head = "model." + (m.config().rows().size() - 1);
        f32.put(head + ".anchors", anchorsGrid);
        shapes.put(head + ".anchors", new int[] {3, 3, 2});
        ObjectNode h = new ObjectMapper().createObjectNode();
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (var e : f32.entrySet()) {
            ByteBuffer b = ByteBuffer.allocate(e.getValue().length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : e.getValue()) b.putFloat(v);
            ObjectNode t = h.putObject(e.getKey());
            t.put("dtype", "F32");
            var sh = t.putArray("shape");
            for (int d : shapes.get(e.getKey())) sh.add(d);
            t.putArray("data_offsets").add(data.size()).add(data.size() + b.capacity());
            data.write(b.array());
        }
        ObjectNode t = h.putObject("model.0.bn.num_batches_tracked");
        t.put("dtype", "I64");
        t.putArray("shape");
        t.putArray("data_offsets").add(data.size()).add(data.size() + 8);
        data.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(12345).array());
        byte[] json = h.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length);
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.write(len.array());
        all.write(json);
        all.write(data.toByteArray());
        Files.write(file, all.toByteArray());
    }

    @Test
    void anUltralyticsStateDictBecomesTheSameModel() throws Exception {
        List<float[]> anchors = List.of(new float[] {12, 14, 19, 30, 33, 25}, new float[] {30, 61, 62, 45, 59, 119}, new float[] {116, 90, 156, 198, 373, 326});
        ModelConfig cfg = ModelConfig.load("yolov5n").withClasses(3).withAnchors(anchors);
        Path sd = dir.resolve("best.safetensors");
        float[] x = Tensor.randnArray(3, 1f, 2 * 3 * 64 * 64);
        float[][] want;
        try (YoloModel src = YoloModel.build(cfg, Device.cpu(), 11)) {
            // batch-norm statistics away from their defaults, so that they are checked too
            for (var e : src.graph().stateDict().entrySet())
                if (e.getKey().endsWith("running_mean") || e.getKey().endsWith("running_var")) {
                    float[] v = Tensor.randnArray(e.getKey().hashCode(), 0.1f, e.getValue().toArray().length);
                    for (int i = 0; i < v.length; i++) v[i] = e.getKey().endsWith("var") ? 1 + Math.abs(v[i]) : v[i];
                    e.getValue().copyFrom(v);
                }
            int[] strides = src.strides();
            float[] grid = new float[18];
            for (int l = 0; l < 3; l++) for (int i = 0; i < 6; i++) grid[l * 6 + i] = anchors.get(l)[i] / (float) strides[l];
            writeUltralytics(sd, src, grid);
            try (Tensor in = Tensor.of(Device.cpu(), x, 2, 3, 64, 64)) {
                want = src.forwardRaw(in);
            }
        }
        Path out = dir.resolve("imported.safetensors");
        WeightsImport.Result r = WeightsImport.run(sd, "yolov5n", List.of("a", "b", "c"), 320, out);
        assertEquals(3, r.classes());
        Checkpoint ck = Checkpoint.read(out);
        assertEquals(List.of("a", "b", "c"), ck.names());
        assertEquals(320, ck.imageSize());
        try (YoloModel m = ck.buildModel(); Tensor in = Tensor.of(Device.cpu(), x, 2, 3, 64, 64)) {
            float[][] got = m.forwardRaw(in);
            for (int l = 0; l < want.length; l++) assertArrayEquals(want[l], got[l], "level " + l + ": the imported model computes what the source did");
            assertArrayEquals(new float[] {12, 14, 19, 30, 33, 25}, m.anchors(0));
        }
        // autoanchor's fractional sizes are kept as YOLOv5 computes them (grid units x stride in FP32)
        try (YoloModel src = YoloModel.build(ModelConfig.load("yolov5n").withClasses(3), Device.cpu(), 5)) {
            float[] grid = new float[18];
            for (int i = 0; i < 18; i++) grid[i] = 1.3f + 0.37f * i;
            writeUltralytics(dir.resolve("frac.safetensors"), src, grid);
            WeightsImport.run(dir.resolve("frac.safetensors"), "yolov5n", null, 640, dir.resolve("frac-out.safetensors"));
            try (YoloModel m = Checkpoint.read(dir.resolve("frac-out.safetensors")).buildModel()) {
                int[] st = m.strides();
                for (int l = 0; l < 3; l++)
                    for (int i = 0; i < 6; i++) assertEquals(grid[l * 6 + i] * st[l], m.anchors(l)[i], 0f, "level " + l + " value " + i);
            }
        }

        // the CLI: names from the command line, then detect with the result
        Path images = Files.createDirectories(dir.resolve("img"));
        javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(48, 40, java.awt.image.BufferedImage.TYPE_INT_RGB), "png", images.resolve("a.png").toFile());
        assertEquals(0, Main.execute("import", "-w", sd.toString(), "-m", "yolov5n", "--names", "a,b,c", "--img", "64", "-o", dir.resolve("cli.safetensors").toString()));
        assertEquals(0, Main.execute("detect", "-w", dir.resolve("cli.safetensors").toString(), "--source", images.toString(), "-o", dir.resolve("det").toString()));
        assertEquals(2, Main.execute("import", "-w", sd.toString(), "-m", "yolov5n", "--names", "a,b", "-o", dir.resolve("two.safetensors").toString()),
                "2 names for 3 classes");
        assertEquals(2, Main.execute("import", "-w", sd.toString(), "-m", "yolov5n", "-o", dir.resolve("cli.safetensors").toString()), "no overwrite");
    }

    @Test
    void otherWeightsAreRefusedNamingWhy() throws Exception {
        Path sd = dir.resolve("s.safetensors");
        try (YoloModel s = YoloModel.build(ModelConfig.load("yolov5s").withClasses(2), Device.cpu(), 1)) {
            float[] grid = new float[18];
            java.util.Arrays.fill(grid, 2.37f);
            writeUltralytics(sd, s, grid);
            IOException e = assertThrows(IOException.class, () -> WeightsImport.run(sd, "yolov5n", null, 640, dir.resolve("x.safetensors")));
            assertTrue(e.getMessage().contains("not the weights of yolov5n") && e.getMessage().contains("other shape") && e.getMessage().contains("model.0.conv.weight"),
                    e.getMessage());
            assertEquals(2, WeightsImport.run(sd, "yolov5s", null, 640, dir.resolve("s2.safetensors")).classes());
            assertEquals(List.of("class0", "class1"), Checkpoint.read(dir.resolve("s2.safetensors")).names());
            IOException again = assertThrows(IOException.class, () -> WeightsImport.run(dir.resolve("s2.safetensors"), "yolov5s", null, 640, dir.resolve("s3.safetensors")));
            assertTrue(again.getMessage().contains("already a jprune checkpoint"), again.getMessage());
        }
        // a PyTorch .pt (a zip archive) given where safetensors are read: the message says what it is
        Path pt = dir.resolve("best.pt");
        try (var z = new java.util.zip.ZipOutputStream(Files.newOutputStream(pt))) {
            z.putNextEntry(new java.util.zip.ZipEntry("archive/data.pkl"));
            z.write(new byte[] {(byte) 0x80, 2});
        }
        IOException e = assertThrows(IOException.class, () -> WeightsImport.run(pt, "yolov5s", null, 640, dir.resolve("p.safetensors")));
        assertTrue(e.getMessage().contains("zip archive") && e.getMessage().contains("jprune import"), e.getMessage());
        // through the CLI: exit 2 and one line naming the file, no stack trace
        var err = new ByteArrayOutputStream();
        java.io.PrintStream old = System.err;
        System.setErr(new java.io.PrintStream(err, true));
        int code;
        try {
            code = Main.execute("import", "-w", pt.toString(), "-m", "yolov5s", "-o", dir.resolve("p2.safetensors").toString());
        } finally {
            System.setErr(old);
        }
        assertEquals(2, code);
        assertEquals(1, err.toString().strip().lines().count(), err.toString());
        assertTrue(err.toString().contains("best.pt") && err.toString().contains("zip archive"), err.toString());
    }
}
