package org.jprune.yolo.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.jprune.engine.Device;
import org.jprune.engine.DeviceKind;
import org.jprune.engine.InputStager;
import org.jprune.engine.Tensor;
import org.jprune.engine.io.SafeTensors;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.Parameter;
import org.jprune.engine.optim.AdamW;
import org.jprune.engine.optim.Ema;
import org.jprune.engine.optim.LrSchedule;
import org.jprune.engine.optim.Optimizer;
import org.jprune.engine.optim.Sgd;
import org.jprune.engine.prune.Compactor;
import org.jprune.yolo.data.Loader;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.eval.CocoEval;
import org.jprune.yolo.eval.Detection;
import org.jprune.yolo.eval.Postprocess;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.loss.YoloLoss;
import org.jprune.yolo.model.Anchors;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;

/**
 * YOLOv5's training loop (train.py) on the engine: SGD with Nesterov momentum in two parameter
 * groups (biases; weights, where only conv weights decay), gradient accumulation to a nominal batch
 * of 64 with weight decay scaled to it, warmup of lr and momentum over max(3 epochs, 100 iterations)
 * (biases from 0.1 down, the rest from 0 up), one-cycle cosine or linear LR, EMA of the weights and
 * BN statistics (evaluated each epoch), checkpoints written atomically each epoch (last, best), and
 * an exact resume: the checkpoint holds weights, EMA, momentum buffers, pending gradients and
 * counters, and the loader's batches depend only on (seed, epoch, batch).
 */
public final class Trainer {
    /**
     * What a run trains, how, and where. Built with {@link #builder}: only the model, the data and the
     * output folder have no default. nbs: nominal batch (gradients accumulate to it; YOLOv5 uses 64).
     * initFrom: a checkpoint whose EMA weights start the run (fine-tuning); prepare: called on the
     * model before training starts (the pruning study sets its masks there). stopAfterEpochs: stop
     * early (tests simulate a kill), -1 none. device: where the model trains (the caller owns it;
     * checkpoints are the same whichever device wrote them).
     */
    public record Options(String model, Path data, Path out, int epochs, int batch, int nbs, int imgSize, long seed, int workers,
                          boolean cosine, Hyp hyp, OptimizerKind optimizer, AnchorMode anchors, boolean resume, Path initFrom,
                          Consumer<YoloModel> prepare, int stopAfterEpochs, Device device) {
        public Options {
            Objects.requireNonNull(model, "model");
            Objects.requireNonNull(data, "data");
            Objects.requireNonNull(out, "out");
            Objects.requireNonNull(hyp, "hyp");
            Objects.requireNonNull(optimizer, "optimizer");
            Objects.requireNonNull(anchors, "anchors");
            Objects.requireNonNull(device, "device");
            if (epochs <= 0) throw new IllegalArgumentException("epochs must be > 0, got " + epochs);
            if (batch <= 0) throw new IllegalArgumentException("batch must be > 0, got " + batch);
            if (nbs <= 0) throw new IllegalArgumentException("nominal batch must be > 0, got " + nbs);
            if (workers <= 0) throw new IllegalArgumentException("workers must be > 0, got " + workers);
            if (imgSize <= 0 || imgSize % 32 != 0) throw new IllegalArgumentException("image size must be a positive multiple of 32, got " + imgSize);
        }

        /** Defaults: 30 epochs, batch 16, nbs 64, 256 px, seed 0, 2 workers, cosine LR, hyp.scratch-low, SGD, auto anchors, CPU. */
        public static Builder builder(String model, Path data, Path out) { return new Builder(model, data, out); }

        /** A builder holding these options (to derive a variant). */
        public Builder toBuilder() {
            return new Builder(model, data, out).epochs(epochs).batch(batch).nbs(nbs).imgSize(imgSize).seed(seed).workers(workers).cosine(cosine)
                    .hyp(hyp).optimizer(optimizer).anchors(anchors).resume(resume).initFrom(initFrom).prepare(prepare).stopAfterEpochs(stopAfterEpochs)
                    .device(device);
        }

        public static final class Builder {
            private String model;
            private Path data, out, initFrom;
            private int epochs = 30, batch = 16, nbs = 64, imgSize = 256, workers = 2, stopAfterEpochs = -1;
            private long seed;
            private boolean cosine = true, resume;
            private Hyp hyp = Hyp.SCRATCH_LOW;
            private OptimizerKind optimizer = OptimizerKind.SGD;
            private AnchorMode anchors = AnchorMode.AUTO;
            private Consumer<YoloModel> prepare;
            private Device device = Device.cpu();

            private Builder(String model, Path data, Path out) {
                this.model = model;
                this.data = data;
                this.out = out;
            }

            public Builder model(String v) { model = v; return this; }
            public Builder data(Path v) { data = v; return this; }
            public Builder out(Path v) { out = v; return this; }
            public Builder epochs(int v) { epochs = v; return this; }
            public Builder batch(int v) { batch = v; return this; }
            public Builder nbs(int v) { nbs = v; return this; }
            public Builder imgSize(int v) { imgSize = v; return this; }
            public Builder seed(long v) { seed = v; return this; }
            public Builder workers(int v) { workers = v; return this; }
            /** Cosine (true, the default) or linear LR decay. */
            public Builder cosine(boolean v) { cosine = v; return this; }
            public Builder hyp(Hyp v) { hyp = v; return this; }
            public Builder optimizer(OptimizerKind v) { optimizer = v; return this; }
            public Builder anchors(AnchorMode v) { anchors = v; return this; }
            /** Continue the run in {@code out} from its last checkpoint, exactly. */
            public Builder resume(boolean v) { resume = v; return this; }
            public Builder initFrom(Path v) { initFrom = v; return this; }
            public Builder prepare(Consumer<YoloModel> v) { prepare = v; return this; }
            public Builder stopAfterEpochs(int v) { stopAfterEpochs = v; return this; }
            public Builder device(Device v) { device = v; return this; }

            public Options build() {
                return new Options(model, data, out, epochs, batch, nbs, imgSize, seed, workers, cosine, hyp, optimizer, anchors, resume, initFrom, prepare,
                        stopAfterEpochs, device);
            }
        }
    }

    /** One epoch's line of results.csv. */
    public record EpochStats(int epoch, double box, double obj, double cls, double map50, double map5095, double lr, double imgPerSec, double seconds) {}

    private final Options o;
    private final PrintStream log;
    private List<String> names = List.of();
    private String originalSize;

    public Trainer(Options options, PrintStream log) {
        this.o = options;
        this.log = log;
    }

    public List<EpochStats> run() throws IOException {
        YoloDataset.DataConfig dc = YoloDataset.readConfig(o.data());
        names = dc.names();
        YoloDataset train = YoloDataset.load(dc, "train", false), val = YoloDataset.load(dc, "val", false);
        for (YoloDataset ds : List.of(train, val)) {
            if (ds.problems().isEmpty()) continue;
            log.printf("%s: %d data problems (listed by `jprune data check`), e.g. %s%n", ds.split(), ds.problems().size(), ds.problems().get(0));
        }
        Files.createDirectories(o.out());
        try (RunLock lock = RunLock.acquire(o.out())) {
            removeStaleTemporaries(o.out());
            return run(dc, train, val);
        }
    }

    /**
     * One run per output folder: an exclusive lock on OUT/.lock for the run's lifetime, so a second
     * `train` (or study step) into the same folder fails at once instead of interleaving its files.
     */
    static final class RunLock implements AutoCloseable {
        private static final java.util.Set<Path> HELD = java.util.concurrent.ConcurrentHashMap.newKeySet();
        private final Path dir;
        private final java.nio.channels.FileChannel ch;
        private final java.nio.channels.FileLock lock;

        private RunLock(Path dir, java.nio.channels.FileChannel ch, java.nio.channels.FileLock lock) {
            this.dir = dir;
            this.ch = ch;
            this.lock = lock;
        }

        static RunLock acquire(Path out) throws IOException {
            Path dir = out.toAbsolutePath().normalize();
            if (!HELD.add(dir)) throw new IllegalArgumentException(out + ": another run in this process is writing to this folder");
            java.nio.channels.FileChannel ch = null;
            try {
                ch = java.nio.channels.FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                java.nio.channels.FileLock l;
                try {
                    l = ch.tryLock();
                } catch (java.nio.channels.OverlappingFileLockException e) {
                    l = null;
                }
                if (l == null) throw new IllegalArgumentException(out + ": another run is writing to this folder (" + dir.resolve(".lock") + " is locked)");
                return new RunLock(dir, ch, l);
            } catch (IOException | RuntimeException e) {
                HELD.remove(dir);
                if (ch != null) ch.close();
                throw e;
            }
        }

        @Override
        public void close() throws IOException {
            try {
                lock.release();
                ch.close();
            } finally {
                HELD.remove(dir);
            }
        }
    }

    /** Temporary files of atomic writes that a killed run left behind (".NAME.*.tmp"). */
    static void removeStaleTemporaries(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith(".") && n.endsWith(".tmp") && Files.isRegularFile(p)) Files.deleteIfExists(p);
            }
        }
    }

    private List<EpochStats> run(YoloDataset.DataConfig dc, YoloDataset train, YoloDataset val) throws IOException {
        Device dev = o.device();
        // the checkpoint this run starts from (read once): the resumed run's last or the fine-tuning
        // parent; it gives the anchors, a compacted parent's widths, and its pruning plan carries over
        Path lastFile = o.out().resolve("last.safetensors");
        Checkpoint parent = o.resume() ? (Files.isRegularFile(lastFile) ? Checkpoint.read(lastFile) : null)
                : o.initFrom() != null ? Checkpoint.read(o.initFrom()) : null;
        ModelConfig cfg = anchors(ModelConfig.load(o.model()).withClasses(dc.nc()), train, parent);
        if (parent != null && parent.classes() != dc.nc())
            throw new IllegalArgumentException(parent.file() + " has " + parent.classes() + " classes, " + o.data() + " has " + dc.nc());
        Compactor.Spec widths = parent == null ? null : parent.widths();
        // a pruned parent's original size travels on, so a later prune still counts against the original
        originalSize = parent == null ? null : parent.metadata().get(PruneRun.Original.KEY);
        try (YoloModel model = YoloModel.build(cfg, dev, o.seed(), widths); YoloModel evalModel = YoloModel.build(cfg, dev, o.seed(), widths);
             Loader trainLoader = new Loader(train.samples(), o.batch(), o.imgSize(), Loader.Augment.from(o.hyp()), o.seed(), o.workers());
             Loader valLoader = new Loader(val.samples(), o.batch(), o.imgSize(), Loader.Augment.NONE, o.seed(), o.workers())) {
            if (o.initFrom() != null && !o.resume()) parent.loadEmaInto(model);
            if (parent != null) model.applyPlan(parent.plan());
            if (o.prepare() != null) o.prepare().accept(model);
            evalModel.applyPlan(model.plan());
            return loop(model, evalModel, trainLoader, valLoader, dc.nc(), parent);
        }
    }

    /**
     * The run's anchors: a resumed run's or a fine-tuning parent's from their checkpoint, else per
     * {@link Options#anchors} ({@link AnchorMode}) (YOLOv5's autoanchor: box sizes at the training size, anchor_t from hyp).
     */
    private ModelConfig anchors(ModelConfig cfg, YoloDataset train, Checkpoint parent) throws IOException {
        if (parent != null) {
            String a = parent.metadata().get("anchors");
            return a == null ? cfg : cfg.withAnchors(Anchors.parse(a));
        }
        if (o.anchors() == AnchorMode.MODEL) return cfg;
        List<float[]> sizes = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(o.seed());
        for (YoloDataset.Sample s : train.samples()) {
            double scale = 0.9 + 0.2 * r.nextDouble(); // check_anchors' random 0.9-1.1 scale per image
            if (s.labels().isEmpty()) continue;
            // labels are normalised to the image; letterboxing maps its long side to imgSize
            int[] dims = org.jprune.yolo.data.Images.size(s.image());
            double fw = (double) dims[0] / Math.max(dims[0], dims[1]) * o.imgSize() * scale, fh = (double) dims[1] / Math.max(dims[0], dims[1]) * o.imgSize() * scale;
            for (YoloDataset.Label l : s.labels()) sizes.add(new float[] {(float) (l.w() * fw), (float) (l.h() * fh)});
        }
        if (sizes.isEmpty()) return cfg;
        float[][] wh = sizes.toArray(float[][]::new);
        double thr = 1 / o.hyp().anchorT();
        float[] current = Anchors.flatten(cfg.anchors());
        Anchors.Fit before = Anchors.fit(wh, current, thr);
        log.printf(Locale.ROOT, "anchors: %.2f anchors/target, best possible recall %.4f, fitness %.4f with the model's%n", before.aat(), before.bpr(), before.fitness());
        if (o.anchors() == AnchorMode.AUTO && before.bpr() > 0.98) return cfg;
        List<float[]> levels = Anchors.toLevels(Anchors.evolve(wh, current.length / 2, thr, 1000, o.seed()), cfg.anchors().size());
        Anchors.Fit after = Anchors.fit(wh, Anchors.flatten(levels), thr);
        boolean better = o.anchors() == AnchorMode.AUTO ? after.bpr() > before.bpr() : after.fitness() > before.fitness();
        log.printf(Locale.ROOT, "anchors: fitted %s: %.2f anchors/target, best possible recall %.4f, fitness %.4f (%s)%n", Anchors.format(levels),
                after.aat(), after.bpr(), after.fitness(), better ? "used" : "not better, kept the model's");
        return better ? cfg.withAnchors(levels) : cfg;
    }

    private List<EpochStats> loop(YoloModel model, YoloModel evalModel, Loader trainLoader, Loader valLoader, int nc, Checkpoint parent) throws IOException {
        Hyp hyp = o.hyp().scaled(model.levels(), nc, o.imgSize());
        int accumulateTarget = Math.max((int) Math.round((double) o.nbs() / o.batch()), 1);
        Groups opt = Groups.of(model, o.optimizer(), hyp, hyp.weightDecay() * o.batch() * accumulateTarget / o.nbs());
        LrSchedule lf = o.cosine() ? LrSchedule.cosine(o.epochs(), hyp.lrf()) : LrSchedule.linear(o.epochs(), hyp.lrf());
        YoloLoss loss = new YoloLoss(nc, model.anchorsPx(), model.strides(), hyp);
        // warmup iterations: max(warmup_epochs, 100 iterations) as YOLOv5; warmup_epochs 0 turns it off (as Ultralytics 8),
        // e.g. for fine-tuning a trained network, which otherwise spends a short run's every step below lr0
        int nb = trainLoader.batchesPerEpoch(), nw = hyp.warmupEpochs() > 0 ? (int) Math.max(Math.round(hyp.warmupEpochs() * nb), 100) : -1;
        List<EpochStats> stats = new ArrayList<>();
        // on a GPU the loss runs on the device and each batch uploads while the last step's backward runs
        boolean deviceLoss = lossOnDevice(model);
        try (Ema ema = new Ema(model.graph().stateDict(), 0.9999, 2000); InputStager stager = deviceLoss ? new InputStager(model.graph().device()) : null) {
            Checkpoint.TrainingState st = new Checkpoint.TrainingState();
            List<String> csvRows = new ArrayList<>();
            if (o.resume()) {
                Path last = o.out().resolve("last.safetensors");
                st = restore(parent, last, model, ema);
                opt.setAdamSteps(st.adamSteps);
                log.printf("resuming from %s after epoch %d%n", last, st.epoch);
                csvRows.addAll(csvRowsUpTo(o.out().resolve("results.csv"), st.epoch)); // rows of epochs after last's were not committed: they are run again
            }
            int epochsDone = 0;
            for (int epoch = st.epoch + 1; epoch < o.epochs(); epoch++) {
                long t0 = System.nanoTime();
                double[] sums = new double[3];
                int images = 0;
                Iterator<Loader.Batch> it = trainLoader.epoch(epoch, 0);
                Progress bar = new Progress(log, log == System.out && System.console() != null,
                        String.format(Locale.ROOT, "epoch %d/%d", epoch + 1, o.epochs()), nb);
                for (int i = 0; it.hasNext(); i++) {
                    Loader.Batch b = it.next();
                    long ni = i + (long) nb * epoch;
                    int accumulate = opt.schedule(ni, nw, hyp.lr0() * lf.factor(epoch), hyp, accumulateTarget, (double) o.nbs() / o.batch());
                    YoloLoss.Result r = step(model, loss, b, stager, deviceLoss, phase -> {});
                    sums[0] += r.box() / b.n(); sums[1] += r.obj() / b.n(); sums[2] += r.cls() / b.n();
                    images += b.n();
                    bar.update(i + 1, sums, images);
                    if (ni - st.lastOptStep >= accumulate) {
                        model.beforeOptimizerStep();
                        opt.step();
                        model.graph().zeroGrad();
                        ema.update(model.graph().stateDict());
                        st.lastOptStep = ni;
                    }
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                stats.add(endEpoch(epoch, new double[] {sums[0] / nb, sums[1] / nb, sums[2] / nb}, images / secs, secs, model, evalModel, ema, valLoader,
                        nc, st, opt, csvRows));
                if (++epochsDone == o.stopAfterEpochs()) break; // used by the resume test to simulate an interruption
            }
        }
        return stats;
    }

    /**
     * The end of an epoch: the EMA weights validated, then the epoch's files in an order that any kill
     * leaves consistent: best and the results row first, last.safetensors (what --resume continues
     * from) as the commit point; a resume after a kill before it runs this epoch again and rewrites the
     * same best and row.
     */
    private EpochStats endEpoch(int epoch, double[] losses, double imgPerSec, double secs, YoloModel model, YoloModel evalModel, Ema ema,
                                Loader valLoader, int nc, Checkpoint.TrainingState st, Groups opt, List<String> csvRows) throws IOException {
        maskEma(model, ema);
        CocoEval.Result m = validate(evalModel, ema, valLoader, nc);
        st.epoch = epoch;
        double fitness = 0.1 * m.map50() + 0.9 * m.map5095();
        boolean isBest = fitness > st.bestFitness;
        if (isBest) st.bestFitness = fitness;
        st.adamSteps = opt.adamSteps();
        EpochStats es = new EpochStats(epoch, losses[0], losses[1], losses[2], m.map50(), m.map5095(), opt.lr(), imgPerSec, secs);
        Path csv = o.out().resolve("results.csv");
        if (isBest) save(o.out().resolve("best.safetensors"), model, ema, st);
        csvRows.add(csvRow(es));
        writeCsv(csv, csvRows);
        save(o.out().resolve("last.safetensors"), model, ema, st);
        Path png = o.out().resolve("results.png");
        org.jprune.yolo.report.Plots.optional(png, () -> org.jprune.yolo.report.Plots.results(csv, png), log);
        log.printf(Locale.ROOT, "epoch %d/%d  box %.4f  obj %.4f  cls %.4f  mAP50 %.3f  mAP50-95 %.3f  lr %.5f  %.1f img/s  %.0f s%n",
                epoch + 1, o.epochs(), es.box(), es.obj(), es.cls(), es.map50(), es.map5095(), es.lr(), es.imgPerSec(), secs);
        return es;
    }

    /**
     * YOLOv5's two parameter groups, biases and the rest (where only conv weights decay), each with its
     * optimizer, and the per-iteration schedule of their rate and momentum.
     */
    private record Groups(Optimizer bias, Optimizer rest) {
        static Groups of(YoloModel model, OptimizerKind kind, Hyp hyp, double weightDecay) {
            List<Parameter> biases = new ArrayList<>(), rest = new ArrayList<>();
            for (Parameter p : model.graph().parameters()) (p.name().endsWith(".bias") ? biases : rest).add(p);
            return kind == OptimizerKind.ADAMW
                    ? new Groups(new AdamW(biases, hyp.lr0(), hyp.momentum(), 0.999, 1e-8, weightDecay), new AdamW(rest, hyp.lr0(), hyp.momentum(), 0.999, 1e-8, weightDecay))
                    : new Groups(new Sgd(biases, hyp.lr0(), hyp.momentum(), weightDecay, true), new Sgd(rest, hyp.lr0(), hyp.momentum(), weightDecay, true));
        }

        /**
         * Sets iteration ni's rates and momentum: during the warmup (ni <= nw) the biases fall from
         * warmup_bias_lr and the rest rise from 0 towards the epoch's {@code target}, momentum rises from
         * warmup_momentum; after it, the target and the momentum. Returns the iterations to accumulate
         * (1 rising to the nominal batch's during the warmup).
         */
        int schedule(long ni, int nw, double target, Hyp hyp, int accumulateTarget, double nbsOverBatch) {
            if (ni > nw) {
                set(target, target, hyp.momentum());
                return accumulateTarget;
            }
            set(LrSchedule.warmup((int) ni, nw, hyp.warmupBiasLr(), target), LrSchedule.warmup((int) ni, nw, 0, target),
                    LrSchedule.warmup((int) ni, nw, hyp.warmupMomentum(), hyp.momentum()));
            return Math.max(1, (int) Math.round(LrSchedule.warmup((int) ni, nw, 1, nbsOverBatch)));
        }

        private void set(double biasLr, double restLr, double momentum) {
            bias.setLr(biasLr);
            rest.setLr(restLr);
            setMomentum(bias, momentum);
            setMomentum(rest, momentum);
        }

        void step() {
            bias.step();
            rest.step();
        }

        double lr() { return rest.lr(); }

        int adamSteps() { return rest instanceof AdamW adam ? adam.stepCount() : 0; }

        void setAdamSteps(int n) {
            for (Optimizer opt : List.of(bias, rest)) if (opt instanceof AdamW adam) adam.setStepCount(n);
        }
    }

    /**
     * Holds the EMA at 0 where the model's parameter masks are 0: masks that grow during training (gradual
     * unstructured pruning) would otherwise leave the EMA, which is what gets evaluated and saved, with
     * decaying but nonzero pruned entries.
     */
    static void maskEma(YoloModel model, Ema ema) {
        Map<String, Tensor> st = ema.state();
        for (Parameter p : model.graph().parameters()) {
            Tensor e = st.get(p.name());
            if (p.mask() != null && e != null) org.jprune.engine.ops.Eltwise.mul(e, e, p.mask());
        }
    }

    /** SGD's momentum, or AdamW's beta1 (YOLOv5 warms up both through the same 'momentum' key). */
    private static void setMomentum(Optimizer opt, double m) {
        if (opt instanceof Sgd sgd) sgd.setMomentum(m);
        else if (opt instanceof AdamW adam) adam.setBeta1(m);
    }

    /**
     * One training step: forward, loss, backward; accumulates parameter gradients (also used by the
     * cross-backend check). The loss runs where {@link #lossOnDevice} says.
     */
    public static YoloLoss.Result step(YoloModel model, YoloLoss loss, Loader.Batch b) {
        return step(model, loss, b, lossOnDevice(model), phase -> {});
    }

    /**
     * Whether a step computes the loss on the model's device: on the GPU backends (cuda, cuda-emu),
     * where the head's outputs and gradients would otherwise cross to the host and back every step;
     * not on the CPU and reference backends (there the host loss, in double, is the same memory and
     * keeps every recorded CPU figure), nor with distillation (its teacher's outputs are on the host).
     */
    public static boolean lossOnDevice(YoloModel model) {
        DeviceKind k = model.graph().device().kind();
        return (k == DeviceKind.CUDA || k == DeviceKind.CUDA_EMU) && model.distillation() == null;
    }

    /**
     * Adds the distillation gradient: for every raw output s with teacher output t, d/ds of
     * BCE(sigmoid(s), sigmoid(t)) = sigmoid(s) - sigmoid(t), weighted by {@code weight x batch} over the
     * level's output cells (as the objectness loss is a mean over cells times the batch size).
     */
    public static void distill(YoloModel.Distillation kd, Tensor x, float[][] outs, float[][] grads, int batch) {
        float[][] t = kd.teacher().forwardRaw(x);
        for (int i = 0; i < outs.length; i++) {
            if (t[i].length != outs[i].length) throw new IllegalStateException("teacher output " + i + " has " + t[i].length + " values, the student's " + outs[i].length);
            int cells = outs[i].length / (5 + kd.teacher().classes());
            double w = kd.weight() * batch / cells;
            for (int k = 0; k < outs[i].length; k++) grads[i][k] += (float) (w * (sigmoid(outs[i][k]) - sigmoid(t[i][k])));
        }
    }

    private static double sigmoid(double v) { return 1 / (1 + Math.exp(-v)); }

    /**
     * {@link #step(YoloModel, YoloLoss, Loader.Batch)} with the loss placed by {@code deviceLoss} and
     * {@code phase} told the name of each phase as it ends (the GPU benchmark syncs and reads the clock
     * there to say where a step's time goes). Host loss: images uploaded, forward, outputs to the host,
     * loss on the host, gradients to the device, backward. Device loss: images uploaded, forward, loss
     * on the device (matching on the host, matches up, three floats down), backward.
     */
    public static YoloLoss.Result step(YoloModel model, YoloLoss loss, Loader.Batch b, boolean deviceLoss, Consumer<String> phase) {
        return step(model, loss, b, null, deviceLoss, phase);
    }

    /**
     * The step with its images uploaded through {@code stager} (asynchronously on a GPU: the copy
     * overlaps the previous step's queued work), or as a new tensor when it is null.
     */
    public static YoloLoss.Result step(YoloModel model, YoloLoss loss, Loader.Batch b, InputStager stager, boolean deviceLoss, Consumer<String> phase) {
        if (deviceLoss && model.distillation() != null) throw new IllegalArgumentException("distillation needs the loss on the host");
        Device dev = model.graph().device();
        if (stager != null && stager.device() != dev) throw new IllegalArgumentException("the stager uploads to " + stager.device() + ", the model is on " + dev);
        Tensor staged = stager == null ? null : stager.stage(b.images(), b.n(), 3, b.size(), b.size());
        try (Tensor owned = staged == null ? Tensor.of(dev, b.images(), b.n(), 3, b.size(), b.size()) : null) {
            Tensor x = staged != null ? staged : owned;
            phase.accept("upload images");
            try (Graph.Execution ex = model.graph().forward(x, true)) {
                phase.accept("forward");
                int levels = model.levels();
                List<Tensor> g = new ArrayList<>();
                try {
                    YoloLoss.Result r;
                    if (deviceLoss) {
                        List<Tensor> outs = new ArrayList<>();
                        for (int i = 0; i < levels; i++) {
                            outs.add(ex.output(i));
                            g.add(Tensor.empty(dev, ex.output(i).shape()));
                        }
                        r = loss.compute(outs, b.n(), b.targets(), b.targetCount(), g);
                        phase.accept("loss on the device");
                    } else {
                        float[][] outs = new float[levels][], grads = new float[levels][];
                        int[] ny = new int[levels], nx = new int[levels];
                        for (int i = 0; i < levels; i++) {
                            Tensor t = ex.output(i);
                            outs[i] = t.toArray();
                            grads[i] = new float[outs[i].length];
                            ny[i] = t.dim(2);
                            nx[i] = t.dim(3);
                        }
                        phase.accept("outputs to the host");
                        r = loss.compute(outs, b.n(), ny, nx, b.targets(), b.targetCount(), grads, null);
                        if (model.distillation() != null) distill(model.distillation(), x, outs, grads, b.n());
                        phase.accept("loss on the host");
                        for (int i = 0; i < levels; i++) g.add(Tensor.of(dev, grads[i], ex.output(i).shape()));
                        phase.accept("gradients to the device");
                    }
                    ex.backward(g);
                    phase.accept("backward");
                    return r;
                } finally {
                    g.forEach(Tensor::close);
                }
            }
        }
    }

    /** mAP of the EMA weights on the validation loader. */
    static CocoEval.Result validate(YoloModel evalModel, Ema ema, Loader valLoader, int nc) {
        Map<String, Tensor> dst = evalModel.graph().stateDict();
        ema.state().forEach((k, v) -> dst.get(k).copyFrom(v));
        return evaluate(evalModel, valLoader, nc);
    }

    public static CocoEval.Result evaluate(YoloModel model, Loader loader, int nc) {
        CocoEval eval = new CocoEval(nc);
        Device cpu = model.graph().device();
        float[][] anchors = model.anchorsPx();
        for (Iterator<Loader.Batch> it = loader.epoch(0, 0); it.hasNext(); ) {
            Loader.Batch b = it.next();
            float[][] outs;
            int[] grid = model.grid(b.size());
            try (Tensor x = Tensor.of(cpu, b.images(), b.n(), 3, b.size(), b.size())) {
                outs = model.forwardRaw(x);
            }
            List<List<CocoEval.Truth>> truths = new ArrayList<>();
            for (int k = 0; k < b.n(); k++) truths.add(new ArrayList<>());
            float s = b.size();
            for (int t = 0; t < b.targetCount(); t++) {
                float[] r = java.util.Arrays.copyOfRange(b.targets(), t * 6, t * 6 + 6);
                truths.get((int) r[0]).add(new CocoEval.Truth((r[2] - r[4] / 2) * s, (r[3] - r[5] / 2) * s, (r[2] + r[4] / 2) * s, (r[3] + r[5] / 2) * s, (int) r[1]));
            }
            for (int k = 0; k < b.n(); k++) {
                List<Detection> d = Postprocess.image(outs, k, grid, grid, model.strides(), anchors, nc, Postprocess.Settings.VAL);
                eval.add(d, truths.get(k));
            }
        }
        return eval.evaluate();
    }

    // ---------------------------------------------------------------- checkpoints

    private void save(Path file, YoloModel model, Ema ema, Checkpoint.TrainingState st) throws IOException {
        Map<String, String> meta = Checkpoint.modelMetadata(model, o.model(), names, o.imgSize());
        meta.put("data", o.data().toAbsolutePath().normalize().toString());
        if (originalSize != null) meta.put(PruneRun.Original.KEY, originalSize);
        meta.put("optimizer", o.optimizer().label());
        meta.put("hyp", o.hyp().diff());
        Checkpoint.writeTraining(file, model, ema, st, meta);
    }

    /** The state of checkpoint {@code c} (read from {@code file}; null when there is none). */
    private Checkpoint.TrainingState restore(Checkpoint c, Path file, YoloModel model, Ema ema) throws IOException {
        if (c == null) throw new IOException("--resume: no checkpoint " + file);
        if (c.imageSize() != o.imgSize())
            throw new IllegalArgumentException("--resume: " + file + " was trained at --img " + c.imageSize() + ", not " + o.imgSize());
        String data = c.metadata().get("data");
        if (data != null && !data.equals(o.data().toAbsolutePath().normalize().toString()))
            throw new IllegalArgumentException("--resume: " + file + " was trained on --data " + data + ", not " + o.data().toAbsolutePath().normalize());
        if (!o.model().equals(c.model()) || model.classes() != c.classes())
            throw new IOException(file + ": checkpoint is for model " + c.model() + " with " + c.classes() + " classes, not " + o.model());
        String opt = c.metadata().getOrDefault("optimizer", "SGD");
        if (OptimizerKind.parse(opt) != o.optimizer()) throw new IOException(file + ": checkpoint was trained with " + opt + ", not " + o.optimizer());
        return c.restoreTraining(model, ema);
    }

    static final String CSV_HEADER = "epoch,train/box_loss,train/obj_loss,train/cls_loss,metrics/mAP_0.5,metrics/mAP_0.5:0.95,lr,img_per_s,seconds";

    private static String csvRow(EpochStats s) {
        return String.format(Locale.ROOT, "%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.2f,%.1f", s.epoch(), s.box(), s.obj(), s.cls(), s.map50(), s.map5095(), s.lr(),
                s.imgPerSec(), s.seconds());
    }

    /** Rewrites results.csv whole, atomically (a kill never leaves half a row). */
    private static void writeCsv(Path csv, List<String> rows) throws IOException {
        StringBuilder sb = new StringBuilder(CSV_HEADER).append('\n');
        for (String r : rows) sb.append(r).append('\n');
        SafeTensors.atomicWrite(csv, sb.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** The rows of an existing results.csv for epochs up to {@code epoch} (a resumed run's committed ones). */
    private static List<String> csvRowsUpTo(Path csv, int epoch) throws IOException {
        List<String> rows = new ArrayList<>();
        if (!Files.isRegularFile(csv)) return rows;
        for (String line : Files.readAllLines(csv)) {
            if (line.isBlank() || line.startsWith("epoch")) continue;
            try {
                if (Integer.parseInt(line.substring(0, line.indexOf(','))) <= epoch) rows.add(line);
            } catch (RuntimeException e) {
                throw new IOException(csv + ": malformed row '" + line + "'");
            }
        }
        return rows;
    }
}
