package org.jprune.yolo.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.io.SafeTensors;
import org.jprune.engine.prune.Compactor;
import org.jprune.engine.prune.PruningPlan;
import org.jprune.yolo.Limits;
import org.jprune.yolo.model.Anchors;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;

/**
 * A training checkpoint: one safetensors file holding model/, ema/, grad/ and optim/ tensors, with the
 * run's facts in its metadata. Both sides live here: {@link #writeTraining} (each epoch of a
 * {@link Trainer} run) and {@link #restoreTraining} (its resume), {@link #writeModel} (the weights-only
 * compact models of pruning), and {@link #read} for everything that loads one (resume, fine-tuning,
 * val, the Detector).
 */
public final class Checkpoint {
    public static final String FORMAT = "jprune-yolo-checkpoint/1";

    private final Path file;
    private final SafeTensors.Contents contents;

    private Checkpoint(Path file, SafeTensors.Contents contents) {
        this.file = file;
        this.contents = contents;
    }

    /** Reads the file and checks it is a training checkpoint. */
    public static Checkpoint read(Path file) throws IOException {
        SafeTensors.Contents c = SafeTensors.read(file);
        if (!FORMAT.equals(c.metadata().get("format"))) throw new IOException(file + ": not a jprune training checkpoint");
        return new Checkpoint(file, c);
    }

    public Path file() { return file; }
    public Map<String, String> metadata() { return contents.metadata(); }
    public Map<String, SafeTensors.Entry> tensors() { return contents.tensors(); }
    public String model() { return metadata().get("model"); }
    public int classes() {
        int nc = intMeta("nc");
        if (nc < 1 || nc > Limits.MAX_CLASSES) throw new IllegalArgumentException(file + ": metadata nc is " + nc + ", not in [1, " + Limits.MAX_CLASSES + "]");
        return nc;
    }

    public int imageSize() {
        int img = intMeta("img");
        if (img <= 0 || img % 32 != 0 || img > Limits.MAX_IMAGE_SIZE)
            throw new IllegalArgumentException(file + ": metadata img is " + img + ", not a positive multiple of 32 up to " + Limits.MAX_IMAGE_SIZE);
        return img;
    }

    int intMeta(String key) { return meta(key, Integer::parseInt, "an integer"); }
    long longMeta(String key) { return meta(key, Long::parseLong, "an integer"); }
    double doubleMeta(String key) { return meta(key, Double::parseDouble, "a number"); }

    /** A metadata entry parsed, failing naming the file, the key and the value. */
    private <T> T meta(String key, java.util.function.Function<String, T> parse, String kind) {
        String v = metadata().get(key);
        if (v == null) throw new IllegalArgumentException(file + ": metadata has no '" + key + "'");
        try {
            return parse.apply(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(file + ": metadata '" + key + "' is '" + v + "', not " + kind);
        }
    }

    /** The checkpoint's architecture: its model config with its class count and the anchors it was trained with. */
    public ModelConfig config() throws IOException {
        try {
            if (model() == null) throw new IllegalArgumentException("metadata has no 'model'");
            ModelConfig cfg = ModelConfig.load(model()).withClasses(classes());
            String a = metadata().get("anchors");
            return a == null ? cfg : cfg.withAnchors(org.jprune.yolo.model.Anchors.parse(a));
        } catch (IOException | IllegalArgumentException e) {
            String m = String.valueOf(e.getMessage());
            if (m.contains(file.toString())) throw e;
            throw new IOException(file + ": " + m, e);
        }
    }

    /** A training run's counters, saved with its tensors so that a resume continues exactly. */
    static final class TrainingState {
        int epoch = -1;
        long lastOptStep = -1;
        double bestFitness = -1;
        int adamSteps;
    }

    /**
     * Writes a training checkpoint: the model's state (model/), the EMA (ema/), pending gradients
     * (grad/) and optimizer state (optim/PARAM/KEY), with {@code runMeta} (the model's metadata and the
     * run's facts) and the counters, atomically.
     */
    static void writeTraining(Path file, YoloModel model, org.jprune.engine.optim.Ema ema, TrainingState st, Map<String, String> runMeta) throws IOException {
        Map<String, Tensor> all = new LinkedHashMap<>();
        model.graph().stateDict().forEach((k, v) -> all.put("model/" + k, v));
        ema.state().forEach((k, v) -> all.put("ema/" + k, v));
        for (org.jprune.engine.nn.Parameter p : model.graph().parameters()) {
            all.put("grad/" + p.name(), p.grad());
            p.stateMap().forEach((k, v) -> all.put("optim/" + p.name() + "/" + k, v));
        }
        Map<String, String> meta = new LinkedHashMap<>(runMeta);
        meta.put("epoch", String.valueOf(st.epoch));
        meta.put("last_opt_step", String.valueOf(st.lastOptStep));
        meta.put("best_fitness", String.valueOf(st.bestFitness));
        meta.put("ema_updates", String.valueOf(ema.updates()));
        meta.put("adam_steps", String.valueOf(st.adamSteps));
        SafeTensors.write(file, all, meta);
    }

    /** Puts what {@link #writeTraining} saved back into a model of the same architecture and its EMA; returns the counters. */
    TrainingState restoreTraining(YoloModel model, org.jprune.engine.optim.Ema ema) throws IOException {
        Map<String, Tensor> targets = new LinkedHashMap<>();
        model.graph().stateDict().forEach((k, v) -> targets.put("model/" + k, v));
        ema.state().forEach((k, v) -> targets.put("ema/" + k, v));
        for (org.jprune.engine.nn.Parameter p : model.graph().parameters()) {
            targets.put("grad/" + p.name(), p.grad());
            for (String key : tensors().keySet())
                if (key.startsWith("optim/" + p.name() + "/")) targets.put(key, p.state(key.substring(("optim/" + p.name() + "/").length())));
        }
        copyInto(targets);
        TrainingState st = new TrainingState();
        st.epoch = intMeta("epoch");
        st.lastOptStep = longMeta("last_opt_step");
        st.bestFitness = doubleMeta("best_fitness");
        ema.setUpdates(longMeta("ema_updates"));
        st.adamSteps = metadata().containsKey("adam_steps") ? intMeta("adam_steps") : 0;
        return st;
    }

    /** Copies the EMA weights (what YOLOv5 also saves as the model) into a model of the same architecture. */
    public void loadEmaInto(YoloModel model) throws IOException {
        for (var e : model.graph().stateDict().entrySet()) {
            SafeTensors.Entry v = tensors().get("ema/" + e.getKey());
            if (v == null) throw new IOException(file + ": no tensor ema/" + e.getKey() + " (a different model?)");
            if (!Arrays.equals(v.shape(), e.getValue().shape()))
                throw new IOException(file + ": ema/" + e.getKey() + " has shape " + Arrays.toString(v.shape()) + ", the model "
                        + Arrays.toString(e.getValue().shape()));
            e.getValue().copyFrom(v.data());
        }
    }

    /** The widths of a compacted (pruned) model, from the metadata; null for the config's widths. */
    public Compactor.Spec widths() {
        String w = metadata().get("widths");
        return w == null ? null : Compactor.Spec.parse(w, file.toString());
    }

    /** The pruning plan saved after a pruning step (element masks included); null when none. */
    public PruningPlan plan() {
        String p = metadata().get("pruning");
        if (p == null) return null;
        return PruningPlan.parse(p, file.toString());
    }

    /** The checkpoint's architecture (compact widths included) on the CPU, with its EMA weights and its pruning plan. */
    public YoloModel buildModel() throws IOException { return buildModel(Device.cpu()); }

    /** The same on a given device (checkpoints are device-independent). */
    public YoloModel buildModel(Device device) throws IOException {
        YoloModel m;
        try {
            m = YoloModel.build(config(), device, 0, widths());
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
        try {
            loadEmaInto(m);
            try {
                m.applyPlan(plan());
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": " + e.getMessage(), e);
            }
            if (m.plan() != null && !m.plan().weightMasks().isEmpty()) m.selectSparseKernels(imageSize());
            return m;
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * The metadata that makes a model loadable from a checkpoint: format, model, classes, anchors,
     * class names, input size, and for a pruned model its widths and pruning plan.
     */
    static Map<String, String> modelMetadata(YoloModel model, String modelName, List<String> names, int imgSize) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("model", modelName);
        meta.put("nc", String.valueOf(model.classes()));
        meta.put("anchors", Anchors.format(model.config().anchors()));
        meta.put("names", String.join(",", names));
        meta.put("img", String.valueOf(imgSize));
        if (model.widths() != null) meta.put("widths", model.widths().toJson());
        if (model.plan() != null) meta.put("pruning", model.plan().toJson());
        return meta;
    }

    /**
     * Writes a model file: the model's weights (as the ema/ tensors every loader reads) and the metadata
     * of {@link #modelMetadata}, nothing for training (no gradients or optimizer state), atomically.
     * This is what a pruning step writes as its compact model, and what one deploys.
     */
    public static void writeModel(Path file, YoloModel model, String modelName, List<String> names, int imgSize, Map<String, String> extra) throws IOException {
        Map<String, Tensor> all = new LinkedHashMap<>();
        model.graph().stateDict().forEach((k, v) -> all.put("ema/" + k, v));
        Map<String, String> meta = modelMetadata(model, modelName, names, imgSize);
        meta.putAll(extra);
        SafeTensors.write(file, all, meta);
    }

    /** Class names from the metadata ("class0", ... where it has none). */
    public List<String> names() {
        int nc = classes();
        String[] n = metadata().getOrDefault("names", "").split(",");
        List<String> names = new java.util.ArrayList<>();
        for (int i = 0; i < nc; i++) names.add(n.length == nc ? n[i] : "class" + i);
        return List.copyOf(names);
    }

    /** Copies every tensor into the given targets by name; names must match both ways. */
    void copyInto(Map<String, Tensor> targets) throws IOException {
        for (var e : tensors().entrySet()) {
            Tensor t = targets.get(e.getKey());
            if (t == null) throw new IOException(file + ": unexpected tensor " + e.getKey());
            t.copyFrom(e.getValue().data());
        }
        for (String k : targets.keySet()) if (!tensors().containsKey(k)) throw new IOException(file + ": missing tensor " + k);
    }
}
