package org.jprune.engine.prune;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jprune.engine.nn.BatchNorm2dLayer;
import org.jprune.engine.nn.Conv2dLayer;
import org.jprune.engine.nn.Graph;
import org.jprune.engine.nn.Layer;

/**
 * Which channels of a graph must be pruned together, derived from the graph itself (never listed per
 * model), in Torch-Pruning's sense. Every convolution output channel is a channel; layers whose
 * {@link Layer.ChannelMap} is SAME pass their input's channels through (BN, activations, pooling,
 * upsampling), and an add (SAME with several inputs) couples the channels at equal positions of its
 * inputs into one; a concat lays its inputs' channels side by side. A coupled set is one
 * {@link Group}: removing it removes a conv output row from every producer in the set and an input
 * column from every consumer. Channels that reach the graph's outputs or come from its input are not
 * prunable (the detection head keeps its outputs).
 */
public final class DependencyGraph {
    /** A set of coupled channels; {@code producers} are (conv node, output channel) pairs. */
    public record Group(int id, List<int[]> producers, boolean prunable) {}

    private final Graph graph;
    private final int[][] channelsOf;   // node -> group id of each output channel
    private final int[] inputChannels;  // group ids of the graph input's channels
    private final List<Group> groups = new ArrayList<>();

    public DependencyGraph(Graph graph, int inputChannelCount) {
        this.graph = graph;
        List<Graph.Node> nodes = graph.nodes();
        UnionFind uf = new UnionFind();
        inputChannels = new int[inputChannelCount];
        for (int c = 0; c < inputChannelCount; c++) inputChannels[c] = uf.add();
        int[][] ch = new int[nodes.size()][];
        for (Graph.Node n : nodes) {
            Layer l = n.layer();
            int[] in0 = in(n.inputs()[0], ch);
            switch (l.channelMap()) {
                case MIXING -> {
                    int out = ((Conv2dLayer) l).outChannels();
                    ch[n.id()] = new int[out];
                    for (int c = 0; c < out; c++) ch[n.id()][c] = uf.add();
                }
                case CONCAT -> {
                    List<Integer> all = new ArrayList<>();
                    for (int i : n.inputs()) for (int c : in(i, ch)) all.add(c);
                    ch[n.id()] = all.stream().mapToInt(Integer::intValue).toArray();
                }
                case SLICE -> {
                    var s = (org.jprune.engine.nn.SimpleLayers.SliceLayer) l;
                    ch[n.id()] = Arrays.copyOfRange(in0, s.start(), s.start() + s.count());
                }
                case SAME -> {
                    for (int k = 1; k < n.inputs().length; k++) {
                        int[] other = in(n.inputs()[k], ch);
                        if (other.length != in0.length) throw new IllegalStateException("add " + n.name() + " of different channel counts");
                        for (int c = 0; c < in0.length; c++) uf.union(in0[c], other[c]);
                    }
                    ch[n.id()] = in0.clone();
                }
            }
        }
        boolean[] fixed = new boolean[uf.size()];
        for (int c : inputChannels) fixed[uf.find(c)] = true;
        for (int o : graph.outputs()) for (int c : ch[o]) fixed[uf.find(c)] = true;
        // renumber roots densely into groups, in order of first appearance
        int[] groupOfRoot = new int[uf.size()];
        Arrays.fill(groupOfRoot, -1);
        List<List<int[]>> producers = new ArrayList<>();
        List<Boolean> prunable = new ArrayList<>();
        channelsOf = new int[nodes.size()][];
        for (Graph.Node n : nodes) {
            channelsOf[n.id()] = new int[ch[n.id()].length];
            for (int c = 0; c < ch[n.id()].length; c++) {
                int root = uf.find(ch[n.id()][c]);
                if (groupOfRoot[root] < 0) {
                    groupOfRoot[root] = producers.size();
                    producers.add(new ArrayList<>());
                    prunable.add(!fixed[root]);
                }
                channelsOf[n.id()][c] = groupOfRoot[root];
                if (n.layer().channelMap() == Layer.ChannelMap.MIXING) producers.get(groupOfRoot[root]).add(new int[] {n.id(), c});
            }
        }
        for (int i = 0; i < inputChannels.length; i++) {
            int root = uf.find(inputChannels[i]);
            if (groupOfRoot[root] < 0) {
                groupOfRoot[root] = producers.size();
                producers.add(new ArrayList<>());
                prunable.add(false);
            }
            inputChannels[i] = groupOfRoot[root];
        }
        for (int g = 0; g < producers.size(); g++) groups.add(new Group(g, List.copyOf(producers.get(g)), prunable.get(g)));
    }

    private int[] in(int node, int[][] ch) { return node == Graph.INPUT ? inputChannels : ch[node]; }

    public Graph graph() { return graph; }
    public List<Group> groups() { return groups; }

    /** The group of each output channel of a node. */
    public int[] channels(int node) { return channelsOf[node].clone(); }

    /** The group of each input channel of a node's first input. */
    public int[] inputChannels(int node) {
        int i = graph.node(node).inputs()[0];
        return i == Graph.INPUT ? inputChannels.clone() : channelsOf[i].clone();
    }

    /**
     * The conv node that first produces a group's channel (the "layer" pruning ranks it in), or -1
     * for groups no conv produces (the graph input's).
     */
    public int layerOf(int group) {
        List<int[]> p = groups.get(group).producers();
        return p.isEmpty() ? -1 : p.get(0)[0];
    }

    /** Conv layers by node id. */
    public Map<Integer, Conv2dLayer> convs() {
        Map<Integer, Conv2dLayer> m = new LinkedHashMap<>();
        for (Graph.Node n : graph.nodes()) if (n.layer() instanceof Conv2dLayer c) m.put(n.id(), c);
        return m;
    }

    /** The batch norm right after a conv, if any (reads only that conv). */
    public BatchNorm2dLayer bnAfter(int convNode) {
        for (Graph.Node n : graph.nodes())
            if (n.layer() instanceof BatchNorm2dLayer bn && n.inputs()[0] == convNode) return bn;
        return null;
    }

    private static final class UnionFind {
        int[] parent = new int[64];
        int n;

        int add() {
            if (n == parent.length) parent = Arrays.copyOf(parent, n * 2);
            parent[n] = n;
            return n++;
        }

        int size() { return n; }

        int find(int x) {
            while (parent[x] != x) {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            return x;
        }

        void union(int a, int b) {
            int ra = find(a), rb = find(b);
            if (ra != rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
        }
    }
}
