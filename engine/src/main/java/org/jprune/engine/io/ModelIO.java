package org.jprune.engine.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jprune.engine.Device;
import org.jprune.engine.nn.BatchNorm2dLayer;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.Layer;
import org.jprune.engine.nn.SimpleLayers;
import org.jprune.engine.ops.Activation;

/**
 * A model on disk: {@code NAME.json} (the graph: nodes with type, inputs and arguments) beside
 * {@code NAME.safetensors} (the weights and BN statistics). Layer types are looked up in a registry
 * that other modules extend (the YOLO module adds its detection head).
 */
public final class ModelIO {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Builds a layer from its node name and JSON arguments. */
    @FunctionalInterface
    public interface LayerFactory {
        Layer create(Device device, String name, JsonNode args);
    }

    private static final Map<String, LayerFactory> REGISTRY = new ConcurrentHashMap<>();

    static {
        register("conv", (d, n, a) -> new Conv2dLayer(d, n, req(a, "in"), req(a, "out"), req(a, "kernel"), req(a, "stride"),
                req(a, "pad"), a.path("groups").asInt(1), a.path("bias").asBoolean(true), 0));
        register("bn", (d, n, a) -> new BatchNorm2dLayer(d, n, req(a, "channels"), (float) a.path("eps").asDouble(1e-5),
                (float) a.path("momentum").asDouble(0.1)));
        register("act", (d, n, a) -> new SimpleLayers.ActLayer(Activation.valueOf(a.path("kind").asText("identity").toUpperCase(java.util.Locale.ROOT)),
                (float) a.path("alpha").asDouble(0.1)));
        register("slice", (d, n, a) -> new SimpleLayers.SliceLayer(req(a, "start"), req(a, "count")));
        register("maxpool", (d, n, a) -> new SimpleLayers.MaxPoolLayer(req(a, "kernel"), req(a, "stride"), a.path("pad").asInt(0), a.path("pad_end").asInt(a.path("pad").asInt(0))));
        register("upsample", (d, n, a) -> new SimpleLayers.UpsampleLayer(req(a, "scale")));
        register("concat", (d, n, a) -> new SimpleLayers.ConcatLayer());
        register("add", (d, n, a) -> new SimpleLayers.AddLayer());
    }

    private ModelIO() {}

    public static void register(String type, LayerFactory f) { REGISTRY.put(type, f); }

    private static int req(JsonNode a, String key) {
        JsonNode v = a.get(key);
        if (v == null || !v.canConvertToInt()) throw new IllegalArgumentException("missing or non-integer argument '" + key + "'");
        return v.asInt();
    }

    public static Path specPath(Path weights) {
        String f = weights.getFileName().toString();
        String base = f.endsWith(".safetensors") ? f.substring(0, f.length() - ".safetensors".length()) : f;
        return weights.resolveSibling(base + ".json");
    }

    public static ObjectNode spec(Graph g) {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", "jprune-graph/1");
        ArrayNode nodes = root.putArray("nodes");
        for (Graph.Node n : g.nodes()) {
            ObjectNode o = nodes.addObject();
            o.put("name", n.name());
            o.put("type", n.layer().type());
            ArrayNode in = o.putArray("inputs");
            for (int i : n.inputs()) in.add(i);
            o.set("args", JSON.valueToTree(n.layer().args()));
        }
        ArrayNode outs = root.putArray("outputs");
        for (int o : g.outputs()) outs.add(o);
        return root;
    }

    /** Writes NAME.safetensors and NAME.json, each atomically. */
    public static void save(Graph g, Path weights, Map<String, String> metadata) throws IOException {
        SafeTensors.write(weights, g.stateDict(), metadata);
        SafeTensors.atomicWrite(specPath(weights), JSON.writeValueAsBytes(spec(g)));
    }

    public static Graph fromSpec(JsonNode root, Device device, String where) {
        if (!"jprune-graph/1".equals(root.path("format").asText()))
            throw new IllegalArgumentException(where + ": not a jprune graph spec (format '" + root.path("format").asText() + "')");
        Graph g = new Graph(device);
        try {
            int i = 0;
            for (JsonNode n : root.path("nodes")) {
                String type = n.path("type").asText(), name = n.path("name").asText("node" + i);
                LayerFactory f = REGISTRY.get(type);
                if (f == null) throw new IllegalArgumentException(where + ": node " + i + " (" + name + ") has unknown type '" + type + "'");
                int[] inputs = new int[n.path("inputs").size()];
                for (int j = 0; j < inputs.length; j++) inputs[j] = n.path("inputs").get(j).asInt();
                Layer layer;
                try {
                    layer = f.create(device, name, n.path("args"));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(where + ": node " + i + " (" + name + "): " + e.getMessage(), e);
                }
                g.add(name, layer, inputs);
                i++;
            }
            JsonNode outs = root.path("outputs");
            if (outs.isArray() && !outs.isEmpty()) {
                int[] o = new int[outs.size()];
                for (int j = 0; j < o.length; j++) o[j] = outs.get(j).asInt();
                g.setOutputs(o);
            }
            return g;
        } catch (RuntimeException e) {
            g.close();
            throw e;
        }
    }

    /** Loads NAME.json and NAME.safetensors into a new graph on device; returns it with the file's metadata. */
    public static Loaded load(Path weights, Device device) throws IOException {
        Path spec = specPath(weights);
        if (!Files.isRegularFile(spec)) throw new IOException("model spec " + spec + " not found beside " + weights);
        JsonNode root;
        try {
            root = JSON.readTree(spec.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException(spec + ": line " + e.getLocation().getLineNr() + ": " + e.getOriginalMessage(), e);
        }
        Graph g = fromSpec(root, device, spec.toString());
        try {
            Map<String, String> meta = SafeTensors.loadInto(weights, g.stateDict());
            return new Loaded(g, new LinkedHashMap<>(meta));
        } catch (IOException | RuntimeException e) {
            g.close();
            throw e;
        }
    }

    public record Loaded(Graph graph, Map<String, String> metadata) {}
}
