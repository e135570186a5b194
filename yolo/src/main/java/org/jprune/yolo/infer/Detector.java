package org.jprune.yolo.infer;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jprune.engine.CpuThreads;
import org.jprune.engine.Device;
import org.jprune.engine.DeviceKind;
import org.jprune.engine.Tensor;
import org.jprune.yolo.data.Loader;
import org.jprune.yolo.eval.Detection;
import org.jprune.yolo.eval.Postprocess;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.train.Checkpoint;

/**
 * Object detection for servers: load a checkpoint once, call {@link #detect} from any number of
 * threads (each call runs its own forward pass over the shared, read-only weights), and
 * {@link #close()} to free the native memory at a known point; calls after close throw. Boxes come
 * back in the pixel coordinates of the image given.
 */
public final class Detector implements AutoCloseable {
    /** A detection in the original image's pixels. */
    public record Box(float x1, float y1, float x2, float y2, float confidence, int classId, String className) {}

    private final YoloModel model;
    private final int size;
    private final List<String> names;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final boolean onCpu;
    private final int cores;
    private volatile int threadsPerCall;
    private boolean closed;

    private Detector(YoloModel model, int size, List<String> names) {
        this.model = model;
        this.size = size;
        this.names = List.copyOf(names);
        this.onCpu = model.graph().device().kind() == DeviceKind.CPU;
        model.graph().foldBatchNorms(); // inference only: each batch norm folded into its conv
        // the activation after a conv in the conv's epilogue: on a GPU it saves a pass over the output; on
        // the CPU the epilogue's SiLU is the faster AVX-512 form (jp_act_rows): 2-10% faster end to end
        // in 13 of 16 cases of the bench's serve section (its 'fusion' column)
        model.graph().fuseActivations();
        this.cores = onCpu ? CpuThreads.stats().cores() : 1;
    }

    /**
     * A detector over a model built or pruned in code (the detector owns it from now on, folds its
     * batch norms into the convolutions for inference and closes it); imageSize: the square input the model runs at (a multiple of its largest stride).
     */
    public static Detector of(YoloModel model, int imageSize, List<String> names) {
        if (model == null) throw new IllegalArgumentException("Detector.of: model is null");
        int stride = model.strides()[model.strides().length - 1];
        if (imageSize < stride || imageSize % stride != 0)
            throw new IllegalArgumentException("Detector.of: imageSize " + imageSize + " is not a positive multiple of the model's stride " + stride);
        if (names == null || names.size() != model.classes())
            throw new IllegalArgumentException("Detector.of: " + (names == null ? "null" : names.size()) + " class names for a model of " + model.classes() + " classes");
        return new Detector(model, imageSize, names);
    }

    /**
     * CPU worker threads each detect call uses: 0 (the default) divides the cores among the calls in
     * flight (one call alone gets them all; four calls on four cores get one each), n > 0 fixes it.
     * The backend's adaptive limit still applies on top (see {@link CpuThreads}).
     */
    public void setThreadsPerCall(int threads) {
        if (threads < 0) throw new IllegalArgumentException("threadsPerCall must be >= 0, got " + threads);
        threadsPerCall = threads;
    }

    /** A detector from a checkpoint written by {@code jprune train} or {@code jprune prune} (its EMA weights), on the CPU. */
    public static Detector load(Path checkpoint) throws IOException { return load(checkpoint, Device.cpu()); }

    /** The same on a device ({@link Device#parse}: cpu, cuda[:N], cuda-emu); the caller keeps owning the device. */
    public static Detector load(Path checkpoint, Device device) throws IOException {
        Checkpoint c = Checkpoint.read(checkpoint);
        return new Detector(c.buildModel(device), c.imageSize(), c.names());
    }

    public int inputSize() { return size; }
    /** The device the model runs on. */
    public Device device() { return model.graph().device(); }
    public List<String> classNames() { return names; }

    public List<Box> detect(BufferedImage image) { return detect(List.of(image), Postprocess.Settings.DETECT).get(0); }

    /** One batched forward pass over the images; settings: confidence / IoU thresholds and the box limit. */
    public List<List<Box>> detect(List<BufferedImage> images, Postprocess.Settings settings) {
        if (images.isEmpty()) return List.of();
        lock.readLock().lock();
        int calls = inFlight.incrementAndGet();
        try {
            if (closed) throw new IllegalStateException("detector is closed");
            if (onCpu) CpuThreads.setForThisThread(threadsPerCall > 0 ? threadsPerCall : Math.max(1, cores / calls));
            int b = images.size();
            float[] in = new float[b * 3 * size * size];
            float[][] lb = new float[b][];
            for (int i = 0; i < b; i++) {
                if (images.get(i) == null) throw new IllegalArgumentException("detect: image " + i + " is null");
                lb[i] = Loader.letterbox(images.get(i), size, in, i);
            }
            float[][] outs;
            try (Tensor x = Tensor.of(model.graph().device(), in, b, 3, size, size)) {
                outs = model.forwardRaw(x);
            }
            int[] grid = model.grid(size);
            float[][] anchors = model.anchorsPx();
            List<List<Box>> result = new ArrayList<>();
            for (int i = 0; i < b; i++) {
                int w = images.get(i).getWidth(), h = images.get(i).getHeight();
                float s = lb[i][0], px = lb[i][1], py = lb[i][2];
                List<Box> boxes = new ArrayList<>();
                for (Detection d : Postprocess.image(outs, i, grid, grid, model.strides(), anchors, model.classes(), settings)) {
                    float x1 = clamp((d.x1() - px) / s, w), y1 = clamp((d.y1() - py) / s, h), x2 = clamp((d.x2() - px) / s, w), y2 = clamp((d.y2() - py) / s, h);
                    if (x2 > x1 && y2 > y1) boxes.add(new Box(x1, y1, x2, y2, d.conf(), d.cls(), names.get(d.cls())));
                }
                result.add(boxes);
            }
            return result;
        } finally {
            if (onCpu) CpuThreads.setForThisThread(0);
            inFlight.decrementAndGet();
            lock.readLock().unlock();
        }
    }

    private static float clamp(float v, int max) { return Math.max(0, Math.min(max, v)); }

    /** Frees the model's native memory; waits for calls in flight. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                model.close();
            }
        } finally {
            lock.writeLock().unlock();
        }
    }
}
