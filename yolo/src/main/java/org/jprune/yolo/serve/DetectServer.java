package org.jprune.yolo.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.jprune.engine.Device;
import org.jprune.yolo.data.Images;
import org.jprune.yolo.eval.Postprocess;
import org.jprune.yolo.infer.Detector;

/**
 * A minimal detection service on the JDK's HTTP server: one {@link Detector} loaded once, shared by
 * a fixed pool of request threads.
 *
 * <ul>
 *   <li>{@code POST /detect[?conf=0.25&iou=0.45&max=1000]}, body: a PNG, JPEG, BMP, TIFF or GIF image
 *       (at most {@link #MAX_BODY} bytes and {@link Images#maxPixels()} pixels) answers
 *       {@code {"width":W,"height":H,"boxes":[{"x1":..,"y1":..,"x2":..,"y2":..,"confidence":..,"class":id,"name":".."}]}},
 *       boxes in the image's pixels, best first, the same boxes {@code jprune detect} writes.</li>
 *   <li>{@code GET /health}: the model's input size and classes.</li>
 *   <li>{@code GET /stats}: requests answered, errors, the detector's device's native memory, and how much of it
 *       live tensors and the caching allocator hold.</li>
 * </ul>
 * Bad requests get a 4xx answer {@code {"error":"..."}} naming the problem; nothing a client sends
 * stops the server.
 */
public final class DetectServer implements AutoCloseable {
    public static final int MAX_BODY = 32 << 20;
    /** A refused body is read (and dropped) up to this many bytes past the limit before the 413; past that the connection closes. */
    static final long MAX_DISCARD = 32L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Detector detector;
    private final HttpServer http;
    private final ExecutorService pool;
    private final LongAdder answered = new LongAdder(), rejected = new LongAdder();
    private final AtomicInteger inFlight = new AtomicInteger();

    private DetectServer(Detector detector, HttpServer http, ExecutorService pool) {
        this.detector = detector;
        this.http = http;
        this.pool = pool;
    }

    /**
     * Starts serving on host:port (port 0: any free port) with `threads` request threads; the server
     * does not own the detector (close the detector after the server).
     */
    public static DetectServer start(Detector detector, String host, int port, int threads) throws IOException {
        if (detector == null) throw new IllegalArgumentException("detector is null");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be 0..65535, got " + port);
        if (threads < 1 || threads > 1024) throw new IllegalArgumentException("threads must be 1..1024, got " + threads);
        HttpServer http = HttpServer.create(new InetSocketAddress(host, port), 128);
        AtomicInteger n = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "detect-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        DetectServer s = new DetectServer(detector, http, pool);
        http.createContext("/detect", s::detect);
        http.createContext("/health", ex -> s.get(ex, s::health));
        http.createContext("/stats", ex -> s.get(ex, s::stats));
        http.createContext("/", ex -> s.answer(ex, 404, error("no such endpoint " + ex.getRequestURI().getPath() + " (POST /detect, GET /health, GET /stats)")));
        http.setExecutor(pool);
        http.start();
        return s;
    }

    public int port() { return http.getAddress().getPort(); }
    public String url() { return "http://" + http.getAddress().getHostString() + ":" + port(); }

    /** Stops accepting, waits up to `seconds` for requests in flight, then stops the request threads. */
    public void stop(int seconds) {
        http.stop(seconds);
        pool.shutdown();
        try {
            pool.awaitTermination(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() { stop(2); }

    private static ObjectNode error(String message) { return JSON.createObjectNode().put("error", message); }

    private interface Body { ObjectNode make(); }

    private void get(HttpExchange ex, Body body) throws IOException {
        if (!ex.getRequestMethod().equals("GET")) answer(ex, 405, error(ex.getRequestURI().getPath() + " takes GET, not " + ex.getRequestMethod()));
        else answer(ex, 200, body.make());
    }

    private ObjectNode health() {
        ObjectNode o = JSON.createObjectNode().put("imageSize", detector.inputSize());
        ArrayNode names = o.putArray("classes");
        detector.classNames().forEach(names::add);
        return o;
    }

    private ObjectNode stats() {
        Device dev = detector.device();
        Device.NativeMemory mem = dev.nativeMemory();
        var alloc = dev.memoryStats();
        // native: every live allocation of the detector's device (weights, live tensors, blocks the caching
        // allocator keeps for reuse); tensors: blocks leased to live tensors; cached: blocks kept for reuse
        return JSON.createObjectNode().put("answered", answered.sum()).put("rejected", rejected.sum()).put("inFlight", inFlight.get())
                .put("nativeBytesInUse", mem.inUse()).put("nativeBytesReserved", mem.reserved()).put("tensorBytesInUse", alloc.inUseBytes())
                .put("tensorBytesCached", alloc.cachedBytes());
    }

    private void detect(HttpExchange ex) throws IOException {
        inFlight.incrementAndGet();
        try {
            if (!ex.getRequestMethod().equals("POST")) {
                answer(ex, 405, error("/detect takes POST with an image body, not " + ex.getRequestMethod()));
                return;
            }
            Postprocess.Settings settings;
            try {
                settings = settings(ex.getRequestURI());
            } catch (IllegalArgumentException e) {
                answer(ex, 400, error(e.getMessage()));
                return;
            }
            String len = ex.getRequestHeaders().getFirst("Content-Length");
            long declared = len != null && len.matches("\\d{1,18}") ? Long.parseLong(len) : -1;
            if (declared > MAX_BODY) {
                discard(ex.getRequestBody(), declared <= MAX_BODY + MAX_DISCARD ? declared : 0);
                answer(ex, 413, error("body of " + len + " bytes is over the limit of " + MAX_BODY));
                return;
            }
            byte[] body = readBounded(ex.getRequestBody());
            if (body == null) {
                discard(ex.getRequestBody(), MAX_DISCARD);
                answer(ex, 413, error("body is over the limit of " + MAX_BODY + " bytes"));
                return;
            }
            if (body.length == 0) {
                answer(ex, 400, error("empty body: send the image's bytes (PNG, JPEG, BMP, TIFF or GIF)"));
                return;
            }
            BufferedImage im;
            try {
                im = Images.read(body, "body");
            } catch (IOException e) {
                answer(ex, 400, error(e.getMessage()));
                return;
            }
            List<Detector.Box> boxes = detector.detect(List.of(im), settings).get(0);
            ObjectNode o = JSON.createObjectNode().put("width", im.getWidth()).put("height", im.getHeight());
            ArrayNode arr = o.putArray("boxes");
            for (Detector.Box b : boxes)
                arr.addObject().put("x1", b.x1()).put("y1", b.y1()).put("x2", b.x2()).put("y2", b.y2()).put("confidence", b.confidence())
                        .put("class", b.classId()).put("name", b.className());
            answer(ex, 200, o);
        } catch (IllegalStateException e) { // the detector was closed under us
            answer(ex, 503, error(e.getMessage()));
        } catch (RuntimeException e) {
            answer(ex, 500, error("internal error: " + e));
        } finally {
            inFlight.decrementAndGet();
        }
    }

    static Postprocess.Settings settings(URI uri) {
        Map<String, String> q = new HashMap<>();
        String raw = uri.getRawQuery();
        if (raw != null && !raw.isEmpty())
            for (String kv : raw.split("&")) {
                int eq = kv.indexOf('=');
                String k = eq < 0 ? kv : kv.substring(0, eq), v = eq < 0 ? "" : kv.substring(eq + 1);
                if (!k.equals("conf") && !k.equals("iou") && !k.equals("max")) throw new IllegalArgumentException("unknown parameter '" + k + "' (conf, iou, max)");
                q.put(k, java.net.URLDecoder.decode(v, StandardCharsets.UTF_8));
            }
        Postprocess.Settings d = Postprocess.Settings.DETECT;
        float conf = q.containsKey("conf") ? number("conf", q.get("conf")) : d.confThres();
        float iou = q.containsKey("iou") ? number("iou", q.get("iou")) : d.iouThres();
        float max = q.containsKey("max") ? number("max", q.get("max")) : d.maxDet();
        if (!(conf >= 0 && conf <= 1)) throw new IllegalArgumentException("conf must be in [0, 1], got " + q.get("conf"));
        if (!(iou > 0 && iou <= 1)) throw new IllegalArgumentException("iou must be in (0, 1], got " + q.get("iou"));
        if (!(max >= 1 && max <= 100000 && max == Math.rint(max))) throw new IllegalArgumentException("max must be a whole number in 1..100000, got " + q.get("max"));
        return new Postprocess.Settings(conf, iou, d.multiLabel(), (int) max);
    }

    private static float number(String name, String v) {
        try {
            return Float.parseFloat(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a number, got '" + v + "'");
        }
    }

    /**
     * Reads and drops up to {@code max} bytes of a refused body, so that a client that sends its whole
     * body before reading the answer (as Java's HttpClient does) gets the 413 instead of a reset
     * connection; a body longer than that is cut off by closing the connection.
     */
    private static void discard(InputStream in, long max) throws IOException {
        byte[] buf = new byte[64 << 10];
        for (long left = max; left > 0; ) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) return;
            left -= n;
        }
    }

    /** The body, or null when it is longer than MAX_BODY. */
    private static byte[] readBounded(InputStream in) throws IOException {
        byte[] b = in.readNBytes(MAX_BODY + 1);
        return b.length > MAX_BODY ? null : b;
    }

    private void answer(HttpExchange ex, int status, ObjectNode body) throws IOException {
        if (status == 200) answered.increment();
        else rejected.increment();
        byte[] bytes = JSON.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        // a refused body's unread rest (past MAX_DISCARD) is left to the exchange's close, which drains a
        // little for keep-alive and closes the connection past that: a huge body is never read to its end
        if (status == 413) ex.getResponseHeaders().set("Connection", "close");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }
}
