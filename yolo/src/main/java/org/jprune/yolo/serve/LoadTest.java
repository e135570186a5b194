package org.jprune.yolo.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Drives a {@link DetectServer} with a bounded number of requests from `concurrency` client threads,
 * on loopback only, and checks every answer: against the boxes {@code jprune detect} wrote for the same
 * image (labels/STEM.txt, 'class conf x1 y1 x2 y2', when an expectation folder is given) within the
 * text's printed precision. Reports throughput, latency percentiles and the server's native memory
 * after a warmup pass and at the end.
 */
public final class LoadTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Coordinates are printed with 2 decimals and confidences with 5 by jprune detect. */
    static final double PIXEL_TOL = 0.011, CONF_TOL = 2e-5;
    /** Native bytes outside tensors and the cache that may move between two idle points (malloc rounding of new cache blocks). */
    public static final long SLACK = 4096;

    private LoadTest() {}

    /** One image to send, with the boxes expected back (null: not checked). */
    public record Case(String name, byte[] bytes, List<double[]> expected) {}

    /** The server's /stats: native bytes in use, bytes leased to live tensors, bytes cached for reuse. */
    public record Memory(long nativeBytes, long tensors, long cached) {
        @Override
        public String toString() { return nativeBytes + " native (" + tensors + " in tensors, " + cached + " cached)"; }
    }

    public record Result(int requests, int concurrency, int errors, int mismatches, double seconds, double requestsPerSecond, double p50Ms,
                         double p90Ms, double p99Ms, double maxMs, Memory afterWarmup, Memory atHalf, Memory atEnd, String firstProblem) {
        /**
         * No leak: the bytes leased to live tensors are the same after warmup, at half and at the end (the
         * server is idle at each), and over the second half native memory grew by no more than the
         * caching allocator's reusable blocks did (more concurrent calls than before may need one more
         * block), give or take {@link #SLACK} bytes of malloc's rounding (the allocator counts a block at
         * its rounded size, the native side at malloc's usable size).
         */
        public boolean nativeSteady() {
            return afterWarmup.tensors() == atHalf.tensors() && atHalf.tensors() == atEnd.tensors()
                    && (atEnd.nativeBytes() - atEnd.cached()) - (atHalf.nativeBytes() - atHalf.cached()) <= SLACK;
        }

        public String summary() {
            return String.format(Locale.ROOT,
                    "%d requests, %d client threads: %d errors, %d answers differing from jprune detect; %.1f req/s; latency p50 %.1f ms, p90 %.1f ms, "
                            + "p99 %.1f ms, max %.1f ms; server memory in bytes after warmup: %s; at half: %s; at the end: %s: %s%s",
                    requests, concurrency, errors, mismatches, requestsPerSecond, p50Ms, p90Ms, p99Ms, maxMs, afterWarmup, atHalf, atEnd,
                    nativeSteady() ? "no growth" : "GREW",
                    firstProblem == null ? "" : "\nfirst problem: " + firstProblem);
        }
    }

    /** The images of a folder (as jprune detect lists them) with jprune detect's labels for them, when labels is not null. */
    public static List<Case> cases(Path images, Path labels) throws IOException {
        List<Path> files = Files.isDirectory(images) ? org.jprune.yolo.data.YoloDataset.listImages(images) : List.of(images);
        if (files.isEmpty()) throw new IllegalArgumentException("--images " + images + ": no images (png, jpg, jpeg, bmp, gif)");
        Path root = Files.isDirectory(images) ? images : images.toAbsolutePath().getParent();
        List<Case> out = new ArrayList<>();
        for (Path p : files) {
            Path rel = root.toAbsolutePath().relativize(p.toAbsolutePath());
            String name = rel.toString(), stem = name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : name;
            List<double[]> expected = null;
            if (labels != null) {
                Path txt = labels.resolve(stem + ".txt");
                if (!Files.isRegularFile(txt)) throw new IllegalArgumentException("--expect " + labels + ": no " + stem + ".txt for image " + p);
                expected = new ArrayList<>();
                int line = 0;
                for (String l : Files.readAllLines(txt, StandardCharsets.UTF_8)) {
                    line++;
                    if (l.isBlank()) continue;
                    String[] f = l.trim().split("\\s+");
                    if (f.length != 6) throw new IllegalArgumentException(txt + ":" + line + ": expected 'class conf x1 y1 x2 y2', got '" + l + "'");
                    double[] v = new double[6];
                    try {
                        for (int i = 0; i < 6; i++) v[i] = Double.parseDouble(f[i]);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException(txt + ":" + line + ": not a number in '" + l + "'");
                    }
                    expected.add(v);
                }
            }
            out.add(new Case(name, Files.readAllBytes(p), expected));
        }
        return out;
    }

    /**
     * Sends `requests` detect calls (image i % cases) from `concurrency` threads after one warmup pass over
     * the images; query: the /detect parameters ("conf=0.1&iou=0.5", or empty).
     */
    public static Result run(String url, String query, List<Case> cases, int requests, int concurrency) throws Exception {
        if (requests < 1 || requests > 10_000_000) throw new IllegalArgumentException("requests must be 1..10000000, got " + requests);
        if (concurrency < 1 || concurrency > 1024) throw new IllegalArgumentException("concurrency must be 1..1024, got " + concurrency);
        if (cases.isEmpty()) throw new IllegalArgumentException("no images to send");
        URI base = URI.create(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
        URI detect = base.resolve("/detect" + (query == null || query.isEmpty() ? "" : "?" + query));
        String host = base.getHost();
        if (host == null || !(host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]") || host.equals("::1")))
            throw new IllegalArgumentException("--url " + url + ": the load test only runs against loopback (localhost, 127.x, ::1)");
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        AtomicInteger errors = new AtomicInteger(), mismatches = new AtomicInteger();
        AtomicReference<String> first = new AtomicReference<>();
        // warmup: every image a few times, concurrently, answers checked too
        int warm = cases.size() * Math.max(2, concurrency);
        send(client, detect, cases, 0, warm, concurrency, new double[warm], errors, mismatches, first);
        Memory nativeStart = memory(client, base);
        double[] lat = new double[requests];
        long t0 = System.nanoTime();
        send(client, detect, cases, 0, requests / 2, concurrency, lat, errors, mismatches, first);
        Memory nativeHalf = memory(client, base);
        send(client, detect, cases, requests / 2, requests, concurrency, lat, errors, mismatches, first);
        double secs = (System.nanoTime() - t0) * 1e-9;
        Memory nativeEnd = memory(client, base);
        Arrays.sort(lat);
        return new Result(requests, concurrency, errors.get(), mismatches.get(), secs, requests / secs, pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99),
                lat[lat.length - 1] * 1e3, nativeStart, nativeHalf, nativeEnd, first.get());
    }

    private static double pct(double[] sorted, double p) { return sorted[Math.min(sorted.length - 1, (int) (p * sorted.length))] * 1e3; }

    private static Memory memory(HttpClient client, URI base) throws Exception {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(base.resolve("/stats")).GET().build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IOException(base + "/stats answered " + r.statusCode() + ": " + r.body());
        JsonNode j = JSON.readTree(r.body());
        return new Memory(j.path("nativeBytesInUse").asLong(-1), j.path("tensorBytesInUse").asLong(-1), j.path("tensorBytesCached").asLong(-1));
    }

    /** Requests from..to-1 (image i % cases, latency into lat[i]) from `concurrency` threads. */
    private static void send(HttpClient client, URI detect, List<Case> cases, int from, int to, int concurrency, double[] lat, AtomicInteger errors,
                             AtomicInteger mismatches, AtomicReference<String> first) throws Exception {
        AtomicInteger next = new AtomicInteger(from);
        ExecutorService pool = Executors.newFixedThreadPool(concurrency);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < concurrency; t++)
                fs.add(pool.submit(() -> {
                    for (int i; (i = next.getAndIncrement()) < to; ) {
                        Case c = cases.get(i % cases.size());
                        long a = System.nanoTime();
                        try {
                            HttpResponse<String> r = client.send(HttpRequest.newBuilder(detect).timeout(Duration.ofSeconds(120))
                                    .POST(HttpRequest.BodyPublishers.ofByteArray(c.bytes())).build(), HttpResponse.BodyHandlers.ofString());
                            lat[i] = (System.nanoTime() - a) * 1e-9;
                            if (r.statusCode() != 200) {
                                errors.incrementAndGet();
                                first.compareAndSet(null, c.name() + ": HTTP " + r.statusCode() + " " + r.body());
                                continue;
                            }
                            String why = differs(JSON.readTree(r.body()), c.expected());
                            if (why != null) {
                                mismatches.incrementAndGet();
                                first.compareAndSet(null, c.name() + ": " + why);
                            }
                        } catch (IOException e) {
                            lat[i] = (System.nanoTime() - a) * 1e-9;
                            errors.incrementAndGet();
                            first.compareAndSet(null, c.name() + ": " + e);
                        }
                    }
                    return null;
                }));
            for (Future<?> f : fs) f.get();
        } finally {
            pool.shutdown();
        }
    }

    /** Why the answer's boxes differ from the expected ones (same order), or null when they agree. */
    static String differs(JsonNode answer, List<double[]> expected) {
        if (expected == null) return null;
        JsonNode boxes = answer.path("boxes");
        if (boxes.size() != expected.size()) return boxes.size() + " boxes, jprune detect wrote " + expected.size();
        for (int i = 0; i < expected.size(); i++) {
            JsonNode b = boxes.get(i);
            double[] e = expected.get(i);
            double[] got = {b.path("class").asInt(), b.path("confidence").asDouble(), b.path("x1").asDouble(), b.path("y1").asDouble(),
                    b.path("x2").asDouble(), b.path("y2").asDouble()};
            boolean ok = got[0] == e[0] && Math.abs(got[1] - e[1]) <= CONF_TOL;
            for (int k = 2; k < 6; k++) ok &= Math.abs(got[k] - e[k]) <= PIXEL_TOL;
            if (!ok) return "box " + i + " is " + Arrays.toString(got) + ", jprune detect wrote " + Arrays.toString(e);
        }
        return null;
    }
}
