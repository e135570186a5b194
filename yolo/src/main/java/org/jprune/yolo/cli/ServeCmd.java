package org.jprune.yolo.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.jprune.engine.Device;
import org.jprune.engine.io.SafeTensors;
import org.jprune.yolo.infer.Detector;
import org.jprune.yolo.serve.DetectServer;
import org.jprune.yolo.serve.LoadTest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jprune serve} (the detection service) and {@code jprune loadtest} (its load test). */
final class ServeCmd {
    private ServeCmd() {}

    @Command(name = "serve", mixinStandardHelpOptions = true, description = "Serve a checkpoint (dense or compact) over HTTP until stopped: "
            + "POST /detect with an image body answers JSON boxes (?conf=&iou=&max=), GET /health, GET /stats (requests, native memory).")
    static final class Serve implements Callable<Integer> {
        @picocli.CommandLine.Mixin WeightsOption weights;
        @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on. Default: ${DEFAULT-VALUE} (loopback only).")
        String host;
        @Option(names = "--port", defaultValue = "8080", description = "Port (0: any free one). Default: ${DEFAULT-VALUE}.")
        int port;
        @Option(names = "--threads", description = "Request threads. Default: the cores.")
        Integer threads;
        @Option(names = "--threads-per-call", defaultValue = "0", description = "CPU threads each request uses (0: the cores divided among the "
                + "requests in flight). Default: ${DEFAULT-VALUE}.")
        int threadsPerCall;
        @picocli.CommandLine.Mixin DeviceOption device;

        @Override
        public Integer call() throws Exception {
            int t = threads != null ? threads : Runtime.getRuntime().availableProcessors();
            Device dev = device.open();
            Detector det;
            try {
                det = Detector.load(weights.weights, dev);
            } catch (java.io.IOException | RuntimeException e) {
                dev.close();
                throw e;
            }
            det.setThreadsPerCall(threadsPerCall);
            DetectServer server;
            try {
                server = DetectServer.start(det, host, port, t);
            } catch (RuntimeException | java.io.IOException e) {
                det.close();
                dev.close();
                throw e;
            }
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.stop(5);
                det.close();
                dev.close();
                stopped.countDown();
            }, "jprune-serve-stop"));
            System.out.printf(Locale.ROOT, "serving %s (%d px, %d classes) at %s with %d request threads; POST /detect, GET /health, GET /stats; Ctrl-C stops%n",
                    weights.weights, det.inputSize(), det.classNames().size(), server.url(), t);
            stopped.await();
            return 0;
        }
    }

    @Command(name = "loadtest", mixinStandardHelpOptions = true, description = "Load-test a running `jprune serve` on loopback: a bounded number of "
            + "requests from client threads, every answer checked against `jprune detect`'s labels (--expect), throughput, latency percentiles "
            + "and the server's native memory after warmup, at half and at the end. Exit code 1 if any request failed or differed, or native memory grew over "
            + "the second half.")
    static final class Load implements Callable<Integer> {
        private static Object health(String url) {
            try {
                var client = java.net.http.HttpClient.newHttpClient();
                var r = client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(url.replaceAll("/+$", "") + "/health")).GET().build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                var h = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.body());
                return java.util.Map.of("imageSize", h.path("imageSize").asInt(), "classes", h.path("classes").size());
            } catch (Exception e) {
                return "unavailable: " + e.getMessage();
            }
        }

        @Option(names = "--url", defaultValue = "http://127.0.0.1:8080", description = "The server. Default: ${DEFAULT-VALUE}.")
        String url;
        @Option(names = "--images", required = true, description = "An image or a folder of images to send.")
        Path images;
        @Option(names = "--expect", description = "OUT/labels of `jprune detect --source IMAGES -o OUT` run with the same checkpoint: each answer "
                + "must have the same boxes.")
        Path expect;
        @Option(names = "--query", defaultValue = "", description = "/detect parameters, e.g. conf=0.1&iou=0.5 (give jprune detect the same "
                + "--conf / --iou). Default: the server's (conf 0.25, iou 0.45).")
        String query;
        @Option(names = {"-n", "--requests"}, defaultValue = "10000", description = "Requests to send. Default: ${DEFAULT-VALUE}.")
        int requests;
        @Option(names = {"-c", "--concurrency"}, defaultValue = "4", description = "Client threads. Default: ${DEFAULT-VALUE}.")
        int concurrency;
        @Option(names = {"-o", "--out"}, description = "Also write the result as JSON to this new file (never overwritten).")
        Path out;

        @Override
        public Integer call() throws Exception {
            if (out != null && Files.exists(out)) throw new IllegalArgumentException("--out " + out + " exists; results are never overwritten");
            LoadTest.Result r = LoadTest.run(url, query, LoadTest.cases(images, expect), requests, concurrency);
            System.out.println(r.summary());
            if (out != null) {
                var doc = new java.util.LinkedHashMap<String, Object>();
                doc.put("date", java.time.ZonedDateTime.now().toString());
                doc.put("made_by", "scripts/serve-loadtest.sh (jprune detect, jprune serve, jprune loadtest)");
                doc.put("url", url);
                doc.put("server", health(url));
                doc.put("images", images.toString());
                doc.put("query", query);
                doc.put("result", r);
                doc.put("cpu", Runtime.getRuntime().availableProcessors() + " cores");
                SafeTensors.atomicWrite(out, new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(doc));
            }
            return r.errors() == 0 && r.mismatches() == 0 && r.nativeSteady() ? 0 : 1;
        }
    }
}
