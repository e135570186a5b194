package org.jprune.yolo.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.io.SafeTensors;
import org.jprune.yolo.model.Anchors;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;

/**
 * Brings a YOLOv5 model trained elsewhere into jprune: an Ultralytics state dict saved as safetensors
 * (its tensor names are the ones jprune's models use: model.0.conv.weight, ..., model.24.m.2.bias),
 * written out as a jprune model checkpoint that train, prune, val, detect, export and the Detector
 * load. From an Ultralytics .pt (with the yolov5 repository importable):
 * <pre>
 *   m = torch.load('best.pt', map_location='cpu', weights_only=False)['model'].float()
 *   safetensors.torch.save_file({k: v.contiguous() for k, v in m.state_dict().items()}, 'best.safetensors')
 * </pre>
 * The class count is read from the Detect head's shape; the anchors from its {@code anchors} buffer
 * (grid units, as YOLOv5 stores them after building the model) times each level's stride in FP32, as
 * YOLOv5's Detect computes its anchor grid (autoanchor's fractional sizes kept). Every tensor of the model must be in the file with its
 * shape; batch norms' num_batches_tracked and the anchors buffers are the only others accepted.
 */
public final class WeightsImport {
    private WeightsImport() {}

    /** What an import did: the model written and its class count. */
    public record Result(Path out, int classes) {}

    private static final Pattern HEAD = Pattern.compile("model\\.(\\d+)\\.m\\.0\\.weight");

    /**
     * @param src the state dict (safetensors)
     * @param model a built-in model name or a model YAML (the architecture the weights belong to)
     * @param names class names, or null for the data YAML's or class0, class1, ...
     * @param imgSize the image size to record (train/val/detect default to it)
     */
    public static Result run(Path src, String model, List<String> names, int imgSize, Path out) throws IOException {
        SafeTensors.Contents c = SafeTensors.read(src);
        if (Checkpoint.FORMAT.equals(c.metadata().get("format")))
            throw new IOException(src + ": already a jprune checkpoint (use it with -w as it is)");
        Map<String, SafeTensors.Entry> t = c.tensors();
        int headIndex = -1;
        for (String k : t.keySet()) {
            Matcher m = HEAD.matcher(k);
            if (m.matches()) headIndex = Math.max(headIndex, Integer.parseInt(m.group(1)));
        }
        if (headIndex < 0) throw new IOException(src + ": no Detect head (no tensor model.N.m.0.weight): not a YOLOv5 state dict");
        ModelConfig base = ModelConfig.load(model);
        int na = base.anchors().get(0).length / 2;
        int[] hs = t.get("model." + headIndex + ".m.0.weight").shape();
        if (hs.length != 4 || hs[0] % na != 0 || hs[0] / na <= 5)
            throw new IOException(src + ": model." + headIndex + ".m.0.weight has shape " + java.util.Arrays.toString(hs) + ", not " + na
                    + " anchors x (5 + classes) outputs");
        int nc = hs[0] / na - 5;
        ModelConfig cfg;
        try {
            cfg = base.withClasses(nc);
        } catch (IllegalArgumentException e) {
            throw new IOException(src + ": " + e.getMessage(), e);
        }
        List<String> classNames = names;
        if (classNames == null) {
            classNames = new ArrayList<>();
            for (int i = 0; i < nc; i++) classNames.add("class" + i);
        }
        if (classNames.size() != nc) throw new IllegalArgumentException("the class names (--names or --data) are " + classNames.size() + ", the weights have " + nc + " classes");
        // built once with the configuration's anchors: the weights do not depend on them, and the imported
        // anchors (which need the built model's strides) go into the written checkpoint's metadata
        try (YoloModel m = YoloModel.build(cfg, Device.cpu(), 0)) {
            Map<String, String> meta = new java.util.LinkedHashMap<>();
            meta.put("imported_from", src.getFileName().toString());
            SafeTensors.Entry anchors = t.get("model." + headIndex + ".anchors");
            if (anchors != null) meta.put("anchors", Anchors.format(anchorsPx(src, headIndex, anchors, m.strides(), na, cfg)));
            Map<String, Tensor> targets = m.graph().stateDict();
            List<String> missing = new ArrayList<>(), wrong = new ArrayList<>(), extra = new ArrayList<>();
            for (var e : targets.entrySet()) {
                SafeTensors.Entry s = t.get(e.getKey());
                if (s == null) missing.add(e.getKey());
                else if (!java.util.Arrays.equals(s.shape(), e.getValue().shape()))
                    wrong.add(e.getKey() + " " + java.util.Arrays.toString(s.shape()) + " (the model: " + java.util.Arrays.toString(e.getValue().shape()) + ")");
            }
            for (String k : t.keySet())
                if (!targets.containsKey(k) && !k.endsWith(".num_batches_tracked") && !k.endsWith(".anchors") && !k.endsWith(".anchor_grid")) extra.add(k);
            if (!missing.isEmpty() || !wrong.isEmpty() || !extra.isEmpty())
                throw new IOException(src + ": not the weights of " + model + " (" + nc + " classes): " + problems("missing", missing) + problems("other shape", wrong)
                        + problems("unknown", extra));
            for (var e : targets.entrySet()) e.getValue().copyFrom(t.get(e.getKey()).data());
            Checkpoint.writeModel(out, m, model, classNames, imgSize, meta);
        }
        return new Result(out, nc);
    }

    /** The Detect anchors buffer (grid units per level) in pixels: times each level's stride in FP32, as YOLOv5's Detect computes them. */
    private static List<float[]> anchorsPx(Path src, int headIndex, SafeTensors.Entry anchors, int[] strides, int na, ModelConfig cfg) throws IOException {
        int nl = strides.length;
        if (anchors.data().length != nl * na * 2)
            throw new IOException(src + ": model." + headIndex + ".anchors has " + anchors.data().length + " values, the model needs " + nl + " levels x "
                    + na + " anchors x 2");
        List<float[]> px = new ArrayList<>();
        for (int l = 0; l < nl; l++) {
            float[] level = new float[na * 2];
            for (int i = 0; i < na * 2; i++) level[i] = anchors.data()[l * na * 2 + i] * strides[l];
            px.add(level);
        }
        try {
            cfg.withAnchors(px);  // the checks every model's anchors pass (levels, counts, sizes)
        } catch (IllegalArgumentException e) {
            throw new IOException(src + ": " + e.getMessage(), e);
        }
        return px;
    }

    private static String problems(String what, List<String> keys) {
        if (keys.isEmpty()) return "";
        return keys.size() + " " + what + " (" + String.join(", ", keys.subList(0, Math.min(4, keys.size()))) + (keys.size() > 4 ? ", ..." : "") + ") ";
    }
}
