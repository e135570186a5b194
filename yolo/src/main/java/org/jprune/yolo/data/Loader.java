package org.jprune.yolo.data;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
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
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.Future;

/**
 * Turns samples into batches: letterbox to a square input (grey 114 padding), training augmentation
 * (horizontal flip, HSV gains, random scale and translate), float CHW in [0, 1]. Batches are decoded
 * on worker threads and prefetched, so the model does not wait on PNG decoding. Every batch depends
 * only on (seed, epoch, batch index), whatever the thread timing: a resumed run sees the same data.
 */
public final class Loader implements AutoCloseable {
    /**
     * Augmentation settings (Ultralytics hyp names; {@link #from} takes them from a Hyp). mosaic: the
     * probability of a 4-image mosaic; scale/translate: the random affine's gain 1 +- scale and shift
     * +- translate x size, applied to the mosaic (2x canvas) or to the letterboxed image.
     */
    public record Augment(double hsvH, double hsvS, double hsvV, double translate, double scale, double flipLr, double mosaic) {
        public static final Augment NONE = new Augment(0, 0, 0, 0, 0, 0, 0);

        public static Augment from(org.jprune.yolo.loss.Hyp h) {
            return new Augment(h.hsvH(), h.hsvS(), h.hsvV(), h.translate(), h.scale(), h.fliplr(), h.mosaic());
        }

        boolean none() { return equals(NONE); }
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
    /* Decoded images, kept while all loaders together hold less than a quarter of the heap: an epoch
     * then decodes each PNG once per run instead of once per epoch (0.7 ms of a 2 ms image on the
     * benchmark set). Pixels are only read after decoding, so sharing them between workers is safe. */
    private static final AtomicLong CACHED_BYTES = new AtomicLong();
    private static final long CACHE_BUDGET = Runtime.getRuntime().maxMemory() / 4;
    private final AtomicReferenceArray<Pixels> cache;
    private final AtomicLong ownBytes = new AtomicLong();

    public Loader(List<YoloDataset.Sample> samples, int batchSize, int size, Augment augment, long seed, int workers) {
        if (samples.isEmpty()) throw new IllegalArgumentException("loader: no samples");
        if (batchSize <= 0 || batchSize > 4096) throw new IllegalArgumentException("batch must be in [1, 4096], got " + batchSize);
        if (size <= 0 || size % 32 != 0 || size > org.jprune.yolo.Limits.MAX_IMAGE_SIZE)
            throw new IllegalArgumentException("image size must be a positive multiple of 32 up to " + org.jprune.yolo.Limits.MAX_IMAGE_SIZE + ", got " + size);
        if (workers < 1 || workers > 256) throw new IllegalArgumentException("workers must be in [1, 256], got " + workers);
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
        this.cache = new AtomicReferenceArray<>(samples.size());
    }

    public int batchesPerEpoch() { return (samples.size() + batchSize - 1) / batchSize; }

    /** The epoch's batches in a seeded shuffled order (no shuffle when augment is NONE: evaluation order). */
    public Iterator<Batch> epoch(int epoch, int startBatch) {
        int[] order = new int[samples.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        if (!augment.none()) {
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
            int index = order[from + i];
            YoloDataset.Sample s = samples.get(index);
            SplittableRandom r = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (epoch + 1)) ^ ((long) index << 20));
            Pixels im = read(index);
            orig[i] = new int[] {im.w(), im.h()};
            paths.add(s.image());
            if (augment.none()) {
                lb[i] = letterbox(im, s.labels(), size, images, i, targets);
                continue;
            }
            Canvas c;
            if (augment.mosaic() > 0 && r.nextDouble() < augment.mosaic()) {
                int[] idx = {index, r.nextInt(samples.size()), r.nextInt(samples.size()), r.nextInt(samples.size())};
                Pixels[] ims = new Pixels[4];
                for (int k = 0; k < 4; k++) ims[k] = k == 0 ? im : read(idx[k]);
                List<List<YoloDataset.Label>> labels = new ArrayList<>();
                for (int k : idx) labels.add(samples.get(k).labels());
                c = mosaic(ims, labels, size, r);
            } else {
                c = letterboxCanvas(im, s.labels(), size);
            }
            lb[i] = new float[] {1, 0, 0}; // augmented: no inverse transform
            augmentInto(c, r, augment, size, images, i, targets);
        }
        float[] t = new float[targets.size() * 6];
        for (int i = 0; i < targets.size(); i++) System.arraycopy(targets.get(i), 0, t, i * 6, 6);
        return new Batch(images, n, size, t, targets.size(), paths, lb, orig);
    }

    private Pixels read(int index) {
        Pixels im = cache.get(index);
        if (im != null) return im;
        try {
            im = Pixels.of(Images.read(samples.get(index).image()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        long bytes = 4L * im.px().length;
        if (CACHED_BYTES.addAndGet(bytes) <= CACHE_BUDGET && cache.compareAndSet(index, null, im)) {
            ownBytes.addAndGet(bytes);
        } else {
            CACHED_BYTES.addAndGet(-bytes);
        }
        return im;
    }

    /** An RGB image (0xRRGGBB per pixel, row-major) with boxes in its pixels: rows of (cls, x1, y1, x2, y2). */
    record Canvas(int[] px, int w, int h, List<double[]> boxes) {}

    private static final int GREY = 114 << 16 | 114 << 8 | 114;

    /** A decoded image as 0xRRGGBB ints, row-major: what augmentation reads (BufferedImage.getRGB goes through the colour model per pixel). */
    record Pixels(int[] px, int w, int h) {
        static Pixels of(BufferedImage im) {
            int w = im.getWidth(), h = im.getHeight();
            int[] px = new int[w * h];
            if (im.getType() == BufferedImage.TYPE_3BYTE_BGR && im.getRaster().getDataBuffer() instanceof DataBufferByte db
                    && im.getRaster().getParent() == null && db.getData().length == 3 * w * h) {
                byte[] b = db.getData();
                for (int i = 0, j = 0; i < px.length; i++, j += 3) px[i] = (b[j + 2] & 255) << 16 | (b[j + 1] & 255) << 8 | (b[j] & 255);
            } else if (im.getType() == BufferedImage.TYPE_BYTE_GRAY || im.getType() == BufferedImage.TYPE_USHORT_GRAY) {
                // the stored grey values as they are (what OpenCV and PIL give): getRGB would convert
                // the linear grey colour space to sRGB (a stored 50 reads as 122)
                java.awt.image.Raster r = im.getRaster();
                int shift = im.getType() == BufferedImage.TYPE_USHORT_GRAY ? 8 : 0;
                int[] row = new int[w];
                for (int y = 0; y < h; y++) {
                    r.getSamples(0, y, w, 1, 0, row);
                    for (int x = 0; x < w; x++) { int v = row[x] >> shift; px[y * w + x] = v << 16 | v << 8 | v; }
                }
            } else {
                im.getRGB(0, 0, w, h, px, 0, w);
                for (int i = 0; i < px.length; i++) px[i] &= 0xFFFFFF;
            }
            return new Pixels(px, w, h);
        }

        BufferedImage toImage() {
            BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            im.setRGB(0, 0, w, h, px, 0, w);
            return im;
        }
    }

    /** Letterbox without augmentation into slot idx of out ([n][3][size][size]); returns (scale, padX, padY). */
    public static float[] letterbox(BufferedImage im, int size, float[] out, int idx) {
        return letterbox(Pixels.of(im), List.of(), size, out, idx, new ArrayList<>());
    }

    private static float[] letterbox(Pixels im, List<YoloDataset.Label> labels, int size, float[] out, int idx, List<float[]> targets) {
        Canvas c = letterboxCanvas(im, labels, size);
        writeChw(c.px(), size, out, idx);
        addTargets(c.boxes(), null, size, idx, targets, false);
        double s = (double) size / Math.max(im.w(), im.h());
        int nw = Math.max(1, (int) Math.round(im.w() * s)), nh = Math.max(1, (int) Math.round(im.h() * s));
        return new float[] {(float) s, (int) Math.round((size - nw) / 2.0), (int) Math.round((size - nh) / 2.0)};
    }

    /** The image scaled so its long side is size, centred on a grey size x size canvas. */
    static Canvas letterboxCanvas(Pixels im, List<YoloDataset.Label> labels, int size) {
        int w = im.w(), h = im.h();
        double s = (double) size / Math.max(w, h);
        int nw = Math.max(1, (int) Math.round(w * s)), nh = Math.max(1, (int) Math.round(h * s));
        int ox = (int) Math.round((size - nw) / 2.0), oy = (int) Math.round((size - nh) / 2.0);
        int[] px = new int[size * size];
        java.util.Arrays.fill(px, GREY);
        paste(im, nw, nh, px, size, size, ox, oy);
        List<double[]> boxes = new ArrayList<>();
        for (YoloDataset.Label l : labels)
            boxes.add(new double[] {l.cls(), (l.cx() - l.w() / 2) * nw + ox, (l.cy() - l.h() / 2) * nh + oy,
                (l.cx() + l.w() / 2) * nw + ox, (l.cy() + l.h() / 2) * nh + oy});
        return new Canvas(px, size, size, boxes);
    }

    /** Draws im resized to nw x nh with its top-left at (ox, oy) into a w x h pixel array (clipped). */
    private static void paste(Pixels im, int nw, int nh, int[] px, int w, int h, int ox, int oy) {
        Pixels src = im;
        if (nw != im.w() || nh != im.h()) {
            BufferedImage scaled = new BufferedImage(nw, nh, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = scaled.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(im.toImage(), 0, 0, nw, nh, null);
            g.dispose();
            src = Pixels.of(scaled);
        }
        int x0 = Math.max(0, ox), y0 = Math.max(0, oy), x1 = Math.min(w, ox + nw), y1 = Math.min(h, oy + nh);
        for (int y = y0; y < y1; y++) System.arraycopy(src.px(), (y - oy) * nw + (x0 - ox), px, y * w + x0, x1 - x0);
    }

    /**
     * Ultralytics' load_mosaic: four images, each scaled so its long side is size, meet at a random
     * centre in the middle half of a grey 2size x 2size canvas; boxes are clipped to the canvas.
     */
    static Canvas mosaic(Pixels[] ims, List<List<YoloDataset.Label>> labels, int size, SplittableRandom r) {
        int cs = 2 * size;
        int xc = (int) (size / 2.0 + r.nextDouble() * size), yc = (int) (size / 2.0 + r.nextDouble() * size);
        int[] px = new int[cs * cs];
        java.util.Arrays.fill(px, GREY);
        List<double[]> boxes = new ArrayList<>();
        for (int k = 0; k < 4; k++) {
            Pixels im = ims[k];
            double s = (double) size / Math.max(im.w(), im.h());
            int w = Math.max(1, (int) Math.round(im.w() * s)), h = Math.max(1, (int) Math.round(im.h() * s));
            // top-left corner of the image on the canvas: each sits in its quadrant against the centre
            int ox = k % 2 == 0 ? xc - w : xc, oy = k < 2 ? yc - h : yc;
            paste(im, w, h, px, cs, cs, ox, oy);
            int qx0 = k % 2 == 0 ? 0 : xc, qx1 = k % 2 == 0 ? xc : cs, qy0 = k < 2 ? 0 : yc, qy1 = k < 2 ? yc : cs;
            for (YoloDataset.Label l : labels.get(k)) {
                double x1 = (l.cx() - l.w() / 2) * w + ox, y1 = (l.cy() - l.h() / 2) * h + oy;
                double x2 = (l.cx() + l.w() / 2) * w + ox, y2 = (l.cy() + l.h() / 2) * h + oy;
                // clip to the quadrant the image fills (Ultralytics clips to the canvas; an image never leaves its quadrant)
                x1 = Math.max(qx0, Math.min(qx1, x1)); x2 = Math.max(qx0, Math.min(qx1, x2));
                y1 = Math.max(qy0, Math.min(qy1, y1)); y2 = Math.max(qy0, Math.min(qy1, y2));
                if (x2 > x1 && y2 > y1) boxes.add(new double[] {l.cls(), x1, y1, x2, y2});
            }
        }
        return new Canvas(px, cs, cs, boxes);
    }

    /**
     * Ultralytics' random_perspective restricted to scale and translate (hyp.scratch-low has no
     * rotation, shear or perspective), then HSV gains and a horizontal flip: the canvas centre is
     * scaled by 1 +- scale and moved to (0.5 +- translate) x size of a size x size output (bilinear,
     * grey 114 outside); boxes follow, are clipped, and kept as box_candidates keeps them.
     */
    static void augmentInto(Canvas c, SplittableRandom r, Augment a, int size, float[] out, int idx, List<float[]> targets) {
        double g = 1 + (r.nextDouble() * 2 - 1) * a.scale();
        double tx = (0.5 + (r.nextDouble() * 2 - 1) * a.translate()) * size, ty = (0.5 + (r.nextDouble() * 2 - 1) * a.translate()) * size;
        double cx = c.w() / 2.0, cy = c.h() / 2.0;
        int[] dst = new int[size * size];
        double inv = 1 / g;
        for (int y = 0; y < size; y++) {
            double v = (y + 0.5 - ty) * inv + cy - 0.5;
            for (int x = 0; x < size; x++) {
                double u = (x + 0.5 - tx) * inv + cx - 0.5;
                dst[y * size + x] = bilinear(c.px(), c.w(), c.h(), u, v);
            }
        }
        boolean flip = a.flipLr() > 0 && r.nextDouble() < a.flipLr();
        if (flip)
            for (int y = 0; y < size; y++)
                for (int x = 0, row = y * size; x < size / 2; x++) {
                    int t = dst[row + x];
                    dst[row + x] = dst[row + size - 1 - x];
                    dst[row + size - 1 - x] = t;
                }
        if (a.hsvH() > 0 || a.hsvS() > 0 || a.hsvV() > 0)
            hsv(dst, 1 + (r.nextDouble() * 2 - 1) * a.hsvH(), 1 + (r.nextDouble() * 2 - 1) * a.hsvS(), 1 + (r.nextDouble() * 2 - 1) * a.hsvV());
        writeChw(dst, size, out, idx);
        List<double[]> moved = new ArrayList<>();
        for (double[] b : c.boxes()) {
            double x1 = (b[1] - cx) * g + tx, x2 = (b[3] - cx) * g + tx, y1 = (b[2] - cy) * g + ty, y2 = (b[4] - cy) * g + ty;
            if (flip) {
                double t = size - x1;
                x1 = size - x2;
                x2 = t;
            }
            moved.add(new double[] {b[0], x1, y1, x2, y2});
        }
        addTargets(moved, moved, size, idx, targets, true);
    }

    private static int bilinear(int[] px, int w, int h, double u, double v) {
        int x0 = (int) Math.floor(u), y0 = (int) Math.floor(v);
        double fx = u - x0, fy = v - y0;
        int p00 = at(px, w, h, x0, y0), p10 = at(px, w, h, x0 + 1, y0), p01 = at(px, w, h, x0, y0 + 1), p11 = at(px, w, h, x0 + 1, y0 + 1);
        int out = 0;
        for (int sh = 16; sh >= 0; sh -= 8) {
            double top = ((p00 >> sh) & 255) * (1 - fx) + ((p10 >> sh) & 255) * fx;
            double bot = ((p01 >> sh) & 255) * (1 - fx) + ((p11 >> sh) & 255) * fx;
            out |= ((int) (top * (1 - fy) + bot * fy + 0.5)) << sh;
        }
        return out;
    }

    private static int at(int[] px, int w, int h, int x, int y) {
        return x < 0 || y < 0 || x >= w || y >= h ? GREY : px[y * w + x];
    }

    /**
     * HSV gains as Ultralytics' augment_hsv applies them: OpenCV's 8-bit HSV (hue 0-179, saturation
     * and value 0-255), hue multiplied modulo 180, saturation and value multiplied and clipped (the
     * lookup tables of augment_hsv), back to RGB. Integer conversion, no per-pixel allocation or
     * library call (java.awt.Color's float round trip took half of an image's augmentation time).
     */
    public static void hsv(int[] px, double gh, double gs, double gv) {
        int[] lutH = new int[180], lutS = new int[256], lutV = new int[256];
        for (int x = 0; x < 180; x++) lutH[x] = (int) (x * gh) % 180;
        for (int x = 0; x < 256; x++) {
            lutS[x] = (int) Math.max(0, Math.min(255, x * gs));
            lutV[x] = (int) Math.max(0, Math.min(255, x * gv));
        }
        for (int p = 0; p < px.length; p++) {
            int c = px[p], r = (c >> 16) & 255, g = (c >> 8) & 255, b = c & 255;
            int v = Math.max(r, Math.max(g, b)), diff = v - Math.min(r, Math.min(g, b));
            int s = (diff * SDIV[v] + (1 << 11)) >> 12, h = 0; // h in half degrees, as OpenCV's 8-bit hue
            if (diff > 0) {
                int num = v == r ? g - b : v == g ? b - r : r - g, off = v == r ? 0 : v == g ? 60 : 120;
                h = off + ((num * HDIV[diff] + (1 << 11)) >> 12);
                if (h < 0) h += 180;
                if (h >= 180) h -= 180;
            }
            px[p] = hsvToRgb(lutH[h], lutS[s], lutV[v]);
        }
    }

    /* OpenCV's division tables: s = 255 diff / v and the 30 diff-units of a hue sector, in 12-bit fixed point */
    private static final int[] SDIV = new int[256], HDIV = new int[256];
    static {
        for (int i = 1; i < 256; i++) {
            SDIV[i] = (int) Math.round((255 << 12) / (double) i);
            HDIV[i] = (int) Math.round((30 << 12) / (double) i);
        }
    }

    /** OpenCV's HSV (hue 0-179 in half degrees, s and v 0-255) to 0xRRGGBB. */
    static int hsvToRgb(int h, int s, int v) {
        if (s == 0) return v << 16 | v << 8 | v;
        float hh = h / 30f, sf = s / 255f; // sector 0..6
        int i = (int) hh;
        float f = hh - i, p = v * (1 - sf), q = v * (1 - sf * f), t = v * (1 - sf * (1 - f));
        float r, g, b;
        switch (i % 6) {
            case 0 -> { r = v; g = t; b = p; }
            case 1 -> { r = q; g = v; b = p; }
            case 2 -> { r = p; g = v; b = t; }
            case 3 -> { r = p; g = q; b = v; }
            case 4 -> { r = t; g = p; b = v; }
            default -> { r = v; g = p; b = q; }
        }
        return Math.round(r) << 16 | Math.round(g) << 8 | Math.round(b);
    }

    private static void writeChw(int[] px, int size, float[] out, int idx) {
        int plane = size * size, base = idx * 3 * plane;
        final float k = 1 / 255f;
        for (int p = 0; p < plane; p++) {
            int c = px[p];
            out[base + p] = ((c >> 16) & 255) * k;
            out[base + plane + p] = ((c >> 8) & 255) * k;
            out[base + 2 * plane + p] = (c & 255) * k;
        }
    }

    /**
     * Clips boxes (cls, x1, y1, x2, y2) to the size x size input and adds them as targets, dropping
     * what Ultralytics' box_candidates drops: sides of 2 px or less, under 10% of the unclipped area
     * left (when unclipped is given), aspect ratio over 100. Without filter (evaluation) only boxes
     * with nothing left inside are dropped: ground truth is never thinned.
     */
    private static void addTargets(List<double[]> boxes, List<double[]> unclipped, int size, int idx, List<float[]> targets, boolean filter) {
        for (int i = 0; i < boxes.size(); i++) {
            double[] b = boxes.get(i);
            double x1 = Math.max(0, b[1]), x2 = Math.min(size, b[3]), y1 = Math.max(0, b[2]), y2 = Math.min(size, b[4]);
            double w = x2 - x1, h = y2 - y1;
            if (w <= 0 || h <= 0) continue;
            if (filter && (w <= 2 || h <= 2 || Math.max(w / h, h / w) > 100)) continue;
            if (filter && unclipped != null) {
                double[] u = unclipped.get(i);
                if (w * h < 0.1 * (u[3] - u[1]) * (u[4] - u[2])) continue;
            }
            targets.add(new float[] {idx, (float) b[0], (float) ((x1 + x2) / 2 / size), (float) ((y1 + y2) / 2 / size), (float) (w / size), (float) (h / size)});
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
        for (int i = 0; i < cache.length(); i++) cache.set(i, null);
        CACHED_BYTES.addAndGet(-ownBytes.getAndSet(0));
    }
}
