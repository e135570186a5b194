package org.jprune.engine.prune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.nn.BatchNorm2dLayer;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.Parameter;
import org.jprune.engine.ops.ChannelIndex;
import org.jprune.engine.ops.Channels;

/**
 * The pruning state of a network as data: for every convolution (by node name) the output channels
 * it keeps, and optionally an element mask per weight (unstructured pruning: 1 keep, 0 pruned). It
 * is what a checkpoint written after a pruning step stores ({@link #toJson()} in its metadata, element
 * masks bit-packed in it), and what resume, fine-tuning, evaluation and compaction read back;
 * nothing re-derives it from weights that happen to be 0.
 *
 * <p>{@link #apply} puts it on a graph for masked fine-tuning: every convolution runs channel-sparse
 * over its alive input and output channels ({@link Conv2dLayer#setActiveChannels}); the parameter
 * masks (which the optimizers apply in their update kernels) hold pruned rows, columns, biases and
 * batch-norm scales at exactly 0 in the weights, gradients and optimizer state; the pruned channels'
 * batch-norm running statistics are zeroed with the channel-mask kernel.
 */
public final class PruningPlan {
    public static final String FORMAT = "jprune-pruning-plan/1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, int[]> kept;        // conv node -> kept output channels, increasing
    private final Map<String, Integer> widths;    // conv node -> output channels of the graph the plan is over
    private final Map<String, float[]> weightMasks; // parameter name -> element mask (unstructured)

    private PruningPlan(Map<String, int[]> kept, Map<String, Integer> widths, Map<String, float[]> weightMasks) {
        this.kept = kept;
        this.widths = widths;
        this.weightMasks = weightMasks;
    }

    /** The plan of a graph where the groups with {@code alive[g] == false} are pruned; no element masks. */
    public static PruningPlan of(DependencyGraph dg, boolean[] alive) {
        if (alive.length != dg.groups().size())
            throw new IllegalArgumentException("pruning plan: " + alive.length + " alive flags for " + dg.groups().size() + " groups");
        Map<String, int[]> kept = new LinkedHashMap<>();
        Map<String, Integer> widths = new LinkedHashMap<>();
        for (int node : dg.convs().keySet()) {
            int[] ch = dg.channels(node);
            List<Integer> k = new ArrayList<>();
            for (int c = 0; c < ch.length; c++) if (alive[ch[c]]) k.add(c);
            String name = dg.graph().node(node).name();
            kept.put(name, k.stream().mapToInt(Integer::intValue).toArray());
            widths.put(name, ch.length);
        }
        return new PruningPlan(kept, widths, Map.of());
    }

    /** The same channels, plus element masks by parameter name (copied). */
    public PruningPlan withWeightMasks(Map<String, float[]> masks) {
        Map<String, float[]> m = new TreeMap<>();
        masks.forEach((k, v) -> m.put(k, v.clone()));
        return new PruningPlan(kept, widths, Collections.unmodifiableMap(m));
    }

    /** Element masks by parameter name (unstructured pruning); empty when there are none. */
    public Map<String, float[]> weightMasks() { return weightMasks; }

    /** Kept output channels of a conv node, or null if the plan does not name it. */
    public int[] kept(String conv) {
        int[] k = kept.get(conv);
        return k == null ? null : k.clone();
    }

    /** Output channels removed in total, over every conv. */
    public long prunedChannels() {
        long n = 0;
        for (var e : kept.entrySet()) n += widths.get(e.getKey()) - e.getValue().length;
        return n;
    }

    /**
     * The alive flag of every group of {@code dg}, checked against the graph: the plan must name every
     * conv with its width, coupled producers must agree and channels that cannot be pruned (graph
     * inputs and outputs) must be kept.
     */
    public boolean[] alive(DependencyGraph dg) {
        String where = "pruning plan";
        boolean[] alive = new boolean[dg.groups().size()];
        boolean[] seen = new boolean[alive.length];
        Arrays.fill(alive, true);
        for (var e : dg.convs().entrySet()) {
            String name = dg.graph().node(e.getKey()).name();
            int[] ch = dg.channels(e.getKey());
            int[] k = kept.get(name);
            if (k == null) throw new IllegalArgumentException(where + " does not name conv '" + name + "' of this model (a different model?)");
            if (widths.get(name) != ch.length)
                throw new IllegalArgumentException(where + ": conv '" + name + "' has " + widths.get(name) + " output channels in the plan, " + ch.length + " in the model");
            boolean[] keep = new boolean[ch.length];
            for (int c : k) keep[c] = true;
            for (int c = 0; c < ch.length; c++) {
                int g = ch[c];
                if (seen[g] && alive[g] != keep[c])
                    throw new IllegalArgumentException(where + ": conv '" + name + "' channel " + c + " is " + (keep[c] ? "kept" : "pruned")
                            + " but a channel coupled to it (through a residual add) is not");
                if (!keep[c] && !dg.groups().get(g).prunable())
                    throw new IllegalArgumentException(where + ": conv '" + name + "' channel " + c + " is pruned but feeds a model output");
                seen[g] = true;
                alive[g] = keep[c];
            }
        }
        for (String name : kept.keySet()) {
            boolean found = dg.convs().keySet().stream().anyMatch(n -> dg.graph().node(n).name().equals(name));
            if (!found) throw new IllegalArgumentException(where + " names conv '" + name + "', which this model does not have");
        }
        return alive;
    }

    // ------------------------------------------------------------------ applying to a graph

    /**
     * Puts the plan on the graph for masked training and inference (see the class comment). Replaces
     * whatever plan was there. Convolutions whose every channel is alive stay dense.
     */
    public void apply(DependencyGraph dg) {
        boolean[] alive = alive(dg);
        for (String p : weightMasks.keySet())
            if (dg.graph().parameters().stream().noneMatch(q -> q.name().equals(p)))
                throw new IllegalArgumentException("pruning plan: element mask for '" + p + "', which this model does not have");
        for (var e : dg.convs().entrySet()) {
            Conv2dLayer c = e.getValue();
            c.setInferenceCsr(null); // chosen for the old weights
            Device d = c.weight().value().device();
            int[] out = dg.channels(e.getKey()), in = dg.inputChannels(e.getKey());
            int rs = c.kernel() * c.kernel();
            float[] um = weightMasks.get(c.weight().name());
            if (um != null && um.length != c.weight().value().numel())
                throw new IllegalArgumentException("pruning plan: element mask of '" + c.weight().name() + "' has " + um.length + " entries, the weight "
                        + c.weight().value().numel());
            float[] m = new float[out.length * in.length * rs];
            for (int k = 0; k < out.length; k++)
                for (int ci = 0; ci < in.length; ci++)
                    if (alive[out[k]] && alive[in[ci]]) Arrays.fill(m, (k * in.length + ci) * rs, (k * in.length + ci + 1) * rs, 1f);
            if (um != null) for (int i = 0; i < m.length; i++) m[i] *= um[i];
            boolean denseOut = allAlive(alive, out), denseIn = allAlive(alive, in);
            c.weight().setMask(denseOut && denseIn && um == null ? null : Tensor.of(d, m, c.weight().value().shape()));
            float[] om = channelMask(alive, out);
            if (c.bias() != null) c.bias().setMask(denseOut ? null : Tensor.of(d, om, out.length));
            if (denseOut && denseIn) c.setActiveChannels(null, null);
            else c.setActiveChannels(new ChannelIndex(d, aliveIndex(alive, in), in.length), new ChannelIndex(d, aliveIndex(alive, out), out.length));
            BatchNorm2dLayer bn = dg.bnAfter(e.getKey());
            if (bn != null) {
                bn.gamma().setMask(denseOut ? null : Tensor.of(d, om, out.length));
                bn.beta().setMask(denseOut ? null : Tensor.of(d, om, out.length));
                if (!denseOut) {
                    try (Tensor mask = Tensor.of(d, om, out.length)) {
                        Channels.mask(bn.runningMean(), 0, mask);
                        Channels.mask(bn.runningVar(), 0, mask);
                    }
                }
            }
        }
    }

    /** Removes any plan from the graph: dense kernels, no masks. */
    public static void clear(Graph g) {
        for (Graph.Node n : g.nodes()) {
            if (n.layer() instanceof Conv2dLayer c) {
                c.setActiveChannels(null, null);
                c.setInferenceCsr(null);
            }
            for (Parameter p : n.layer().parameters()) p.setMask(null);
        }
    }

    private static boolean allAlive(boolean[] alive, int[] groups) {
        for (int g : groups) if (!alive[g]) return false;
        return true;
    }

    private static float[] channelMask(boolean[] alive, int[] groups) {
        float[] m = new float[groups.length];
        for (int k = 0; k < groups.length; k++) m[k] = alive[groups[k]] ? 1f : 0f;
        return m;
    }

    static int[] aliveIndex(boolean[] alive, int[] groups) {
        int n = 0;
        for (int g : groups) if (alive[g]) n++;
        int[] idx = new int[n];
        n = 0;
        for (int k = 0; k < groups.length; k++) if (alive[groups[k]]) idx[n++] = k;
        return idx;
    }

    // ------------------------------------------------------------------ JSON

    /** The plan as JSON; element masks are base64 of their bits (bit i in byte i / 8, least significant first; 1 = kept). */
    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        ObjectNode convs = root.putObject("convs");
        kept.forEach((name, k) -> {
            ObjectNode c = convs.putObject(name);
            c.put("channels", widths.get(name));
            c.put("kept", ranges(k));
        });
        if (!weightMasks.isEmpty()) {
            ObjectNode wm = root.putObject("weight_masks");
            weightMasks.forEach((name, m) -> {
                byte[] bits = new byte[(m.length + 7) / 8];
                for (int i = 0; i < m.length; i++) if (m[i] != 0f) bits[i >> 3] |= (byte) (1 << (i & 7));
                wm.putObject(name).put("n", m.length).put("bits", java.util.Base64.getEncoder().encodeToString(bits));
            });
        }
        return root.toString();
    }

    /** Reads {@link #toJson()}; throws IllegalArgumentException naming {@code where} and the bad entry. */
    public static PruningPlan parse(String json, String where) {
        JsonNode root = readJson(json, where, "pruning plan", FORMAT);
        JsonNode convs = root.path("convs");
        if (!convs.isObject()) throw new IllegalArgumentException(where + ": pruning plan has no 'convs' object");
        Map<String, int[]> kept = new LinkedHashMap<>();
        Map<String, Integer> widths = new LinkedHashMap<>();
        for (var it = convs.fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode ch = e.getValue().path("channels");
            if (!ch.canConvertToInt() || ch.asInt() <= 0 || ch.asInt() > 1 << 20)
                throw new IllegalArgumentException(where + ": pruning plan conv '" + e.getKey() + "': 'channels' must be an integer in [1, 2^20], got " + ch);
            int n = ch.asInt();
            kept.put(e.getKey(), parseRanges(e.getValue().path("kept").asText(""), n, where + ": pruning plan conv '" + e.getKey() + "'"));
            widths.put(e.getKey(), n);
        }
        Map<String, float[]> m = new TreeMap<>();
        JsonNode wm = root.path("weight_masks");
        if (!wm.isMissingNode() && !wm.isObject()) throw new IllegalArgumentException(where + ": pruning plan 'weight_masks' must be an object");
        for (var it = wm.fields(); it.hasNext(); ) {
            var e = it.next();
            String w = where + ": pruning plan element mask '" + e.getKey() + "'";
            JsonNode n = e.getValue().path("n");
            if (!n.canConvertToInt() || n.asInt() < 1) throw new IllegalArgumentException(w + ": 'n' must be a positive integer, got " + n);
            byte[] bits;
            try {
                bits = java.util.Base64.getDecoder().decode(e.getValue().path("bits").asText(""));
            } catch (IllegalArgumentException x) {
                throw new IllegalArgumentException(w + ": 'bits' is not base64");
            }
            int len = n.asInt();
            if (bits.length != (len + 7) / 8) throw new IllegalArgumentException(w + ": " + bits.length + " bytes of bits for " + len + " weights");
            float[] v = new float[len];
            for (int i = 0; i < len; i++) v[i] = (bits[i >> 3] >> (i & 7) & 1) != 0 ? 1f : 0f;
            m.put(e.getKey(), v);
        }
        return new PruningPlan(kept, widths, Collections.unmodifiableMap(m));
    }

    /** A JSON object in this package's formats: parsed, and its "format" checked; errors name where and what. */
    static JsonNode readJson(String json, String where, String what, String format) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(where + ": " + what + " is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !format.equals(root.path("format").asText())) throw new IllegalArgumentException(where + ": " + what + " format is not " + format);
        return root;
    }

    /** "0-3,5,7-9" for {0,1,2,3,5,7,8,9}. */
    static String ranges(int[] k) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < k.length; ) {
            int j = i;
            while (j + 1 < k.length && k[j + 1] == k[j] + 1) j++;
            if (sb.length() > 0) sb.append(',');
            sb.append(k[i]);
            if (j > i) sb.append('-').append(k[j]);
            i = j + 1;
        }
        return sb.toString();
    }

    static int[] parseRanges(String s, int limit, String where) {
        List<Integer> out = new ArrayList<>();
        if (!s.isBlank()) {
            for (String part : s.split(",")) {
                String[] ab = part.strip().split("-", -1);
                int a, b;
                try {
                    a = Integer.parseInt(ab[0].strip());
                    b = ab.length == 2 ? Integer.parseInt(ab[1].strip()) : a;
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(where + ": 'kept' has a bad range '" + part + "'");
                }
                if (ab.length > 2 || a < 0 || b < a || b >= limit)
                    throw new IllegalArgumentException(where + ": 'kept' range '" + part + "' is not inside [0, " + limit + ")");
                if (!out.isEmpty() && a <= out.get(out.size() - 1))
                    throw new IllegalArgumentException(where + ": 'kept' ranges must increase, got '" + part + "' after " + out.get(out.size() - 1));
                for (int v = a; v <= b; v++) out.add(v);
            }
        }
        if (out.isEmpty()) throw new IllegalArgumentException(where + ": keeps no channel");
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof PruningPlan p) || !p.kept.keySet().equals(kept.keySet()) || !p.widths.equals(widths)
                || !p.weightMasks.keySet().equals(weightMasks.keySet())) return false;
        for (var e : kept.entrySet()) if (!Arrays.equals(e.getValue(), p.kept.get(e.getKey()))) return false;
        for (var e : weightMasks.entrySet()) if (!Arrays.equals(e.getValue(), p.weightMasks.get(e.getKey()))) return false;
        return true;
    }

    @Override
    public int hashCode() { return kept.keySet().hashCode() * 31 + widths.hashCode(); }

    @Override
    public String toString() { return "PruningPlan(" + prunedChannels() + " channels pruned over " + kept.size() + " convs, " + weightMasks.size() + " element masks)"; }
}
