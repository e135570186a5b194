package org.jprune.yolo.export;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jprune.engine.io.SafeTensors;
import org.jprune.engine.nn.BatchNorm2dLayer;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.SimpleLayers;
import org.jprune.yolo.export.onnx.OnnxIr.AttributeProto;
import org.jprune.yolo.export.onnx.OnnxIr.GraphProto;
import org.jprune.yolo.export.onnx.OnnxIr.ModelProto;
import org.jprune.yolo.export.onnx.OnnxIr.NodeProto;
import org.jprune.yolo.export.onnx.OnnxIr.OperatorSetIdProto;
import org.jprune.yolo.export.onnx.OnnxIr.StringStringEntryProto;
import org.jprune.yolo.export.onnx.OnnxIr.TensorProto;
import org.jprune.yolo.export.onnx.OnnxIr.TensorShapeProto;
import org.jprune.yolo.export.onnx.OnnxIr.TypeProto;
import org.jprune.yolo.export.onnx.OnnxIr.ValueInfoProto;
import org.jprune.yolo.model.YoloModel;

/**
 * Writes a model (dense or compact) as an ONNX file, the way Ultralytics exports YOLOv5: input
 * {@code images} [batch, 3, size, size] (batch dynamic), output {@code output0} [batch, anchors, 5 + nc]
 * with the Detect decode inside (xy and wh in input pixels, objectness and class probabilities after the
 * sigmoid), weights as initializers. Every engine layer maps to standard ops: conv to Conv, batch norm to
 * BatchNormalization (or folded into the conv with {@code fuse}), SiLU to Sigmoid and Mul, leaky ReLU to
 * LeakyRelu, max pool (darknet's asymmetric padding included) to MaxPool, nearest upsampling to Resize,
 * route slices to Slice, concat and add to Concat and Add. Opsets 11 to 21.
 */
public final class OnnxExport {
    public static final int MIN_OPSET = 11, MAX_OPSET = 21, DEFAULT_OPSET = 13;

    public record Options(int imageSize, int opset, boolean fuse) {
        public Options {
            if (imageSize < 32 || imageSize % 32 != 0 || imageSize > org.jprune.yolo.Limits.MAX_IMAGE_SIZE)
                throw new IllegalArgumentException("export image size must be a multiple of 32 in [32, " + org.jprune.yolo.Limits.MAX_IMAGE_SIZE + "], got " + imageSize);
            if (opset < MIN_OPSET || opset > MAX_OPSET)
                throw new IllegalArgumentException("opset must be in [" + MIN_OPSET + ", " + MAX_OPSET + "], got " + opset);
        }
    }

    private final GraphProto.Builder g = GraphProto.newBuilder();
    private final Options o;
    private int serial;
    private final java.util.Set<String> usedNames = new java.util.HashSet<>();

    private OnnxExport(Options o) { this.o = o; }

    /** The model as ONNX bytes. */
    public static byte[] toBytes(YoloModel m, List<String> names, Options o) {
        return new OnnxExport(o).build(m, names).toByteArray();
    }

    /** Writes the model to {@code file} atomically. */
    public static void write(YoloModel m, List<String> names, Options o, Path file) throws IOException {
        SafeTensors.atomicWrite(file, toBytes(m, names, o));
    }

    private ModelProto build(YoloModel m, List<String> names) {
        Graph graph = m.graph();
        int size = o.imageSize();
        for (int s : m.strides()) if (size % s != 0) throw new IllegalArgumentException("image size " + size + " is not a multiple of stride " + s);
        g.setName("jprune");
        g.addInput(value("images", TensorProto.DataType.FLOAT, "batch", 3, size, size));
        int[][] shapes = graph.shapes(1, 3, size, size);
        List<Graph.Node> nodes = graph.nodes();
        // a batch norm folds into its conv only when the conv feeds nothing else
        int[] consumers = graph.readers();
        // with fuse: a batch norm that is its conv's only reader is folded into it (the conv is written at the batch norm)
        boolean[] folded = new boolean[nodes.size()];
        for (Graph.Node n : nodes) {
            int src = n.inputs()[0];
            if (o.fuse() && n.layer() instanceof BatchNorm2dLayer && src >= 0 && nodes.get(src).layer() instanceof Conv2dLayer && consumers[src] == 1) folded[src] = true;
        }
        String[] out = new String[nodes.size()];
        for (Graph.Node n : nodes) {
            String in0 = n.inputs()[0] < 0 ? "images" : out[n.inputs()[0]];
            String name = n.name();
            switch (n.layer()) {
                case Conv2dLayer c -> out[n.id()] = folded[n.id()] ? null : conv(name, in0, c, null);
                case BatchNorm2dLayer bn -> {
                    int src = n.inputs()[0];
                    if (src >= 0 && folded[src]) {
                        out[n.id()] = conv(name, inputOf(nodes.get(src), out), (Conv2dLayer) nodes.get(src).layer(), bn);
                    } else {
                        out[n.id()] = node("BatchNormalization", name, List.of(in0, init(name + ".weight", bn.gamma().value().toArray(), bn.channels()),
                                init(name + ".bias", bn.beta().value().toArray(), bn.channels()), init(name + ".running_mean", bn.runningMean().toArray(), bn.channels()),
                                init(name + ".running_var", bn.runningVar().toArray(), bn.channels())), List.of(floatAttr("epsilon", bn.eps())));
                    }
                }
                case SimpleLayers.ActLayer a -> out[n.id()] = switch (a.kind()) {
                    case SILU -> {
                        String s = node("Sigmoid", name + ".sigmoid", List.of(in0), List.of());
                        yield node("Mul", name, List.of(in0, s), List.of());
                    }
                    case LEAKY_RELU -> node("LeakyRelu", name, List.of(in0), List.of(floatAttr("alpha", a.alpha())));
                    case RELU -> node("Relu", name, List.of(in0), List.of());
                    case SIGMOID -> node("Sigmoid", name, List.of(in0), List.of());
                    case IDENTITY -> node("Identity", name, List.of(in0), List.of());
                };
                case SimpleLayers.MaxPoolLayer p -> out[n.id()] = node("MaxPool", name, List.of(in0), List.of(ints("kernel_shape", p.kernel(), p.kernel()),
                        ints("strides", p.stride(), p.stride()), ints("pads", p.pad(), p.pad(), p.padEnd(), p.padEnd())));
                case SimpleLayers.UpsampleLayer u -> out[n.id()] = node("Resize", name, List.of(in0, "", init(name + ".scales", new float[] {1, 1, u.scale(),
                        u.scale()}, 4)), List.of(stringAttr("mode", "nearest"), stringAttr("coordinate_transformation_mode", "asymmetric"),
                        stringAttr("nearest_mode", "floor")));
                case SimpleLayers.SliceLayer sl -> out[n.id()] = node("Slice", name, List.of(in0, longs(name + ".starts", sl.start()),
                        longs(name + ".ends", sl.start() + sl.count()), longs(name + ".axes", 1)), List.of());
                case SimpleLayers.ConcatLayer ignored -> {
                    List<String> ins = new ArrayList<>();
                    for (int i : n.inputs()) ins.add(i < 0 ? "images" : out[i]);
                    out[n.id()] = node("Concat", name, ins, List.of(intAttr("axis", 1)));
                }
                case SimpleLayers.AddLayer ignored -> out[n.id()] = node("Add", name, List.of(in0, out[n.inputs()[1]]), List.of());
                default -> throw new IllegalArgumentException("ONNX export: node " + name + " has layer type '" + n.layer().type() + "', which has no mapping");
            }
        }
        // the Detect decode, level by level, then one [batch, anchors, 5 + nc] output
        int[] outs = graph.outputs();
        float[][] anchors = m.anchorsPx();
        int[] strides = m.strides();
        int nc = m.classes(), no = nc + 5, na = anchors[0].length / 2;
        List<String> levels = new ArrayList<>();
        long total = 0;
        for (int i = 0; i < outs.length; i++) {
            int ny = shapes[outs[i]][2], nx = shapes[outs[i]][3];
            String p = "detect." + i;
            String r = node("Reshape", p + ".reshape", List.of(out[outs[i]], longs(p + ".shape5", -1, na, no, ny, nx)), List.of());
            String t = node("Transpose", p + ".transpose", List.of(r), List.of(ints("perm", 0, 1, 3, 4, 2)));
            String y = node("Sigmoid", p + ".sigmoid", List.of(t), List.of());
            String xy = slice(p + ".xy", y, 0, 2), wh = slice(p + ".wh", y, 2, 4), conf = slice(p + ".conf", y, 4, no);
            float[] grid = new float[na * ny * nx * 2], anchorGrid = new float[na * 2];
            for (int a = 0; a < na; a++) {
                for (int gy = 0; gy < ny; gy++)
                    for (int gx = 0; gx < nx; gx++) {
                        grid[((a * ny + gy) * nx + gx) * 2] = gx - 0.5f;
                        grid[((a * ny + gy) * nx + gx) * 2 + 1] = gy - 0.5f;
                    }
                anchorGrid[2 * a] = anchors[i][2 * a];
                anchorGrid[2 * a + 1] = anchors[i][2 * a + 1];
            }
            String two = init(p + ".two", new float[] {2f}), stride = init(p + ".stride", new float[] {strides[i]});
            String xy2 = node("Mul", p + ".xy.mul2", List.of(xy, two), List.of());
            String xyg = node("Add", p + ".xy.grid", List.of(xy2, initShaped(p + ".grid", grid, 1, na, ny, nx, 2)), List.of());
            String xyOut = node("Mul", p + ".xy.stride", List.of(xyg, stride), List.of());
            String wh2 = node("Mul", p + ".wh.mul2", List.of(wh, two), List.of());
            String whSq = node("Mul", p + ".wh.square", List.of(wh2, wh2), List.of());
            String whOut = node("Mul", p + ".wh.anchor", List.of(whSq, initShaped(p + ".anchor_grid", anchorGrid, 1, na, 1, 1, 2)), List.of());
            String cat = node("Concat", p + ".cat", List.of(xyOut, whOut, conf), List.of(intAttr("axis", 4)));
            levels.add(node("Reshape", p + ".flat", List.of(cat, longs(p + ".shape3", -1, (long) na * ny * nx, no)), List.of()));
            total += (long) na * ny * nx;
        }
        String output = levels.size() == 1 ? node("Identity", "output0", levels, List.of()) : node("Concat", "output0", levels, List.of(intAttr("axis", 1)));
        if (!output.equals("output0")) throw new IllegalStateException(output);
        g.addOutput(value("output0", TensorProto.DataType.FLOAT, "batch", total, no));
        int ir = o.opset() <= 14 ? 7 : o.opset() <= 17 ? 8 : o.opset() <= 20 ? 9 : 10;
        Map<String, String> meta = new HashMap<>();
        meta.put("stride", String.valueOf(java.util.Arrays.stream(strides).max().orElse(32)));
        meta.put("names", namesJson(names));
        meta.put("imgsz", "[" + size + ", " + size + "]");
        ModelProto.Builder mp = ModelProto.newBuilder().setIrVersion(ir).setProducerName("jprune").setProducerVersion("0.1.0").setGraph(g)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(o.opset()));
        meta.forEach((k, v) -> mp.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
        return mp.build();
    }

    private static String namesJson(List<String> names) {
        StringBuilder sb = new StringBuilder("{");
        for (int i = 0; i < names.size(); i++)
            sb.append(i == 0 ? "" : ", ").append(i).append(": '").append(names.get(i).replace("'", "\\'")).append('\'');
        return sb.append('}').toString();
    }

    /** The name of the tensor a node reads first (the conv's input, when the conv node is rewritten). */
    private String inputOf(Graph.Node n, String[] out) {
        int i = n.inputs()[0];
        return i < 0 ? "images" : out[i];
    }

    /** A Conv node; with {@code bn}, the batch norm folded in (w' = w gamma / sqrt(var + eps), b' = beta + (b - mean) gamma / sqrt(var + eps)). */
    private String conv(String name, String in, Conv2dLayer c, BatchNorm2dLayer bn) {
        int[] shape = c.weight().value().shape();
        int out = shape[0];
        float[][] folded = bn == null ? null : bn.foldInto(c);
        float[] w = folded != null ? folded[0] : c.weight().value().toArray();
        float[] b = folded != null ? folded[1] : c.bias() != null ? c.bias().value().toArray() : null;
        List<String> ins = new ArrayList<>(List.of(in, initShaped(name + ".weight", w, shape)));
        if (b != null) ins.add(init(name + ".bias", b, out));
        int k = c.kernel(), s = c.stride(), p = c.pad();
        return node("Conv", name, ins, List.of(ints("kernel_shape", k, k), ints("strides", s, s),
                ints("pads", p, p, p, p), intAttr("group", c.groups()), ints("dilations", 1, 1)));
    }

    private String slice(String name, String in, long start, long end) {
        return node("Slice", name, List.of(in, longs(name + ".starts", start), longs(name + ".ends", end), longs(name + ".axes", 4)), List.of());
    }

    /** Adds a node whose single output is named after it; returns that name. */
    private String node(String op, String name, List<String> inputs, List<AttributeProto> attrs) {
        String outName = name;
        while (!usedNames.add(outName)) outName = name + "#" + (++serial); // unique value names, in constant time per node
        g.addNode(NodeProto.newBuilder().setOpType(op).setName(outName).addAllInput(inputs).addOutput(outName).addAllAttribute(attrs));
        return outName;
    }

    private String init(String name, float[] v, int... shape) { return initShaped(name, v, shape.length == 0 ? new int[] {v.length} : shape); }

    private String initShaped(String name, float[] v, int... shape) {
        ByteBuffer bb = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) bb.putFloat(f);
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE).setRawData(ByteString.copyFrom(bb.array()));
        for (int d : shape) t.addDims(d);
        g.addInitializer(t);
        return name;
    }

    private String longs(String name, long... v) {
        g.addInitializer(TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT64_VALUE).addDims(v.length)
                .addAllInt64Data(java.util.Arrays.stream(v).boxed().toList()));
        return name;
    }

    private static AttributeProto ints(String name, long... v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS).addAllInts(java.util.Arrays.stream(v).boxed().toList()).build();
    }

    private static AttributeProto intAttr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    private static AttributeProto floatAttr(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
    }

    private static AttributeProto stringAttr(String name, String v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8(v)).build();
    }

    private static ValueInfoProto value(String name, TensorProto.DataType type, String batch, long... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(batch));
        for (long d : dims) s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                .setElemType(type.getNumber()).setShape(s))).build();
    }

    @Override
    public String toString() { return String.format(Locale.ROOT, "OnnxExport(%s)", o); }
}
