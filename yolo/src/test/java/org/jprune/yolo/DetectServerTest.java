package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.jprune.engine.Device;
import org.jprune.yolo.cli.Main;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.infer.Detector;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.serve.DetectServer;
import org.jprune.yolo.serve.LoadTest;
import org.jprune.yolo.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The detection service end to end on loopback: its answers equal {@code jprune detect}'s label files
 * for the same checkpoint (through the load test's check), native memory does not grow over the run,
 * and bad requests get 4xx answers that name the problem while the server keeps serving.
 */
class DetectServerTest {
    @TempDir Path dir;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void answersEqualTheCliAndBadRequestsAreRefused() throws Exception {
        Path ckpt = dir.resolve("m.safetensors");
        try (YoloModel m = YoloModel.build(ModelConfig.load("yolov5n").withClasses(3), Device.cpu(), 7)) {
            Checkpoint.writeModel(ckpt, m, "yolov5n", List.of("a", "b", "c"), 64, Map.of());
        }
        Path images = Files.createDirectories(dir.resolve("images"));
        for (int i = 0; i < 5; i++) {
            BufferedImage im = SynthDataset.render(64 + 24 * i, new SplittableRandom(i), new java.util.ArrayList<>());
            ImageIO.write(im, i == 4 ? "jpg" : "png", images.resolve("im" + i + (i == 4 ? ".jpg" : ".png")).toFile());
        }
        // what the CLI writes, at thresholds an untrained model still passes
        assertEquals(0, Main.execute("detect", "-w", ckpt.toString(), "--source", images.toString(), "-o", dir.resolve("cli").toString(),
                "--conf", "0.001", "--iou", "0.6"));
        Path labels = dir.resolve("cli/labels");
        long expectedBoxes = 0;
        try (var s = Files.list(labels)) {
            for (Path p : s.toList()) expectedBoxes += Files.readAllLines(p).stream().filter(l -> !l.isBlank()).count();
        }
        assertTrue(expectedBoxes > 0, "the CLI found boxes to compare");

        try (Detector det = Detector.load(ckpt); DetectServer server = DetectServer.start(det, "127.0.0.1", 0, 3)) {
            LoadTest.Result r = LoadTest.run(server.url(), "conf=0.001&iou=0.6", LoadTest.cases(images, labels), 400, 4);
            assertEquals(0, r.errors(), r.summary());
            assertEquals(0, r.mismatches(), r.summary());
            assertTrue(r.nativeSteady(), "native memory grew: " + r.summary());
            assertTrue(r.p50Ms() > 0 && r.p99Ms() >= r.p50Ms() && r.requestsPerSecond() > 0, r.summary());

            // a wrong expectation is caught (the check can fail)
            List<LoadTest.Case> wrong = LoadTest.cases(images, labels).stream()
                    .map(c -> new LoadTest.Case(c.name(), c.bytes(), c.expected().isEmpty() ? List.of(new double[6]) : c.expected().subList(1, c.expected().size())))
                    .toList();
            // (every answer differs: the 2 warmup passes over the images and the 5 requests)
            assertEquals(3 * wrong.size(), LoadTest.run(server.url(), "conf=0.001&iou=0.6", wrong, wrong.size(), 2).mismatches());

            HttpClient client = HttpClient.newHttpClient();
            URI u = URI.create(server.url());
            record Bad(String what, HttpRequest req, int status, String says) {}
            List<Bad> bad = List.of(
                    new Bad("not an image", HttpRequest.newBuilder(u.resolve("/detect")).POST(HttpRequest.BodyPublishers.ofString("hello")).build(), 400, "not a readable image"),
                    new Bad("empty body", HttpRequest.newBuilder(u.resolve("/detect")).POST(HttpRequest.BodyPublishers.noBody()).build(), 400, "empty"),
                    new Bad("truncated PNG", HttpRequest.newBuilder(u.resolve("/detect")).POST(HttpRequest.BodyPublishers.ofByteArray(
                            java.util.Arrays.copyOf(Files.readAllBytes(images.resolve("im3.png")), 200))).build(), 400, "body"),
                    new Bad("GET on /detect", HttpRequest.newBuilder(u.resolve("/detect")).GET().build(), 405, "POST"),
                    new Bad("bad conf", HttpRequest.newBuilder(u.resolve("/detect?conf=2")).POST(HttpRequest.BodyPublishers.ofString("x")).build(), 400, "conf"),
                    new Bad("conf not a number", HttpRequest.newBuilder(u.resolve("/detect?conf=abc")).POST(HttpRequest.BodyPublishers.ofString("x")).build(), 400, "abc"),
                    new Bad("unknown parameter", HttpRequest.newBuilder(u.resolve("/detect?size=9")).POST(HttpRequest.BodyPublishers.ofString("x")).build(), 400, "size"),
                    new Bad("unknown endpoint", HttpRequest.newBuilder(u.resolve("/nope")).GET().build(), 404, "/nope"),
                    new Bad("image bomb", HttpRequest.newBuilder(u.resolve("/detect")).POST(HttpRequest.BodyPublishers.ofByteArray(
                            FuzzTest.pngClaiming(26000, 26000))).build(), 400, "26000x26000"),
                    new Bad("body over the limit", HttpRequest.newBuilder(u.resolve("/detect")).POST(HttpRequest.BodyPublishers.ofByteArray(
                            new byte[DetectServer.MAX_BODY + 1])).build(), 413, "over the limit"));
            for (Bad b : bad) {
                HttpResponse<String> res = client.send(b.req(), HttpResponse.BodyHandlers.ofString());
                assertEquals(b.status(), res.statusCode(), b.what() + ": " + res.body());
                String msg = JSON.readTree(res.body()).path("error").asText();
                assertTrue(msg.contains(b.says()), b.what() + ": " + msg);
            }
            // still serving, and the counters saw it all
            HttpResponse<String> ok = client.send(HttpRequest.newBuilder(u.resolve("/detect")).POST(HttpRequest.BodyPublishers.ofByteArray(
                    Files.readAllBytes(images.resolve("im0.png")))).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode(), ok.body());
            JsonNode stats = JSON.readTree(client.send(HttpRequest.newBuilder(u.resolve("/stats")).GET().build(), HttpResponse.BodyHandlers.ofString()).body());
            assertTrue(stats.path("rejected").asLong() >= bad.size(), stats.toString());
            JsonNode health = JSON.readTree(client.send(HttpRequest.newBuilder(u.resolve("/health")).GET().build(), HttpResponse.BodyHandlers.ofString()).body());
            assertEquals(64, health.path("imageSize").asInt());
            assertEquals(3, health.path("classes").size());
        }
    }

    @Test
    void badCommandLinesExitTwoWithOneLine() throws Exception {
        Path ckpt = dir.resolve("m.safetensors");
        try (YoloModel m = YoloModel.build(ModelConfig.load("yolov5n").withClasses(2), Device.cpu(), 7)) {
            Checkpoint.writeModel(ckpt, m, "yolov5n", List.of("a", "b"), 64, Map.of());
        }
        String[][] cases = {{"serve", "-w", ckpt.toString(), "--port", "70000"}, {"serve", "-w", ckpt.toString(), "--threads", "0"},
            {"serve", "-w", dir.resolve("missing.safetensors").toString()}, {"loadtest", "--images", dir.resolve("none").toString()},
            {"loadtest", "--images", dir.toString(), "--url", "http://example.com:80"}, {"loadtest", "--images", dir.toString(), "-n", "0"}};
        String[] says = {"70000", "got 0", "missing.safetensors", "none", "loopback", "got 0"};
        Files.write(dir.resolve("one.png"), FuzzTest.pngClaiming(8, 8));
        for (int i = 0; i < cases.length; i++) {
            var err = new java.io.ByteArrayOutputStream();
            java.io.PrintStream old = System.err;
            System.setErr(new java.io.PrintStream(err));
            int code;
            try {
                code = Main.execute(cases[i]);
            } finally {
                System.setErr(old);
            }
            String text = err.toString();
            assertEquals(2, code, String.join(" ", cases[i]) + ": " + text);
            assertTrue(text.contains(says[i]) && text.lines().filter(l -> l.startsWith("\tat ")).findAny().isEmpty(), String.join(" ", cases[i]) + ": " + text);
        }
    }

    @Test
    void loadTestRefusesWhatIsNotLoopbackAndBadSizes() throws Exception {
        List<LoadTest.Case> one = List.of(new LoadTest.Case("x", new byte[] {1}, null));
        var e = assertThrows(IllegalArgumentException.class, () -> LoadTest.run("http://example.com:8080", "", one, 1, 1));
        assertTrue(e.getMessage().contains("loopback"), e.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LoadTest.run("http://127.0.0.1:1", "", one, 0, 1)).getMessage().contains("got 0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LoadTest.run("http://127.0.0.1:1", "", one, 1, 5000)).getMessage().contains("got 5000"));
    }
}
