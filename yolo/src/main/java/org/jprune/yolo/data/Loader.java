package org.jprune.yolo.data;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Turns samples into batches: letterbox to a square input (grey 114 padding), training augmentation
 * (horizontal flip, HSV gains, random scale and translate), float CHW in [0, 1]. Batches are decoded
 * on worker threads and prefetched, so the model does not wait on PNG decoding. Every batch depends
 * only on (seed, epoch, batch index), whatever the thread timing: a resumed run sees the same data.
 */
public final class Loader implements AutoCloseable {
    /** Augmentation settings (Ultralytics hyp.scratch-low names and defaults). */
    public record Augment(double hsvH, double hsvS, double hsvV, double translate, double scale, double flipLr) {
        public static final Augment NONE = new Augment(0, 0, 0, 0, 0, 0);
        public static final Augment SCRATCH_LOW = new Augment(0.015, 0.7, 0.4, 0.1, 0.5, 0.5);
    }

    /**
     * n images as float [n][3][size][size]; targets rows (image index, class, cx, cy, w, h) normalised
     * to the input size; per image the letterbox transform (scale, padX, padY) from original pixels.
     */
    public record Batch(float[] images, int n, int size, float[] targets, int targetCount, List<java.nio.file.Path> paths,
                        float[][] letterbox, int[][] originalSizes) {}

    private final List<YoloDataset.Sample> samples;
    private final int batchSize, size;
    private final Augment augment;
    private final long seed;
    private final ExecutorService pool;
    private final int prefetch;

    public Loader(List<YoloDataset.Sample> samples, int batchSize, int size, Augment augment, long seed, int workers) {
        if (samples.isEmpty()) throw new IllegalArgumentException("loader: no samples");
        if (batchSize <= 0 || size <= 0 || size % 32 != 0) throw new IllegalArgumentException("loader: batch must be > 0 and size a multiple of 32");
        this.samples = samples;
        this.batchSize = batchSize;
        this.size = size;
        this.augment = augment;
        this.seed = seed;
        this.pool = Executors.newFixedThreadPool(Math.max(1, workers), r -> {
            Thread t = new Thread(r, "jprune-loader");
            t.setDaemon(true);
            return t;
        });
        this.prefetch = Math.max(2, 2 * workers);
    }

    public int batchesPerEpoch() { return (samples.size() + batchSize - 1) / batchSize; }

    /** The epoch's batches in a seeded shuffled order (no shuffle when augment is NONE: evaluation order). */
    public Iterator<Batch> epoch(int epoch, int startBatch) {
        int[] order = new int[samples.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        if (augment != Augment.NONE) {
            SplittableRandom r = new SplittableRandom(seed * 1_000_003L + epoch);
            for (int i = order.length - 1; i > 0; i--) { int j = r.nextInt(i + 1); int t = order[i]; order[i] = order[j]; order[j] = t; }
        }
        int total = batchesPerEpoch();
        ArrayDeque<Future<Batch>> queue = new ArrayDeque<>();
        return new Iterator<Batch>() {
            int next = startBatch;
            int produced = startBatch;

            private void fill() {
                while (queue.size() < prefetch && next < total) {
                    int b = next++;
                    queue.add(pool.submit(() -> makeBatch(order, b, epoch)));
                }
            }

            @Override public boolean hasNext() { return produced < total; }

            @Override
            public Batch next() {
                if (!hasNext()) throw new NoSuchElementException();
                fill();
                try {
                    Batch b = queue.poll().get();
                    produced++;
                    fill();
                    return b;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof UncheckedIOException u) throw u;
                    throw new IllegalStateException(e.getCause());
                }
            }
        };
    }

    private Batch makeBatch(int[] order, int b, int epoch) {
        int from = b * batchSize, n = Math.min(batchSize, order.length - from);
        float[] images = new float[n * 3 * size * size];
        List<float[]> targets = new ArrayList<>();
        List<java.nio.file.Path> paths = new ArrayList<>();
        float[][] lb = new float[n][];
        int[][] orig = new int[n][];
        for (int i = 0; i < n; i++) {
            YoloDataset.Sample s = samples.get(order[from + i]);
            SplittableRandom r = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (epoch + 1)) ^ ((long) order[from + i] << 20));
            BufferedImage im;
            try {
                im = YoloDataset.readImage(s.image());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            orig[i] = new int[] {im.getWidth(), im.getHeight()};
            lb[i] = place(im, s.labels(), images, i, r, targets);
            paths.add(s.image());
        }
        float[] t = new float[targets.size() * 6];
        for (int i = 0; i < targets.size(); i++) System.arraycopy(targets.get(i), 0, t, i * 6, 6);
        return new Batch(images, n, size, t, targets.size(), paths, lb, orig);
    }

    private float[] place(BufferedImage im, List<YoloDataset.Label> labels, float[] out, int idx, SplittableRandom r, List<float[]> targets) {
        return place(im, labels, out, idx, r, targets, size, augment);
    }

    /** Letterbox without augmentation into slot idx of out ([n][3][size][size]); returns (scale, padX, padY). */
    public static float[] letterbox(BufferedImage im, int size, float[] out, int idx) {
        return place(im, List.of(), out, idx, new SplittableRandom(0), new ArrayList<>(), size, Augment.NONE);
    }

    /** Letterbox (+ augmentation) image idx into the batch; returns (scale, padX, padY). */
    private static float[] place(BufferedImage im, List<YoloDataset.Label> labels, float[] out, int idx, SplittableRandom r, List<float[]> targets,
                                 int size, Augment augment) {
        int w = im.getWidth(), h = im.getHeight();
        double s = (double) size / Math.max(w, h);
        if (augment.scale() > 0) s *= 1 + (r.nextDouble() * 2 - 1) * augment.scale();
        int nw = Math.max(1, (int) Math.round(w * s)), nh = Math.max(1, (int) Math.round(h * s));
        double px = (size - nw) / 2.0, py = (size - nh) / 2.0;
        if (augment.translate() > 0) {
            px += (r.nextDouble() * 2 - 1) * augment.translate() * size;
            py += (r.nextDouble() * 2 - 1) * augment.translate() * size;
        }
        int ox = (int) Math.round(px), oy = (int) Math.round(py);
        boolean flip = augment.flipLr() > 0 && r.nextDouble() < augment.flipLr();
        BufferedImage canvas = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas.createGraphics();
        g.setColor(new java.awt.Color(114, 114, 114));
        g.fillRect(0, 0, size, size);
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        if (flip) g.drawImage(im, ox + nw, oy, ox, oy + nh, 0, 0, w, h, null); // mirrored: destination x1 > x2
        else g.drawImage(im, ox, oy, nw, nh, null);
        g.dispose();
        int[] px32 = canvas.getRGB(0, 0, size, size, null, 0, size);
        double gh = 1, gs = 1, gv = 1;
        if (augment.hsvH() > 0 || augment.hsvS() > 0 || augment.hsvV() > 0) {
            gh = 1 + (r.nextDouble() * 2 - 1) * augment.hsvH();
            gs = 1 + (r.nextDouble() * 2 - 1) * augment.hsvS();
            gv = 1 + (r.nextDouble() * 2 - 1) * augment.hsvV();
        }
        int plane = size * size, base = idx * 3 * plane;
        float[] hsv = new float[3];
        for (int p = 0; p < plane; p++) {
            int c = px32[p];
            float rr = ((c >> 16) & 255) / 255f, gg = ((c >> 8) & 255) / 255f, bb = (c & 255) / 255f;
            if (gh != 1 || gs != 1 || gv != 1) {
                java.awt.Color.RGBtoHSB((c >> 16) & 255, (c >> 8) & 255, c & 255, hsv);
                float hh = (float) ((hsv[0] * gh) % 1.0), ss = (float) Math.min(1, hsv[1] * gs), vv = (float) Math.min(1, hsv[2] * gv);
                int rgb = java.awt.Color.HSBtoRGB(hh, ss, vv);
                rr = ((rgb >> 16) & 255) / 255f;
                gg = ((rgb >> 8) & 255) / 255f;
                bb = (rgb & 255) / 255f;
            }
            out[base + p] = rr;
            out[base + plane + p] = gg;
            out[base + 2 * plane + p] = bb;
        }
        for (YoloDataset.Label l : labels) {
            double cx = l.cx() * w, cy = l.cy() * h, bw = l.w() * w, bh = l.h() * h;
            if (flip) cx = w - cx;
            double x1 = (cx - bw / 2) * s + ox, x2 = (cx + bw / 2) * s + ox, y1 = (cy - bh / 2) * s + oy, y2 = (cy + bh / 2) * s + oy;
            double cx1 = Math.max(0, x1), cx2 = Math.min(size, x2), cy1 = Math.max(0, y1), cy2 = Math.min(size, y2);
            double area0 = (x2 - x1) * (y2 - y1), area = Math.max(0, cx2 - cx1) * Math.max(0, cy2 - cy1);
            // Ultralytics' box_candidates: keep boxes over 2 px with at least 10% of their area in view
            if (cx2 - cx1 <= 2 || cy2 - cy1 <= 2 || area < 0.1 * area0) continue;
            targets.add(new float[] {idx, l.cls(), (float) ((cx1 + cx2) / 2 / size), (float) ((cy1 + cy2) / 2 / size),
                (float) ((cx2 - cx1) / size), (float) ((cy2 - cy1) / size)});
        }
        return new float[] {(float) s, ox, oy};
    }

    @Override
    public void close() { pool.shutdownNow(); }
}
