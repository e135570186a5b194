package org.jprune.yolo.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.io.SafeTensors;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;

/**
 * A training checkpoint written by {@link Trainer}: one safetensors file holding model/, ema/, grad/
 * and optim/ tensors, with the run's facts in its metadata. Read once here by everything that loads
 * one (resume, fine-tuning, val, the Detector).
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
    public int classes() { return Integer.parseInt(metadata().get("nc")); }
    public int imageSize() { return Integer.parseInt(metadata().get("img")); }

    /** The checkpoint's architecture: its model config with its class count and the anchors it was trained with. */
    public ModelConfig config() throws IOException {
        ModelConfig cfg = ModelConfig.load(model()).withClasses(classes());
        String a = metadata().get("anchors");
        return a == null ? cfg : cfg.withAnchors(org.jprune.yolo.model.Anchors.parse(a));
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

    /** The checkpoint's architecture on the CPU, with its EMA weights. */
    public YoloModel buildModel() throws IOException {
        YoloModel m = YoloModel.build(config(), Device.cpu(), 0);
        try {
            loadEmaInto(m);
            return m;
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
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
