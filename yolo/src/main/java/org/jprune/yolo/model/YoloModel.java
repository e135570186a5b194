package org.jprune.yolo.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.nn.BatchNorm2dLayer;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.Layer;
import org.jprune.engine.nn.Parameter;
import org.jprune.engine.nn.SimpleLayers;
import org.jprune.engine.ops.Activation;
import org.jprune.yolo.Limits;
import org.jprune.yolo.eval.Postprocess;
import org.jprune.engine.prune.Compactor;
import org.jprune.engine.prune.DependencyGraph;
import org.jprune.engine.prune.PruningPlan;

/**
 * A YOLOv5-family detector built from a {@link ModelConfig} into the engine's graph, as Ultralytics'
 * parse_model builds it: depth_multiple scales repeats (round, at least 1), width_multiple scales
 * channels (rounded up to a multiple of 8), Conv = conv + BN(eps 1e-3, momentum 0.03) + SiLU, C3,
 * SPPF, nearest Upsample, Concat and Detect (one 1x1 conv per level, outputs [n][na*(5+nc)][h][w]).
 * Node and parameter names follow Ultralytics' state_dict (model.0.conv.weight, model.2.m.0.cv1.bn.bias,
 * model.24.m.0.weight, ...), so weights can be exchanged by name.
 */
public final class YoloModel implements AutoCloseable {
    /** One row of the config as built: its graph nodes, for the summary and for pruning. */
    public record Module(int index, int[] from, int number, String type, List<Object> args, int firstNode, int lastNode, int outChannels, int outNode) {}

    private final Graph graph;
    private final java.util.List<Runnable> beforeOptimizerStep = new java.util.ArrayList<>();
    private final ModelConfig config;
    private final int nc, na;
    private final float[][] anchors;   // per level: w,h pairs in pixels
    private final int[] strides;
    private final List<Module> modules;
    private final Compactor.Spec widths;          // null: the config's widths
    private PruningPlan plan;                     // null: not pruned (or compacted)

    private YoloModel(Graph graph, ModelConfig config, float[][] anchors, int[] strides, List<Module> modules, Compactor.Spec widths) {
        this.graph = graph;
        this.widths = widths;
        this.config = config;
        this.nc = config.nc();
        this.na = config.anchors().get(0).length / 2;
        this.anchors = anchors;
        this.strides = strides;
        this.modules = modules;
    }

    public Graph graph() { return graph; }

    /**
     * Registers an action that training runs after a step's gradients are complete (accumulated to the
     * nominal batch) and before the optimizer applies them: the pruning study's group regularization.
     */
    public void addBeforeOptimizerStep(Runnable action) { beforeOptimizerStep.add(java.util.Objects.requireNonNull(action)); }

    /**
     * Knowledge distillation during training: {@code teacher} (same head: anchors and classes) sees every
     * training batch too, and the student's raw outputs are pulled towards the teacher's by a soft-target
     * BCE of weight {@code weight} per output cell (1: as strong, per cell, as the objectness loss of the
     * stride-8 level). This model owns the teacher and closes it.
     */
    public record Distillation(YoloModel teacher, double weight) {
        public Distillation {
            if (!(weight > 0) || Double.isInfinite(weight)) throw new IllegalArgumentException("distillation weight must be finite and > 0, got " + weight);
        }
    }

    private Distillation distillation;

    public void distillFrom(YoloModel teacher, double weight) {
        if (teacher.nc != nc || teacher.strides.length != strides.length || teacher.anchorsPx().length != anchorsPx().length)
            throw new IllegalArgumentException("the teacher's head (" + teacher.nc + " classes, " + teacher.strides.length + " levels) differs from the student's ("
                    + nc + ", " + strides.length + ")");
        if (distillation != null) distillation.teacher().close();
        distillation = new Distillation(teacher, weight);
    }

    /** The teacher set by {@link #distillFrom}, or null. */
    public Distillation distillation() { return distillation; }

    /** Runs the actions of {@link #addBeforeOptimizerStep}, in order (Trainer calls it). */
    public void beforeOptimizerStep() { beforeOptimizerStep.forEach(Runnable::run); }
    public ModelConfig config() { return config; }
    public int classes() { return nc; }
    public int anchorsPerLevel() { return na; }
    public int levels() { return strides.length; }
    public int[] strides() { return strides.clone(); }
    /** Anchor (w, h) pairs in pixels for a level. */
    public float[] anchors(int level) { return anchors[level].clone(); }
    public List<Module> modules() { return modules; }

    /** Anchors of every level, (w, h) pairs in pixels. */
    public float[][] anchorsPx() {
        float[][] a = new float[anchors.length][];
        for (int i = 0; i < a.length; i++) a[i] = anchors[i].clone();
        return a;
    }

    /** Grid side of each level for a square input of this size. */
    public int[] grid(int size) {
        int[] g = new int[strides.length];
        for (int i = 0; i < g.length; i++) g[i] = size / strides[i];
        return g;
    }

    static int makeDivisible(double x, int divisor) { return (int) (Math.ceil(x / divisor) * divisor); }

    public static YoloModel build(ModelConfig cfg, Device device, long seed) { return build(cfg, device, seed, null); }

    /**
     * The config's network with the widths of a compacted one: every conv named in {@code widths} gets
     * that many output channels (its batch norm too), slices their ranges, and every layer's input
     * channels are those its inputs produce. Null widths: as configured.
     */
    public static YoloModel build(ModelConfig cfg, Device device, long seed, Compactor.Spec widths) {
        Builder b = new Builder(cfg, device, seed, widths);
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            b.graph.close();
            // an engine layer's own check (a pool or conv geometry) names the values, not where they came from
            String m = String.valueOf(e.getMessage());
            if (m.startsWith(cfg.source())) throw e;
            throw new IllegalArgumentException(b.current == null ? cfg.source() + ": " + m
                    : cfg.source() + ":" + b.current.line() + ": layer " + b.current.index() + " (" + b.current.module() + "): " + m, e);
        } catch (RuntimeException e) {
            b.graph.close();
            throw e;
        }
    }

    private static final class Builder {
        final ModelConfig cfg;
        final Device device;
        final long seed;
        final Graph graph;
        final Compactor.Spec widths;
        final List<Integer> nodeCh = new ArrayList<>(); // output channels of each graph node
        final java.util.Set<String> usedWidths = new java.util.HashSet<>();
        final List<Integer> out = new ArrayList<>();   // output node id of each row
        final List<Integer> ch = new ArrayList<>();    // output channels of each row
        final List<Module> modules = new ArrayList<>();
        int detectRow = -1;
        int[] detectFrom;
        ModelConfig.Row current;                       // the row being built, for error messages

        Builder(ModelConfig cfg, Device device, long seed, Compactor.Spec widths) {
            this.cfg = cfg;
            this.widths = widths == null ? new Compactor.Spec(Map.of(), Map.of()) : widths;
            this.device = device;
            this.seed = seed;
            this.graph = new Graph(device);
        }

        IllegalArgumentException error(ModelConfig.Row r, String msg) {
            return new IllegalArgumentException(cfg.source() + ":" + r.line() + ": layer " + r.index() + " (" + r.module() + "): " + msg);
        }

        int intArg(ModelConfig.Row r, int i, int dflt) {
            if (r.args().size() <= i || r.args().get(i) == null) return dflt;
            Object o = r.args().get(i);
            if (o instanceof Integer v) return v;
            throw error(r, "argument " + i + " must be an integer, got " + o);
        }

        int node(String name, Layer layer, int... inputs) {
            int id = graph.add(name, layer, inputs);
            nodeCh.add(switch (layer.channelMap()) {
                case MIXING -> ((Conv2dLayer) layer).outChannels();
                case SLICE -> ((SimpleLayers.SliceLayer) layer).count();
                case CONCAT -> java.util.Arrays.stream(inputs).map(this::channels).sum();
                case SAME -> channels(inputs[0]);
            });
            return id;
        }

        /** Output channels of a node (3 for the image). */
        int channels(int node) { return node == Graph.INPUT ? 3 : nodeCh.get(node); }

        /** A conv's output channels: the compact widths' if they name it, else the config's. */
        int width(String conv, int configured) {
            usedWidths.add(conv);
            return widths.out(conv, configured);
        }

        /**
         * A detection-head conv reading node {@code in}: its width follows the classes and anchors (not
         * capped like hidden layers: many classes make it wide); compact widths may only repeat it.
         */
        Conv2dLayer headConvLayer(String name, int in, int width, int k, int s, int pad, int g, boolean bias, boolean bn, long seed) {
            if (width(name, width) != width) throw new IllegalArgumentException("widths: head conv '" + name + "' must keep its " + width + " output channels");
            budget(name, width, channels(in), g, k, bias, bn, true);
            return new Conv2dLayer(device, name, channels(in), width, k, s, pad, g, bias, seed);
        }

        long params;

        /** Counts a layer's parameters against the model's budget before anything is allocated. */
        void budget(String name, int out, int c1, int g, int k, boolean bias, boolean bn, boolean head) {
            if (out <= 0 || (out > Limits.MAX_CHANNELS && !head) || c1 <= 0 || c1 > Limits.MAX_CHANNELS)
                throw new IllegalArgumentException(cfg.source() + ": layer " + name + ": " + c1 + " -> " + out + " channels, the limit is " + Limits.MAX_CHANNELS);
            if (k <= 0 || k > 64) throw new IllegalArgumentException(cfg.source() + ": layer " + name + ": kernel " + k + " is not in [1, 64]");
            long n = (long) out * (c1 / Math.max(1, g)) * k * k + (bias ? out : 0) + (bn ? 2L * out : 0);
            params += n;
            long max = Limits.maxParameters();
            if (params > max)
                throw new IllegalArgumentException(cfg.source() + ": the model has more than " + max + " parameters by layer " + name
                        + " (the limit; raise it with -Djprune.maxParams=N)");
        }

        /** A conv layer reading node {@code in} (input channels from the graph), width from the spec. */
        Conv2dLayer convLayer(String name, int in, int c2, int k, int s, int pad, int g, boolean bias) {
            int c1 = channels(in), out = width(name, c2);
            budget(name, out, c1, g, k, bias, !bias, false);
            if (g != 1 && (out != c2 || c1 % g != 0)) throw new IllegalArgumentException("widths: grouped conv '" + name + "' cannot be compacted");
            return new Conv2dLayer(device, name, c1, out, k, s, pad, g, bias, seed + graph.nodes().size() * 7919L);
        }

        /** Ultralytics Conv: conv (no bias) + BN + SiLU; returns the output node. c1 is taken from the graph. */
        int conv(String p, int in, int c1, int c2, int k, int s, Integer pad, int g) {
            int pp = pad != null ? pad : k / 2;
            Conv2dLayer cl = convLayer(p + ".conv", in, c2, k, s, pp, g, false);
            int c = node(p + ".conv", cl, in);
            int b = node(p + ".bn", new BatchNorm2dLayer(device, p + ".bn", cl.outChannels(), 1e-3f, 0.03f), c);
            return node(p + ".act", new SimpleLayers.ActLayer(Activation.SILU, 0f), b);
        }

        int resolve(ModelConfig.Row r, int f) {
            int idx = f < 0 ? r.index() + f : f;
            if (idx < -1 || idx >= r.index()) throw error(r, "from " + f + " does not name an earlier layer");
            return idx;
        }

        int inNode(int idx) { return idx < 0 ? Graph.INPUT : out.get(idx); }
        int inCh(int idx) { return idx < 0 ? 3 : ch.get(idx); }

        /** What building one config row gave: its output node, channels and the arguments as built (for the summary). */
        record Built(int out, int channels, List<Object> args) {}

        /** Builds one config row of one module type into the graph; from: the resolved input rows. */
        @FunctionalInterface
        interface ModuleBuilder { Built build(ModelConfig.Row r, int[] from, int repeats); }

        /** The YAML (Ultralytics) modules, in the order the error message lists them. */
        Map<String, ModuleBuilder> yamlModules() {
            Map<String, ModuleBuilder> m = new java.util.LinkedHashMap<>();
            m.put("Conv", this::convModule);
            m.put("C3", this::c3Module);
            m.put("SPPF", this::sppfModule);
            m.put("nn.Upsample", this::upsampleModule);
            m.put("Upsample", this::upsampleModule);
            m.put("Concat", this::concatModule);
            m.put("Detect", this::detectModule);
            return m;
        }

        /**
         * The darknet sections: convolutional (+ BN when batch_normalize=1, then leaky 0.1 / relu / swish /
         * linear), maxpool (darknet's padding: size-1 split before/after, so a 2x2 stride-1 pool keeps
         * the size), route (concat of its layers, then one of `groups` channel groups), shortcut (add),
         * upsample (nearest) and yolo (marks the convolutional before it as an output level).
         * Names: module_list.{i}.conv / .bn / .act, as darknet ports name them.
         */
        Map<String, ModuleBuilder> darknetSections() {
            Map<String, ModuleBuilder> m = new java.util.LinkedHashMap<>();
            m.put("convolutional", this::convolutionalSection);
            m.put("maxpool", this::maxpoolSection);
            m.put("route", this::routeSection);
            m.put("shortcut", this::shortcutSection);
            m.put("upsample", this::upsampleSection);
            m.put("yolo", this::yoloSection);
            return m;
        }

        /** One loop for both formats: each row goes to its module's builder; the bookkeeping is here. */
        YoloModel build() {
            boolean darknet = cfg.format() == ModelConfig.Format.DARKNET;
            Map<String, ModuleBuilder> builders = darknet ? darknetSections() : yamlModules();
            for (ModelConfig.Row r : cfg.rows()) {
                current = r;
                int first = graph.nodes().size();
                int[] from = darknet ? r.from() : resolve(r);
                ModuleBuilder mb = builders.get(r.module());
                if (mb == null) throw error(r, darknet ? "unknown section"
                        : "unknown module '" + r.module() + "' (supported: Conv, C3, SPPF, nn.Upsample, Concat, Detect)");
                int n = darknet ? 1 : repeats(r);
                Built b = mb.build(r, from, n);
                out.add(b.out());
                ch.add(b.channels());
                modules.add(new Module(r.index(), darknet ? from : r.from(), n, r.module(),
                        java.util.Collections.unmodifiableList(new ArrayList<>(b.args())), first, graph.nodes().size() - 1, b.channels(), b.out()));
            }
            if (darknet) graph.setOutputs(yoloOutputs.stream().mapToInt(Integer::intValue).toArray());
            else if (detectRow < 0) throw new IllegalArgumentException(cfg.source() + ": no Detect layer");
            return finish();
        }

        /** A YAML row's repeats: number x depth_multiple, rounded, at least 1 (a single module stays single). */
        int repeats(ModelConfig.Row r) {
            long nl = r.number() > 1 ? Math.max(Math.round(r.number() * cfg.depthMultiple()), 1) : r.number();
            if (nl > Limits.MAX_REPEATS) throw error(r, "repeats " + r.number() + " x depth_multiple " + cfg.depthMultiple() + " = " + nl + ", the limit is " + Limits.MAX_REPEATS);
            return (int) nl;
        }

        int[] resolve(ModelConfig.Row r) {
            int[] from = new int[r.from().length];
            for (int i = 0; i < from.length; i++) from[i] = resolve(r, r.from()[i]);
            return from;
        }

        /** Conv, C3 and SPPF: one input, the output width from the first argument times width_multiple (a multiple of 8). */
        int yamlWidth(ModelConfig.Row r, int[] from) {
            if (from.length != 1) throw error(r, "takes one input");
            int c = intArg(r, 0, -1);
            if (c <= 0) throw error(r, "first argument (output channels) must be > 0");
            double want = c * cfg.widthMultiple();
            if (want > Limits.MAX_CHANNELS) throw error(r, c + " channels x width_multiple " + cfg.widthMultiple() + " exceeds " + Limits.MAX_CHANNELS);
            return makeDivisible(want, 8);
        }

        String name(ModelConfig.Row r) { return "model." + r.index(); }

        /** Conv(c2, k=1, s=1, p=k/2, g=1), repeated as Ultralytics repeats a plain module. */
        Built convModule(ModelConfig.Row r, int[] from, int n) {
            int c2 = yamlWidth(r, from), c1 = inCh(from[0]), k = intArg(r, 1, 1), s = intArg(r, 2, 1), g = intArg(r, 4, 1);
            Integer pad = r.args().size() > 3 && r.args().get(3) != null ? intArg(r, 3, 0) : null;
            String p = name(r);
            int o = inNode(from[0]);
            for (int i = 0; i < n; i++) o = conv(n == 1 ? p : p + "." + i, o, i == 0 ? c1 : c2, c2, k, s, pad, g);
            List<Object> args = new ArrayList<>(List.of(c1, c2));
            args.addAll(r.args().subList(1, r.args().size()));
            return new Built(o, c2, args);
        }

        /** C3(c2, shortcut=True): cv1 -> n bottlenecks (1x1, 3x3, + residual), cv2 beside it, concat, cv3. */
        Built c3Module(ModelConfig.Row r, int[] from, int n) {
            int c2 = yamlWidth(r, from), c1 = inCh(from[0]), in = inNode(from[0]), c = (int) (c2 * 0.5);
            boolean shortcut = r.args().size() < 2 || !Boolean.FALSE.equals(r.args().get(1));
            String p = name(r);
            int a = conv(p + ".cv1", in, c1, c, 1, 1, null, 1);
            int bb = conv(p + ".cv2", in, c1, c, 1, 1, null, 1);
            for (int i = 0; i < n; i++) {
                int h1 = conv(p + ".m." + i + ".cv1", a, c, c, 1, 1, null, 1);
                int h2 = conv(p + ".m." + i + ".cv2", h1, c, c, 3, 1, null, 1);
                a = shortcut ? node(p + ".m." + i + ".add", new SimpleLayers.AddLayer(), a, h2) : h2;
            }
            int cat = node(p + ".cat", new SimpleLayers.ConcatLayer(), a, bb);
            List<Object> args = new ArrayList<>(List.of(c1, c2, n));
            if (r.args().size() > 1) args.add(shortcut);
            return new Built(conv(p + ".cv3", cat, 2 * c, c2, 1, 1, null, 1), c2, args);
        }

        /** SPPF(c2, k=5): cv1, three chained k x k max pools, concat of the four, cv2. */
        Built sppfModule(ModelConfig.Row r, int[] from, int n) {
            int c2 = yamlWidth(r, from), c1 = inCh(from[0]), k = intArg(r, 1, 5), c = c1 / 2;
            String p = name(r);
            int x = conv(p + ".cv1", inNode(from[0]), c1, c, 1, 1, null, 1);
            int y1 = node(p + ".m.0", new SimpleLayers.MaxPoolLayer(k, 1, k / 2), x);
            int y2 = node(p + ".m.1", new SimpleLayers.MaxPoolLayer(k, 1, k / 2), y1);
            int y3 = node(p + ".m.2", new SimpleLayers.MaxPoolLayer(k, 1, k / 2), y2);
            int cat = node(p + ".cat", new SimpleLayers.ConcatLayer(), x, y1, y2, y3);
            return new Built(conv(p + ".cv2", cat, 4 * c, c2, 1, 1, null, 1), c2, List.of(c1, c2, k));
        }

        Built upsampleModule(ModelConfig.Row r, int[] from, int n) {
            int scale = r.args().size() > 1 && r.args().get(1) instanceof Integer sc ? sc : 2;
            return new Built(node(name(r), new SimpleLayers.UpsampleLayer(scale), inNode(from[0])), inCh(from[0]), r.args());
        }

        Built concatModule(ModelConfig.Row r, int[] from, int n) {
            int[] ins = new int[from.length];
            int c2 = 0;
            for (int i = 0; i < from.length; i++) { ins[i] = inNode(from[i]); c2 += inCh(from[i]); }
            return new Built(node(name(r), new SimpleLayers.ConcatLayer(), ins), c2, r.args());
        }

        /** Detect(nc, anchors): one 1x1 conv with bias per level, na * (5 + nc) outputs each; the graph's outputs. */
        Built detectModule(ModelConfig.Row r, int[] from, int n) {
            if (detectRow >= 0) throw error(r, "a model has one Detect layer");
            if (from.length != cfg.anchors().size()) throw error(r, from.length + " inputs but " + cfg.anchors().size() + " anchor levels");
            detectRow = r.index();
            detectFrom = from;
            int no = na() * (cfg.nc() + 5);
            String p = name(r);
            int[] outs = new int[from.length];
            List<Integer> chs = new ArrayList<>();
            for (int i = 0; i < from.length; i++) {
                chs.add(channels(inNode(from[i])));
                outs[i] = node(p + ".m." + i, headConvLayer(p + ".m." + i, inNode(from[i]), no, 1, 1, 0, 1, true, false, seed + 104729L * (i + 1)), inNode(from[i]));
            }
            graph.setOutputs(outs);
            return new Built(outs[outs.length - 1], no, List.of(cfg.nc(), cfg.anchors().stream().map(Anchors::text).toList(), chs));
        }

        String opt(ModelConfig.Row r, String key, String dflt) {
            @SuppressWarnings("unchecked") Map<String, String> o = (Map<String, String>) r.args().get(0);
            return o.getOrDefault(key, dflt);
        }

        int intOpt(ModelConfig.Row r, String key, int dflt) {
            String v = opt(r, key, null);
            if (v == null) return dflt;
            try {
                return Integer.parseInt(v.strip());
            } catch (NumberFormatException e) {
                throw error(r, key + " must be an integer, got '" + v + "'");
            }
        }

        final List<Integer> yoloOutputs = new ArrayList<>(); // darknet: the node before each [yolo]

        String section(ModelConfig.Row r) { return "module_list." + r.index(); }

        Built convolutionalSection(ModelConfig.Row r, int[] from, int n) {
            List<ModelConfig.Row> rows = cfg.rows();
            String p = section(r);
            int in = inNode(from[0]), c1 = inCh(from[0]);
            boolean bn = intOpt(r, "batch_normalize", 0) != 0;
            int k = intOpt(r, "size", 1), s = intOpt(r, "stride", 1), g = intOpt(r, "groups", 1);
            int pad = intOpt(r, "pad", 0) != 0 ? k / 2 : intOpt(r, "padding", 0);
            boolean head = r.index() + 1 < rows.size() && rows.get(r.index() + 1).module().equals("yolo");
            int c2 = head ? na() * (cfg.nc() + 5) : intOpt(r, "filters", 1);
            if (c2 <= 0 || k <= 0 || s <= 0 || g <= 0 || c1 % g != 0 || c2 % g != 0) throw error(r, "bad filters/size/stride/groups");
            if (intOpt(r, "dilation", 1) != 1) throw error(r, "dilation is not supported");
            String act = opt(r, "activation", "logistic");
            Activation a = switch (act) {
                case "leaky" -> Activation.LEAKY_RELU;
                case "relu" -> Activation.RELU;
                case "swish", "silu" -> Activation.SILU;
                case "linear" -> Activation.IDENTITY;
                default -> throw error(r, "activation '" + act + "' is not supported (leaky, relu, swish, linear)");
            };
            Conv2dLayer cl = head ? headConvLayer(p + ".conv", in, c2, k, s, pad, g, !bn, bn, seed + graph.nodes().size() * 7919L)
                    : convLayer(p + ".conv", in, c2, k, s, pad, g, !bn);
            int o = node(p + ".conv", cl, in);
            if (bn) o = node(p + ".bn", new BatchNorm2dLayer(device, p + ".bn", cl.outChannels(), 1e-5f, 0.03f), o);
            if (a != Activation.IDENTITY) o = node(p + ".act", new SimpleLayers.ActLayer(a, a == Activation.LEAKY_RELU ? 0.1f : 0f), o);
            if (head && (bn || a != Activation.IDENTITY)) throw error(r, "the convolutional before [yolo] must be linear without batch_normalize");
            return new Built(o, c2, List.of(c1, c2, k, s, act + (bn ? ",bn" : "")));
        }

        Built maxpoolSection(ModelConfig.Row r, int[] from, int n) {
            int s = intOpt(r, "stride", 1), k = intOpt(r, "size", s), padding = intOpt(r, "padding", k - 1);
            int o = node(section(r), new SimpleLayers.MaxPoolLayer(k, s, padding / 2, padding - padding / 2), inNode(from[0]));
            return new Built(o, inCh(from[0]), List.of(k, s));
        }

        Built routeSection(ModelConfig.Row r, int[] from, int n) {
            String p = section(r);
            int[] ins = new int[from.length];
            int c = 0;
            for (int i = 0; i < from.length; i++) { ins[i] = out.get(from[i]); c += ch.get(from[i]); }
            int o = ins.length == 1 ? ins[0] : node(p + ".cat", new SimpleLayers.ConcatLayer(), ins);
            int groups = intOpt(r, "groups", 1), id = intOpt(r, "group_id", 0);
            if (groups <= 0 || c % groups != 0 || id < 0 || id >= groups) throw error(r, "groups=" + groups + " group_id=" + id + " do not divide " + c + " channels");
            int c2 = c / groups;
            if (groups > 1) {
                int[] range = widths.slice(p + ".slice", id * c2, c2);
                usedWidths.add(p + ".slice");
                if (range[0] + range[1] > channels(o))
                    throw error(r, "widths: slice [" + range[0] + ", " + range[1] + "] does not fit " + channels(o) + " channels");
                o = node(p + ".slice", new SimpleLayers.SliceLayer(range[0], range[1]), o);
            }
            List<Object> args = new ArrayList<>(List.of(Arrays.toString(from)));
            if (groups > 1) args.add("group " + id + "/" + groups);
            return new Built(o, c2, args);
        }

        Built shortcutSection(ModelConfig.Row r, int[] from, int n) {
            int in = inNode(from[0]), c1 = inCh(from[0]);
            if (ch.get(from[1]) != c1) throw error(r, "shortcut of " + c1 + " and " + ch.get(from[1]) + " channels");
            if (channels(in) != channels(out.get(from[1])))
                throw error(r, "widths: shortcut of " + channels(in) + " and " + channels(out.get(from[1])) + " channels");
            int o = node(section(r) + ".add", new SimpleLayers.AddLayer(), in, out.get(from[1]));
            String act = opt(r, "activation", "linear");
            if (!act.equals("linear")) throw error(r, "shortcut activation '" + act + "' is not supported (linear)");
            return new Built(o, c1, List.of(from[1]));
        }

        Built upsampleSection(ModelConfig.Row r, int[] from, int n) {
            int s = intOpt(r, "stride", 2);
            return new Built(node(section(r), new SimpleLayers.UpsampleLayer(s), inNode(from[0])), inCh(from[0]), List.of(s));
        }

        Built yoloSection(ModelConfig.Row r, int[] from, int n) {
            int in = inNode(from[0]);
            yoloOutputs.add(in);
            return new Built(in, inCh(from[0]), List.of(cfg.nc(), Anchors.text(cfg.anchors().get(yoloOutputs.size() - 1))));
        }

        int na() { return cfg.anchors().get(0).length / 2; }

        YoloModel finish() {
            current = null;
            for (String n : widths.convOut().keySet()) if (!usedWidths.contains(n)) throw new IllegalArgumentException(cfg.source() + ": widths name conv '" + n + "', which this model does not have");
            for (String n : widths.slices().keySet()) if (!usedWidths.contains(n)) throw new IllegalArgumentException(cfg.source() + ": widths name slice '" + n + "', which this model does not have");
            // strides from the graph's own shapes, as Ultralytics does with a forward pass
            int probe = 256;
            int[][] shapes;
            try {
                shapes = graph.shapes(1, 3, probe, probe);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(cfg.source() + ": " + e.getMessage() + " (checked at " + probe + "x" + probe + ")", e);
            }
            int[] outs = graph.outputs();
            int[] strides = new int[outs.length];
            float[][] anchors = new float[outs.length][];
            for (int i = 0; i < outs.length; i++) {
                strides[i] = probe / shapes[outs[i]][2];
                anchors[i] = cfg.anchors().get(i).clone();
            }
            boolean compact = !widths.convOut().isEmpty() || !widths.slices().isEmpty();
            YoloModel m = new YoloModel(graph, cfg, anchors, strides, List.copyOf(modules), compact ? widths : null);
            m.initDetectBiases();
            return m;
        }
    }

    /** Ultralytics' _initialize_biases: objectness for ~8 objects per 640 image, class prior 0.6/(nc-0.99). */
    private void initDetectBiases() {
        int no = nc + 5;
        for (int i = 0; i < strides.length; i++) {
            Parameter b = ((Conv2dLayer) graph.node(graph.outputs()[i]).layer()).bias();
            float[] v = b.value().toArray();
            for (int a = 0; a < na; a++) {
                v[a * no + 4] += (float) Math.log(8.0 / Math.pow(640.0 / strides[i], 2));
                for (int c = 0; c < nc; c++) v[a * no + 5 + c] += (float) Math.log(0.6 / (nc - 0.99));
            }
            b.value().copyFrom(v);
        }
    }

    public long parameterCount() { return graph.parameterCount(); }

    /** The widths this model was built with when it is a compacted one; null: the config's. */
    public Compactor.Spec widths() { return widths; }

    /** The pruning plan on this model (masked channels, channel-sparse convs); null when none. */
    public PruningPlan plan() { return plan; }

    private List<org.jprune.engine.prune.SparseKernels.Choice> sparseKernels = List.of();

    /**
     * For a weight-sparse model: lets each convolution run CSR or dense inference, whichever is faster
     * at batch 1 and this input size ({@link org.jprune.engine.prune.SparseKernels}); returns the choices.
     * Call after the weights are final (training uses the dense kernels regardless).
     */
    public List<org.jprune.engine.prune.SparseKernels.Choice> selectSparseKernels(int imgSize) {
        sparseKernels = List.copyOf(org.jprune.engine.prune.SparseKernels.select(graph, new int[] {1, 3, imgSize, imgSize}, 0.6));
        return sparseKernels;
    }

    /** The last {@link #selectSparseKernels} choices (empty when none were made). */
    public List<org.jprune.engine.prune.SparseKernels.Choice> sparseKernels() { return sparseKernels; }

    /** The channel groups of this model's graph (3 image channels in). */
    public DependencyGraph dependencyGraph() { return new DependencyGraph(graph, 3); }

    /** Puts a pruning plan on the model (see {@link PruningPlan#apply}); null removes it. */
    public void applyPlan(PruningPlan p) {
        if (p == null) PruningPlan.clear(graph);
        else p.apply(dependencyGraph());
        plan = p;
        sparseKernels = List.of();
    }

    /**
     * A new, smaller model: this one with the channels its {@link #plan()} prunes physically removed
     * (on the same device, the same config, widths from {@link Compactor#spec}); its weights and
     * batch-norm statistics are this model's, gathered. It computes what this masked model computes.
     */
    public YoloModel compact() {
        if (plan == null) throw new IllegalStateException("compact: the model has no pruning plan");
        if (!plan.weightMasks().isEmpty()) throw new IllegalStateException("compact: unstructured (element) masks cannot be removed by compaction");
        DependencyGraph dg = dependencyGraph();
        boolean[] alive = plan.alive(dg);
        YoloModel m = build(config, graph.device(), 0, Compactor.spec(dg, alive));
        try {
            Map<String, Tensor> dst = m.graph().stateDict();
            Map<String, Tensor> src = Compactor.compactState(dg, alive, graph.stateDict());
            try {
                for (var e : dst.entrySet()) {
                    Tensor t = src.get(e.getKey());
                    e.getValue().requireSameShape("compact (" + e.getKey() + ")", t);
                    e.getValue().copyFrom(t);
                }
            } finally {
                src.values().forEach(Tensor::close);
            }
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** Parameters after folding each BN into its conv (-1 per BN channel: gamma and beta become one bias). */
    public long fusedParameterCount() {
        long bnChannels = 0;
        for (Graph.Node n : graph.nodes()) if (n.layer() instanceof BatchNorm2dLayer bn) bnChannels += bn.channels();
        return parameterCount() - bnChannels;
    }

    /** GFLOPs of one forward pass at imgSize (2 x multiply-accumulates of every conv, + bias adds; BN folded). */
    public double gflops(int imgSize) {
        int[][] shapes = graph.shapes(1, 3, imgSize, imgSize);
        double flops = 0;
        for (Graph.Node n : graph.nodes()) {
            if (!(n.layer() instanceof Conv2dLayer c)) continue;
            int[] o = shapes[n.id()];
            long outNumel = (long) o[1] * o[2] * o[3];
            boolean folded = graph.nodes().size() > n.id() + 1 && graph.node(n.id() + 1).layer() instanceof BatchNorm2dLayer;
            flops += 2.0 * outNumel * ((double) c.inChannels() / c.groups() * c.kernel() * c.kernel()) + (c.bias() != null || folded ? outNumel : 0);
        }
        return flops / 1e9;
    }

    /**
     * Darknet's "Total BFLOPS" (AlexeyAB): 2 x filters x size^2 x channels/groups x output area per
     * convolutional (no bias term), plus size^2 x channels x output area per maxpool.
     */
    public double darknetBflops(int imgSize) {
        int[][] shapes = graph.shapes(1, 3, imgSize, imgSize);
        double flops = 0;
        for (Graph.Node n : graph.nodes()) {
            int[] o = shapes[n.id()];
            if (n.layer() instanceof SimpleLayers.MaxPoolLayer mp) flops += (double) mp.kernel() * mp.kernel() * o[1] * o[2] * o[3];
            if (!(n.layer() instanceof Conv2dLayer c)) continue;
            flops += 2.0 * c.outChannels() * c.kernel() * c.kernel() * ((double) c.inChannels() / c.groups()) * o[2] * o[3];
        }
        return flops / 1e9;
    }

    /** The per-layer table and totals, in Ultralytics' layout plus an output-shape column. */
    public String summary(int imgSize) {
        int[][] shapes = graph.shapes(1, 3, imgSize, imgSize);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%3s %18s %3s %10s  %-10s %-40s %s%n", "", "from", "n", "params", "module", "arguments", "output"));
        for (Module m : modules) {
            long params = 0;
            for (int i = m.firstNode(); i <= m.lastNode(); i++)
                for (Parameter p : graph.node(i).layer().parameters()) params += p.value().numel();
            String from = m.from().length == 1 ? String.valueOf(m.from()[0]) : Arrays.toString(m.from());
            String outShape = m.type().equals("Detect")
                    ? Arrays.stream(graph.outputs()).mapToObj(o -> Arrays.toString(shapes[o])).reduce((a, b) -> a + " " + b).orElse("")
                    : Arrays.toString(shapes[m.outNode()]);
            sb.append(String.format(Locale.ROOT, "%3d %18s %3d %10d  %-10s %-40s %s%n", m.index(), from, m.number(), params, m.type(),
                    m.args().toString(), outShape));
        }
        sb.append(String.format(Locale.ROOT, "%s summary: %d layers, %d parameters, %d gradients, %.1f GFLOPs at %d (fused: %d parameters)%n",
                config.source().replace(".yaml (built-in)", "").replace(".cfg (built-in)", ""), graph.nodes().size(), parameterCount(),
                parameterCount(), gflops(imgSize), imgSize, fusedParameterCount()));
        if (config.format() == ModelConfig.Format.DARKNET)
            sb.append(String.format(Locale.ROOT, "darknet: Total BFLOPS %.3f at %dx%d%n", darknetBflops(imgSize), imgSize, imgSize));
        return sb.toString();
    }

    /**
     * The decoded predictions of a batch, as {@link Postprocess#decode} lays them out and an ONNX export of
     * this model returns them (output0): [bs][boxes of every level][5 + nc], boxes in input pixels. The
     * decode runs on the model's backend (jp_yolo_decode, every level and anchor into one tensor), and the
     * batch comes back in one download.
     */
    public float[] predict(Tensor images) {
        try (Graph.Execution ex = graph.forward(images, false)) {
            int bs = (int) images.shape()[0], no = nc + 5;
            long total = 0;
            for (int i = 0; i < strides.length; i++) total += (long) na * ex.output(i).shape()[2] * ex.output(i).shape()[3];
            if (total * no * bs > Integer.MAX_VALUE)
                throw new IllegalArgumentException("predict: " + bs + " images x " + total + " boxes x " + no + " values exceed 2^31 - 1");
            try (Tensor out = Tensor.empty(graph.device(), bs, (int) total, no)) {
                int row0 = 0;
                for (int i = 0; i < strides.length; i++) {
                    Tensor o = ex.output(i);
                    var level = new org.jprune.engine.ops.DetectionLoss.Level(bs, na, no, (int) o.shape()[2], (int) o.shape()[3], 0, 0, 0, 0, 0);
                    for (int a = 0; a < na; a++)
                        org.jprune.engine.ops.DetectDecode.decode(level, out, o, a, anchors[i][2 * a], anchors[i][2 * a + 1], strides[i], row0, (int) total);
                    row0 += na * level.cells();
                }
                return out.toArray();
            }
        }
    }

    /** Runs inference (eval mode) and returns the raw Detect maps as arrays [level][n*na*(5+nc)*h*w]. */
    public float[][] forwardRaw(Tensor images) {
        try (Graph.Execution ex = graph.forward(images, false)) {
            float[][] out = new float[strides.length][];
            for (int i = 0; i < out.length; i++) out[i] = ex.output(i).toArray();
            return out;
        }
    }

    @Override
    public void close() {
        if (distillation != null) distillation.teacher().close();
        graph.close();
    }
}
