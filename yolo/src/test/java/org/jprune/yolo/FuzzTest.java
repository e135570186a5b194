package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.CRC32;
import org.jprune.engine.Device;
import org.jprune.engine.io.SafeTensors;
import org.jprune.yolo.data.Images;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.model.DarknetConfig;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input, generated: seeded mutations of model YAMLs, darknet cfgs, checkpoints (tensors and the
 * pruning metadata), data YAMLs and label files, and hand-made image bombs. Every case must end
 * within 10 s either normally or with an IllegalArgumentException / IOException whose message names
 * the input; never another exception type, an OutOfMemoryError or a crash of the test JVM.
 */
class FuzzTest {
    @TempDir Path dir;
    static final Duration LIMIT = Duration.ofSeconds(10);

    /** Values that broke size arithmetic before: zero, negative, 2^31-1, 2^30+1, huge, not a number. */
    static final String[] NASTY = {"0", "-1", "2147483647", "1073741825", "100000000", "1e300", "abc", "-2147483648", "65536", "[]", "{}", "null", "3.5"};

    interface Case {
        void run() throws Exception;
    }

    /** Runs a case: clean success, or IAE / IOException naming {@code input}; anything else fails the test. */
    static void expectClean(String label, String input, Case c) {
        assertTimeoutPreemptively(LIMIT, () -> {
            try {
                c.run();
            } catch (IllegalArgumentException | IOException e) {
                String m = String.valueOf(e.getMessage());
                assertTrue(m.contains(input), label + ": the message must name " + input + ": " + m);
            } catch (Throwable t) {
                fail(label + ": " + t, t);
            }
        }, label);
    }

    static String mutate(String text, SplittableRandom r) {
        List<String> lines = new ArrayList<>(List.of(text.split("\n", -1)));
        int edits = 1 + r.nextInt(3);
        for (int e = 0; e < edits; e++) {
            int i = r.nextInt(lines.size());
            String l = lines.get(i);
            switch (r.nextInt(4)) {
                case 0 -> { // replace one number with a nasty value
                    var m = java.util.regex.Pattern.compile("-?\\d+(\\.\\d+)?").matcher(l);
                    List<int[]> spans = new ArrayList<>();
                    while (m.find()) spans.add(new int[] {m.start(), m.end()});
                    if (!spans.isEmpty()) {
                        int[] s = spans.get(r.nextInt(spans.size()));
                        lines.set(i, l.substring(0, s[0]) + NASTY[r.nextInt(NASTY.length)] + l.substring(s[1]));
                    }
                }
                case 1 -> lines.remove(i);
                case 2 -> lines.add(i, l);
                default -> lines.set(i, l.isEmpty() ? l : l.substring(0, r.nextInt(l.length())));
            }
            if (lines.isEmpty()) lines.add("");
        }
        return String.join("\n", lines);
    }

    static String builtIn(String file) throws IOException {
        return new String(FuzzTest.class.getResourceAsStream("/org/jprune/yolo/models/" + file).readAllBytes(), StandardCharsets.UTF_8);
    }

    @Test
    void mutatedModelYamlsAndCfgsBuildOrFailCleanly() throws Exception {
        Device cpu = Device.cpu();
        String yaml = builtIn("yolov5n.yaml"), cfg = builtIn("yolov4-tiny.cfg");
        SplittableRandom r = new SplittableRandom(20261202);
        for (int i = 0; i < 120; i++) {
            boolean dark = i % 3 == 2;
            String text = mutate(dark ? cfg : yaml, r);
            String name = "fuzz-" + i + (dark ? ".cfg" : ".yaml");
            expectClean(name, name, () -> {
                ModelConfig c = dark ? DarknetConfig.parse(name, text) : ModelConfig.parse(name, text);
                try (YoloModel m = YoloModel.build(c.withClasses(Math.min(c.nc(), 3)), cpu, 0)) {
                    assertTrue(m.parameterCount() > 0); // built: its shapes were checked at 256 px by the builder
                }
            });
        }
        // the reported cases, exactly
        String[][] cases = {
                {"upsample-overflow.yaml", yaml.replace("[None, 2, 'nearest']", "[None, 1073741825, 'nearest']")},
                {"nc-huge.yaml", yaml.replaceFirst("nc: \\d+", "nc: 100000000")},
                {"depth-huge.yaml", yaml.replaceFirst("depth_multiple: [0-9.]+", "depth_multiple: 100000")},
                {"width-huge.yaml", yaml.replaceFirst("width_multiple: [0-9.]+", "width_multiple: 1000")},
                {"anchors-uneven.yaml", yaml.replaceFirst("\\[10, ?13, ?16, ?30, ?33, ?23\\]", "[10,13, 16,30]")},
        };
        for (String[] c : cases) {
            assertTrue(!c[1].equals(yaml), c[0] + ": the substitution must apply");
            long t0 = System.nanoTime();
            expectClean(c[0], c[0], () -> {
                try (YoloModel m = YoloModel.build(ModelConfig.parse(c[0], c[1]), cpu, 0)) {
                    m.graph().shapes(1, 3, 640, 640);
                    fail(c[0] + " must be refused");
                }
            });
            assertTrue(System.nanoTime() - t0 < 5e9, c[0] + " refused quickly");
        }
    }

    @Test
    void corruptCheckpointsAndPruningMetadataFailCleanly() throws Exception {
        Device cpu = Device.cpu();
        Path good = dir.resolve("good.safetensors");
        try (YoloModel m = YoloModel.build(ModelConfig.load("yolov5n").withClasses(2), cpu, 0)) {
            var p = new org.jprune.engine.prune.ChannelPruner(m.dependencyGraph(), new org.jprune.engine.prune.ChannelPruner.Options(true, 8));
            p.step(0.5, org.jprune.engine.prune.Importance.magnitude(2, org.jprune.engine.prune.Importance.Reduce.SUM));
            m.applyPlan(p.plan());
            try (YoloModel c = m.compact()) {
                Checkpoint.writeModel(good, c, "yolov5n", List.of("a", "b"), 64, Map.of());
            }
        }
        SafeTensors.Contents contents = SafeTensors.read(good);
        String widths = contents.metadata().get("widths");
        SplittableRandom r = new SplittableRandom(7);
        // metadata mutations: widths JSON, classes, image size, model name
        for (int i = 0; i < 60; i++) {
            Map<String, String> meta = new java.util.LinkedHashMap<>(contents.metadata());
            switch (i % 4) {
                case 0 -> meta.put("widths", mutate(widths.replace(",", ",\n"), r).replace("\n", ""));
                case 1 -> meta.put("nc", NASTY[r.nextInt(NASTY.length)]);
                case 2 -> meta.put("img", NASTY[r.nextInt(NASTY.length)]);
                default -> meta.put("model", r.nextBoolean() ? "yolov9000" : "yolov5s");
            }
            Path f = dir.resolve("meta-" + i + ".safetensors");
            java.util.Map<String, org.jprune.engine.Tensor> ts = new java.util.LinkedHashMap<>();
            for (var e : contents.tensors().entrySet()) ts.put(e.getKey(), org.jprune.engine.Tensor.of(cpu, e.getValue().data(), e.getValue().shape()));
            try {
                SafeTensors.write(f, ts, meta);
            } finally {
                ts.values().forEach(org.jprune.engine.Tensor::close);
            }
            expectClean(f.toString(), f.toString(), () -> {
                Checkpoint c = Checkpoint.read(f);
                c.imageSize();
                try (YoloModel m = c.buildModel()) {
                    m.forwardRaw(org.jprune.engine.Tensor.zeros(cpu, 1, 3, 64, 64));
                }
            });
        }
        // byte flips anywhere in the file
        byte[] bytes = Files.readAllBytes(good);
        for (int i = 0; i < 40; i++) {
            byte[] b = bytes.clone();
            int at = i < 20 ? r.nextInt(Math.min(b.length, 4096)) : r.nextInt(b.length);
            b[at] ^= (byte) (1 + r.nextInt(255));
            Path f = dir.resolve("flip-" + i + ".safetensors");
            Files.write(f, b);
            expectClean(f.toString(), f.toString(), () -> {
                try (YoloModel m = Checkpoint.read(f).buildModel()) {
                    assertTrue(m.parameterCount() > 0);
                }
            });
        }
    }

    @Test
    void mutatedLabelsAndDataYamlsAreReportedNotThrown() throws Exception {
        Path data = SynthDataset.write(dir.resolve("d"), new SynthDataset.Spec(6, 2, 64, 3));
        SplittableRandom r = new SplittableRandom(11);
        List<Path> labels;
        try (var s = Files.walk(dir.resolve("d/labels"))) { labels = s.filter(p -> p.toString().endsWith(".txt")).sorted().toList(); }
        for (Path l : labels) Files.writeString(l, mutate(Files.readString(l), r) + (r.nextBoolean() ? "\n0 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.1\n" : ""));
        expectClean("labels", "d", () -> {
            var dc = YoloDataset.readConfig(data);
            YoloDataset ds = YoloDataset.load(dc, "train", true);
            assertTrue(ds.samples().size() + ds.problems().size() > 0);
        });
        String yaml = Files.readString(data);
        for (int i = 0; i < 30; i++) {
            Path y = dir.resolve("d/fuzz-" + i + ".yaml");
            Files.writeString(y, mutate(yaml, r));
            expectClean(y.toString(), y.getFileName().toString(), () -> YoloDataset.load(YoloDataset.readConfig(y), "val", false));
        }
    }

    /** A PNG whose header claims w x h and whose data is a few bytes (an "image bomb"). */
    static byte[] pngClaiming(int w, int h) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteBuffer ihdr = ByteBuffer.allocate(13).order(ByteOrder.BIG_ENDIAN).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        chunk(out, "IHDR", ihdr.array());
        chunk(out, "IDAT", new byte[] {0x78, (byte) 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    static void chunk(ByteArrayOutputStream out, String type, byte[] data) throws IOException {
        out.write(ByteBuffer.allocate(4).putInt(data.length).array());
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.write(t);
        out.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.write(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    @Test
    void imageBombsTruncatedFilesAndDirectoriesFailNamingTheFile() throws Exception {
        Path bomb = dir.resolve("bomb.png");
        Files.write(bomb, pngClaiming(26000, 26000));
        long t0 = System.nanoTime();
        IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> Images.read(bomb));
        assertTrue(e.getMessage().contains("bomb.png") && e.getMessage().contains("26000x26000") && e.getMessage().contains("jprune.maxImagePixels"), e.getMessage());
        assertTrue(System.nanoTime() - t0 < 2e9, "refused from the header, before decoding");
        // a truncated JPEG: refused naming the damage, not filled with grey
        java.awt.image.BufferedImage im = new java.awt.image.BufferedImage(64, 64, java.awt.image.BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 64; y++) for (int x = 0; x < 64; x++) im.setRGB(x, y, (x * 4) << 16 | (y * 4) << 8 | 77);
        ByteArrayOutputStream jpg = new ByteArrayOutputStream();
        javax.imageio.ImageIO.write(im, "jpg", jpg);
        byte[] full = jpg.toByteArray();
        Path cut = dir.resolve("cut.jpg");
        Files.write(cut, java.util.Arrays.copyOf(full, full.length / 2));
        IOException t = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> Images.read(cut));
        assertTrue(t.getMessage().contains("cut.jpg"), t.getMessage());
        Path whole = dir.resolve("whole.jpg");
        Files.write(whole, full);
        assertEquals(64, Images.read(whole).getWidth());
        // a folder, an empty file, text
        Files.createDirectories(dir.resolve("folder.png"));
        Files.write(dir.resolve("empty.png"), new byte[0]);
        Files.writeString(dir.resolve("text.png"), "hello");
        for (String n : List.of("folder.png", "empty.png", "text.png", "missing.png")) {
            IOException x = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> Images.read(dir.resolve(n)));
            assertTrue(x.getMessage().contains(n), x.getMessage());
        }
        // EXIF orientation 6 (displayed turned 90 degrees clockwise): the displayed size and pixels
        java.awt.image.BufferedImage lr = new java.awt.image.BufferedImage(32, 16, java.awt.image.BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 16; y++) for (int x = 0; x < 32; x++) lr.setRGB(x, y, x < 16 ? 0xFF0000 : 0x0000FF);
        ByteArrayOutputStream lrJpg = new ByteArrayOutputStream();
        javax.imageio.ImageIO.write(lr, "jpg", lrJpg);
        byte[] plain = lrJpg.toByteArray();
        byte[] app1 = {(byte) 0xFF, (byte) 0xE1, 0, 34, 'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 1, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0,
                0, 0, 0, 0};
        int at = 2; // after SOI and, where ImageIO wrote one, the JFIF APP0 segment
        if ((plain[2] & 255) == 0xFF && (plain[3] & 255) == 0xE0) at = 4 + ((plain[4] & 255) << 8 | (plain[5] & 255));
        byte[] rotated = new byte[plain.length + app1.length];
        System.arraycopy(plain, 0, rotated, 0, at);
        System.arraycopy(app1, 0, rotated, at, app1.length);
        System.arraycopy(plain, at, rotated, at + app1.length, plain.length - at);
        Path exif = dir.resolve("exif6.jpg");
        Files.write(exif, rotated);
        assertEquals(List.of(16, 32), java.util.Arrays.stream(Images.size(exif)).boxed().toList(), "displayed 16 wide, 32 high");
        java.awt.image.BufferedImage shown = Images.read(exif);
        assertEquals(16, shown.getWidth());
        assertTrue((shown.getRGB(8, 4) >> 16 & 255) > 200 && (shown.getRGB(8, 28) & 255) > 200, "the red half is on top once turned");
        // grayscale PNG: the stored values, not a colour-converted brightening
        java.awt.image.BufferedImage g = new java.awt.image.BufferedImage(4, 4, java.awt.image.BufferedImage.TYPE_BYTE_GRAY);
        g.getRaster().setSample(1, 1, 0, 50);
        Path gp = dir.resolve("grey.png");
        javax.imageio.ImageIO.write(g, "png", gp.toFile());
        float[] out = new float[3 * 32 * 32];
        org.jprune.yolo.data.Loader.letterbox(Images.read(gp), 32, out, 0);
        float max = 0;
        for (float v : out) max = Math.max(max, v);
        assertTrue(max * 255 > 20 && max * 255 < 60, "the stored grey value 50, not a colour-converted ~122; got " + max * 255);
    }

    /**
     * Runs the CLI in a child JVM (a native crash kills only it) and returns {exit code, stderr}. The
     * child runs on the class path, as {@code java -jar jprune.jar} does, with this JVM's modules and
     * class path (the test runner puts the project's modules on the module path).
     */
    static Object[] cli(Path dir, String... args) throws Exception {
        String classPath = java.util.stream.Stream.of(System.getProperty("jdk.module.path"), System.getProperty("java.class.path"))
                .filter(s -> s != null && !s.isEmpty()).collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
                "-Xmx512m", "-cp", classPath, "org.jprune.yolo.cli.Main"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        byte[] err = p.getErrorStream().readAllBytes();
        if (!p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", args) + ": still running after 30 s");
        }
        return new Object[] {p.exitValue(), new String(err, StandardCharsets.UTF_8)};
    }

    @Test
    void cliArgumentSetsExitCleanlyInAChildJvm() throws Exception {
        Path data = SynthDataset.write(dir.resolve("d"), new SynthDataset.Spec(3, 2, 64, 1));
        String yaml = builtIn("yolov5n.yaml");
        Path bomb = dir.resolve("upsample.yaml"), classes = dir.resolve("nc.yaml"), empty = dir.resolve("empty.safetensors");
        Files.writeString(bomb, yaml.replace("[None, 2, 'nearest']", "[None, 1073741825, 'nearest']"));
        Files.writeString(classes, yaml.replaceFirst("nc: \\d+", "nc: 100000000"));
        Files.write(empty, new byte[0]);
        Files.createDirectories(dir.resolve("folder"));
        String d = data.toString();
        String[][] cases = {
                {"model", "summary", "-m", bomb.toString(), "--img", "640"},
                {"model", "summary", "-m", classes.toString()},
                {"model", "summary", "--img", "-32"},
                {"train", "--data", "nope.yaml"},
                {"train", "--data", d, "--img", "abc"},
                {"train", "--data", d, "--workers", "0", "--epochs", "1", "--img", "64", "-o", dir.resolve("t").toString()},
                {"train", "--data", d, "-m", bomb.toString(), "--epochs", "1", "--img", "64", "-o", dir.resolve("t2").toString()},
                {"detect", "-w", dir.resolve("folder").toString(), "--source", dir.resolve("folder").toString()},
                {"val", "-w", empty.toString(), "--data", d},
                {"study", "--data", d, "--levels", "0.5,0.3"},
                {"study", "--data", d, "--levels", "0.5,0.7", "--finetune-epochs", "1,2,3"},
                {"prune", "-w", dir.resolve("folder").toString(), "--data", d},
                {"sensitivity", "-w", empty.toString(), "--data", d},
                {"sensitivity", "-w", dir.resolve("folder").toString(), "--data", d, "--ratios", "0.5,0.2"},
                {"eval", "--gt", "missing.json", "--dets", "folder"},
                {"data", "check", "--data", dir.resolve("folder").toString()},
                {"bogus"},
                {"train", "--epochs", "1e9", "--data", d},
        };
        for (String[] c : cases) {
            Object[] r = cli(dir, c);
            String label = String.join(" ", c), err = (String) r[1];
            assertEquals(2, (int) (Integer) r[0], label + " -> exit " + r[0] + ": " + err);
            assertTrue(!err.contains("\tat ") && !err.contains("Exception in thread"), label + ": a stack trace: " + err);
            assertTrue(err.lines().count() <= 3, label + ": " + err.lines().count() + " lines: " + err);
            assertTrue(err.startsWith("jprune: "), label + ": " + err);
        }
        assertEquals(0, (int) (Integer) cli(dir, "--help")[0]);
        try (var s = Files.list(dir)) {
            assertTrue(s.noneMatch(f -> f.getFileName().toString().startsWith("hs_err")), "no JVM crash log");
        }
    }
}
