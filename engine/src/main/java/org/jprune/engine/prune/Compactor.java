package org.jprune.engine.prune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jprune.engine.Tensor;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.Layer;
import org.jprune.engine.nn.Parameter;
import org.jprune.engine.nn.SimpleLayers;
import org.jprune.engine.ops.ChannelIndex;
import org.jprune.engine.ops.Channels;

/**
 * Physically removes pruned channels. {@link #spec} gives the widths of the smaller network (output
 * channels of every conv by node name, and the channel range of every slice), which a model builder
 * applies to build the compact graph with the same node names; {@link #compactState} gathers every
 * tensor of a state dict (weights, biases, batch-norm statistics, or an EMA of them) down to the kept
 * channels with the gather kernel: conv weights lose pruned rows (axis 0) and columns (axis 1), biases
 * and batch-norm vectors lose pruned entries. Concats, residual adds and routes need nothing: the
 * builder derives each layer's input channels from the graph. The compact network computes what the
 * masked one does (pruned channels output exactly 0, so dropping them changes no kept value).
 */
public final class Compactor {
    private Compactor() {}

    /** Widths of a (compact) network: conv output channels and slice ranges by node name. */
    public record Spec(Map<String, Integer> convOut, Map<String, int[]> slices) {
        public static final String FORMAT = "jprune-widths/1";
        private static final ObjectMapper JSON = new ObjectMapper();

        public Spec {
            convOut = Collections.unmodifiableMap(new LinkedHashMap<>(convOut));
            Map<String, int[]> s = new LinkedHashMap<>();
            slices.forEach((k, v) -> s.put(k, v.clone()));
            slices = Collections.unmodifiableMap(s);
        }

        /** A conv's output channels: the spec's, or {@code configured} if it does not name it; checked against it. */
        public int out(String conv, int configured) {
            Integer v = convOut.get(conv);
            if (v == null) return configured;
            if (v < 1 || v > configured)
                throw new IllegalArgumentException("widths: conv '" + conv + "' has " + v + " output channels, must be in [1, " + configured + "]");
            return v;
        }

        /** A slice's [start, count]: the spec's, or the configured one. */
        public int[] slice(String name, int start, int count) {
            int[] v = slices.get(name);
            return v == null ? new int[] {start, count} : v.clone();
        }

        public String toJson() {
            ObjectNode root = JSON.createObjectNode();
            root.put("format", FORMAT);
            ObjectNode c = root.putObject("conv_out");
            convOut.forEach(c::put);
            ObjectNode s = root.putObject("slices");
            slices.forEach((k, v) -> s.putArray(k).add(v[0]).add(v[1]));
            return root.toString();
        }

        public static Spec parse(String json, String where) {
            JsonNode root = PruningPlan.readJson(json, where, "widths", FORMAT);
            Map<String, Integer> conv = new LinkedHashMap<>();
            for (var it = root.path("conv_out").fields(); it.hasNext(); ) {
                var e = it.next();
                if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 1)
                    throw new IllegalArgumentException(where + ": widths: conv '" + e.getKey() + "' has output channels " + e.getValue() + ", must be an integer >= 1");
                conv.put(e.getKey(), e.getValue().asInt());
            }
            Map<String, int[]> slices = new LinkedHashMap<>();
            for (var it = root.path("slices").fields(); it.hasNext(); ) {
                var e = it.next();
                JsonNode v = e.getValue();
                if (!v.isArray() || v.size() != 2 || !v.get(0).canConvertToInt() || !v.get(1).canConvertToInt() || v.get(0).asInt() < 0 || v.get(1).asInt() < 1)
                    throw new IllegalArgumentException(where + ": widths: slice '" + e.getKey() + "' must be [start >= 0, count >= 1], got " + v);
                slices.put(e.getKey(), new int[] {v.get(0).asInt(), v.get(1).asInt()});
            }
            return new Spec(conv, slices);
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Spec s) || !s.convOut.equals(convOut) || !s.slices.keySet().equals(slices.keySet())) return false;
            for (var e : slices.entrySet()) if (!Arrays.equals(e.getValue(), s.slices.get(e.getKey()))) return false;
            return true;
        }

        @Override
        public int hashCode() { return convOut.hashCode(); }
    }

    /** The widths of {@code dg}'s graph with the groups where {@code alive} is false removed: every conv and slice named. */
    public static Spec spec(DependencyGraph dg, boolean[] alive) {
        Map<String, Integer> conv = new LinkedHashMap<>();
        Map<String, int[]> slices = new LinkedHashMap<>();
        for (Graph.Node n : dg.graph().nodes()) {
            int[] out = dg.channels(n.id());
            int kept = count(alive, out, 0, out.length);
            if (out.length > 0 && kept == 0) throw new IllegalArgumentException("compaction: node " + n.name() + " would keep no channel");
            if (n.layer() instanceof Conv2dLayer) conv.put(n.name(), kept);
            if (n.layer() instanceof SimpleLayers.SliceLayer s) {
                int[] in = dg.inputChannels(n.id());
                slices.put(n.name(), new int[] {count(alive, in, 0, s.start()), kept});
            }
        }
        return new Spec(conv, slices);
    }

    /**
     * The tensors of {@code state} (a graph's state dict by name, or an EMA of it) with the pruned
     * channels removed: new tensors the caller owns, same names. Tensors of layers other than conv and
     * batch norm must not change size.
     */
    public static Map<String, Tensor> compactState(DependencyGraph dg, boolean[] alive, Map<String, Tensor> state) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            for (Graph.Node n : dg.graph().nodes()) {
                Layer l = n.layer();
                int[] outCh = dg.channels(n.id());
                for (String name : names(l)) {
                    Tensor t = state.get(name);
                    if (t == null) throw new IllegalArgumentException("compaction: state has no tensor " + name);
                    Tensor c;
                    if (l instanceof Conv2dLayer conv && name.equals(conv.weight().name())) {
                        int[] inCh = dg.inputChannels(n.id());
                        try (ChannelIndex ko = index(t, alive, outCh); Tensor rows = Channels.gather(t, 0, ko); ChannelIndex ki = index(t, alive, inCh)) {
                            c = Channels.gather(rows, 1, ki);
                        }
                    } else if (t.rank() == 1 && t.dim(0) == outCh.length) {
                        try (ChannelIndex ko = index(t, alive, outCh)) {
                            c = Channels.gather(t, 0, ko);
                        }
                    } else {
                        throw new IllegalArgumentException("compaction: cannot compact tensor " + name + " " + Arrays.toString(t.shape()) + " of layer type " + l.type());
                    }
                    out.put(name, c);
                }
            }
            return out;
        } catch (RuntimeException e) {
            out.values().forEach(Tensor::close);
            throw e;
        }
    }

    private static java.util.List<String> names(Layer l) {
        java.util.List<String> n = new java.util.ArrayList<>();
        for (Parameter p : l.parameters()) n.add(p.name());
        n.addAll(new java.util.TreeMap<>(l.buffers()).keySet());
        return n;
    }

    private static ChannelIndex index(Tensor t, boolean[] alive, int[] groups) {
        return new ChannelIndex(t.device(), PruningPlan.aliveIndex(alive, groups), groups.length);
    }

    private static int count(boolean[] alive, int[] groups, int from, int to) {
        int n = 0;
        for (int i = from; i < to; i++) if (alive[groups[i]]) n++;
        return n;
    }
}
