package org.jprune.yolo.model;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jprune.yolo.Limits;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * A model definition: an Ultralytics model YAML (nc, depth_multiple, width_multiple, anchors and the
 * backbone + head rows {@code [from, number, module, args]}, parsed through SnakeYAML's node tree so
 * every error names the file and line) or a darknet .cfg ({@link DarknetConfig}: one row per layer
 * section, format DARKNET).
 */
public record ModelConfig(String source, int nc, double depthMultiple, double widthMultiple, List<float[]> anchors, List<Row> rows, Format format) {
    public enum Format { ULTRALYTICS, DARKNET }

    public ModelConfig(String source, int nc, double depthMultiple, double widthMultiple, List<float[]> anchors, List<Row> rows) {
        this(source, nc, depthMultiple, widthMultiple, anchors, rows, Format.ULTRALYTICS);
    }

    /** One row; {@code line} is where it is in the file, for error messages. */
    public record Row(int index, int[] from, int number, String module, List<Object> args, int line) {}

    public static final List<String> BUILT_IN = List.of("yolov5n", "yolov5s", "yolov5m", "yolov3-tiny", "yolov4-tiny");

    /** A built-in name (yolov5n/s/m: Ultralytics YAML; yolov3-tiny, yolov4-tiny: darknet cfg) or a .yaml/.cfg file. */
    public static ModelConfig load(String nameOrPath) throws IOException {
        if (BUILT_IN.contains(nameOrPath)) {
            String file = nameOrPath + (nameOrPath.startsWith("yolov5") ? ".yaml" : ".cfg");
            try (var in = ModelConfig.class.getResourceAsStream("/org/jprune/yolo/models/" + file)) {
                if (in == null) throw new IOException("built-in model " + nameOrPath + " missing from the jar");
                String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                return file.endsWith(".cfg") ? DarknetConfig.parse(file + " (built-in)", text) : parse(file + " (built-in)", text);
            }
        }
        Path p = Path.of(nameOrPath);
        if (!Files.isRegularFile(p))
            throw new IOException("model '" + nameOrPath + "' is neither a built-in (" + String.join(", ", BUILT_IN) + ") nor a file");
        return p.toString().toLowerCase(java.util.Locale.ROOT).endsWith(".cfg") ? DarknetConfig.parse(p.toString(), Files.readString(p))
                : parse(p.toString(), Files.readString(p));
    }

    public static ModelConfig parse(String source, String text) {
        Node root;
        try (Reader r = new StringReader(text)) {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).compose(r);
        } catch (MarkedYAMLException e) {
            throw new IllegalArgumentException(source + ":" + (e.getProblemMark().getLine() + 1) + ": " + e.getProblem(), e);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        if (!(root instanceof MappingNode map)) throw new IllegalArgumentException(source + ":1: a model YAML must be a mapping");
        Map<String, Node> top = new LinkedHashMap<>();
        for (NodeTuple t : map.getValue()) top.put(scalar(source, t.getKeyNode()), t.getValueNode());
        int nc = intOf(source, require(source, top, "nc", root));
        if (nc <= 0 || nc > Limits.MAX_CLASSES) throw error(source, top.get("nc"), "nc must be in [1, " + Limits.MAX_CLASSES + "], got " + nc);
        double gd = top.containsKey("depth_multiple") ? doubleOf(source, top.get("depth_multiple")) : 1.0;
        double gw = top.containsKey("width_multiple") ? doubleOf(source, top.get("width_multiple")) : 1.0;
        if (!(gd > 0 && gd <= Limits.MAX_MULTIPLE)) throw error(source, top.get("depth_multiple"), "depth_multiple must be in (0, " + Limits.MAX_MULTIPLE + "], got " + gd);
        if (!(gw > 0 && gw <= Limits.MAX_MULTIPLE)) throw error(source, top.get("width_multiple"), "width_multiple must be in (0, " + Limits.MAX_MULTIPLE + "], got " + gw);
        List<float[]> anchors = new ArrayList<>();
        if (!top.containsKey("anchors")) {
            // an anchor-free (YOLOv8 / YOLO11-style) model: say what it uses that we do not build
            java.util.Set<String> modules = new java.util.TreeSet<>();
            for (String part : List.of("backbone", "head"))
                if (top.get(part) instanceof SequenceNode ss)
                    for (Node rowNode : ss.getValue())
                        if (rowNode instanceof SequenceNode rs && rs.getValue().size() == 4 && rs.getValue().get(2) instanceof ScalarNode m)
                            modules.add(m.getValue());
            modules.removeAll(List.of("Conv", "C3", "SPPF", "nn.Upsample", "Upsample", "Concat"));
            throw error(source, root, "no 'anchors': an anchor-free model (YOLOv8-style" + (modules.isEmpty() ? "" : ", with " + String.join(", ", modules))
                    + ") is not supported; jprune builds anchor-based YOLOv5-family models (Conv, C3, SPPF, nn.Upsample, Concat, Detect with anchors) "
                    + "and darknet .cfg models");
        }
        Node an = require(source, top, "anchors", root);
        if (!(an instanceof SequenceNode as)) throw error(source, an, "anchors must be a list of [w,h, w,h, ...] per level");
        for (Node level : as.getValue()) {
            if (!(level instanceof SequenceNode ls) || ls.getValue().isEmpty() || ls.getValue().size() % 2 != 0)
                throw error(source, level, "each anchor level must list w,h pairs");
            float[] a = new float[ls.getValue().size()];
            for (int i = 0; i < a.length; i++) {
                double v = doubleOf(source, ls.getValue().get(i));
                if (!(v > 0 && v <= 100_000)) throw error(source, ls.getValue().get(i), "anchor sizes must be in (0, 100000] pixels, got " + v);
                a[i] = (float) v;
            }
            if (!anchors.isEmpty() && a.length != anchors.get(0).length)
                throw error(source, level, "every anchor level must have as many anchors as the first (" + anchors.get(0).length / 2 + "), this one has " + a.length / 2);
            if (a.length / 2 > 64) throw error(source, level, "at most 64 anchors per level, got " + a.length / 2);
            anchors.add(a);
        }
        List<Row> rows = new ArrayList<>();
        for (String part : List.of("backbone", "head")) {
            Node sec = require(source, top, part, root);
            if (!(sec instanceof SequenceNode ss)) throw error(source, sec, part + " must be a list of [from, number, module, args]");
            for (Node rowNode : ss.getValue()) {
                if (!(rowNode instanceof SequenceNode rs) || rs.getValue().size() != 4)
                    throw error(source, rowNode, "a layer must be [from, number, module, args]");
                List<Node> f = rs.getValue();
                int[] from;
                if (f.get(0) instanceof SequenceNode fs) {
                    from = new int[fs.getValue().size()];
                    for (int i = 0; i < from.length; i++) from[i] = intOf(source, fs.getValue().get(i));
                } else {
                    from = new int[] {intOf(source, f.get(0))};
                }
                int number = intOf(source, f.get(1));
                if (number < 1) throw error(source, f.get(1), "number must be >= 1, got " + number);
                String module = scalar(source, f.get(2));
                if (!(f.get(3) instanceof SequenceNode argNode)) throw error(source, f.get(3), "args must be a list");
                List<Object> args = new ArrayList<>();
                for (Node a : argNode.getValue()) args.add(value(source, a));
                rows.add(new Row(rows.size(), from, number, module, args, line(rowNode)));
            }
        }
        return new ModelConfig(source, nc, gd, gw, List.copyOf(anchors), List.copyOf(rows));
    }


    /** The same architecture with another class count. */
    public ModelConfig withClasses(int classes) {
        if (classes <= 0 || classes > Limits.MAX_CLASSES) throw new IllegalArgumentException("nc must be in [1, " + Limits.MAX_CLASSES + "], got " + classes);
        return new ModelConfig(source, classes, depthMultiple, widthMultiple, anchors, rows, format);
    }

    /** The same architecture with other anchors (pixels; as many levels and anchors per level as before). */
    public ModelConfig withAnchors(List<float[]> other) {
        if (other.size() != anchors.size()) throw new IllegalArgumentException("anchors: " + other.size() + " levels, the model has " + anchors.size());
        for (int i = 0; i < other.size(); i++) {
            if (other.get(i).length != anchors.get(i).length)
                throw new IllegalArgumentException("anchors: level " + i + " has " + other.get(i).length / 2 + " anchors, the model " + anchors.get(i).length / 2);
            for (float v : other.get(i)) if (!(v > 0 && v <= 100_000)) throw new IllegalArgumentException("anchors: sizes must be in (0, 100000] pixels, got " + v);
        }
        return new ModelConfig(source, nc, depthMultiple, widthMultiple, other.stream().map(float[]::clone).toList(), rows, format);
    }

    static int line(Node n) { return n.getStartMark().getLine() + 1; }

    static IllegalArgumentException error(String source, Node n, String msg) {
        return new IllegalArgumentException(source + ":" + line(n) + ": " + msg);
    }

    private static Node require(String source, Map<String, Node> top, String key, Node root) {
        Node n = top.get(key);
        if (n == null) throw error(source, root, "missing '" + key + "'");
        return n;
    }

    private static String scalar(String source, Node n) {
        if (!(n instanceof ScalarNode s)) throw error(source, n, "expected a single value");
        return s.getValue();
    }

    private static int intOf(String source, Node n) {
        String s = scalar(source, n);
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw error(source, n, "expected an integer, got '" + s + "'");
        }
    }

    private static double doubleOf(String source, Node n) {
        String s = scalar(source, n);
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw error(source, n, "expected a number, got '" + s + "'");
        }
    }

    /** A YAML value as Integer, Double, Boolean, String (also for nc/anchors/None) or List. */
    private static Object value(String source, Node n) {
        if (n instanceof SequenceNode s) {
            List<Object> l = new ArrayList<>();
            for (Node c : s.getValue()) l.add(value(source, c));
            return l;
        }
        ScalarNode s = (ScalarNode) n;
        Tag t = s.getTag();
        try {
            if (Tag.INT.equals(t)) return Integer.parseInt(s.getValue());
            if (Tag.FLOAT.equals(t)) return Double.parseDouble(s.getValue());
        } catch (NumberFormatException e) {
            throw error(source, s, "'" + s.getValue() + "' is not a number in range (integers up to 2147483647)");
        }
        if (Tag.BOOL.equals(t)) return Boolean.parseBoolean(s.getValue().toLowerCase(java.util.Locale.ROOT));
        if (Tag.NULL.equals(t)) return null;
        return s.getValue();
    }
}
