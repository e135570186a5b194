package org.jprune.engine.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;

/**
 * A model as a DAG of layers, like an Ultralytics model YAML: each node names its layer and the ids
 * of the nodes it reads (-1 = the graph input). Nodes can only read earlier nodes, so insertion
 * order is a topological order: forward runs it front to back, backward back to front. The graph
 * owns its layers (and so their parameters) and frees them in {@link #close()}.
 */
public final class Graph implements AutoCloseable {
    public static final int INPUT = -1;

    public record Node(int id, String name, Layer layer, int[] inputs) {
        public Node { inputs = inputs.clone(); }
        @Override public int[] inputs() { return inputs.clone(); }
    }

    private final Device device;
    private final List<Node> nodes = new ArrayList<>();
    private int[] outputs = new int[0];

    public Graph(Device device) { this.device = device; }

    public Device device() { return device; }

    /** Appends a node; returns its id. */
    public int add(String name, Layer layer, int... inputs) {
        int id = nodes.size();
        if (inputs.length == 0) throw new IllegalArgumentException("node " + name + ": needs at least one input");
        for (int i : inputs)
            if (i < INPUT || i >= id) throw new IllegalArgumentException("node " + name + " (id " + id + "): input " + i + " is not an earlier node");
        for (Node n : nodes) if (n.name().equals(name)) throw new IllegalArgumentException("duplicate node name " + name);
        nodes.add(new Node(id, name, layer, inputs));
        outputs = new int[] {id};
        return id;
    }

    public void setOutputs(int... ids) {
        for (int i : ids) if (i < 0 || i >= nodes.size()) throw new IllegalArgumentException("output " + i + " is not a node");
        outputs = ids.clone();
    }

    public int[] outputs() { return outputs.clone(); }
    public List<Node> nodes() { return List.copyOf(nodes); }
    public Node node(int id) { return nodes.get(id); }

    public List<Parameter> parameters() {
        List<Parameter> ps = new ArrayList<>();
        for (Node n : nodes) ps.addAll(n.layer().parameters());
        return ps;
    }

    public long parameterCount() {
        long c = 0;
        for (Parameter p : parameters()) c += p.value().numel();
        return c;
    }

    /** Parameters and buffers by name, in node order: what safetensors files hold. */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (Node n : nodes) {
            for (Parameter p : n.layer().parameters()) m.put(p.name(), p.value());
            m.putAll(new java.util.TreeMap<>(n.layer().buffers()));
        }
        return m;
    }

    public void zeroGrad() { parameters().forEach(Parameter::zeroGrad); }

    /** Output shape of every node for an input shape; throws naming the first node that cannot take its input. */
    public int[][] shapes(int... inputShape) {
        int[][] s = new int[nodes.size()][];
        for (Node n : nodes) {
            List<int[]> in = new ArrayList<>();
            for (int i : n.inputs()) in.add(i == INPUT ? inputShape : s[i]);
            try {
                s[n.id()] = n.layer().outputShape(in);
                long numel = 1;
                for (int d : s[n.id()]) {
                    if (d <= 0) throw new IllegalArgumentException("output shape " + Arrays.toString(s[n.id()]) + " has an empty dimension");
                    numel = Math.multiplyExact(numel, d);
                }
                if (numel > Integer.MAX_VALUE) throw new IllegalArgumentException("output " + Arrays.toString(s[n.id()]) + " has " + numel + " elements, more than 2^31-1");
            } catch (IllegalArgumentException | ArithmeticException e) {
                throw new IllegalArgumentException("node " + n.id() + " (" + n.name() + "): " + (e instanceof ArithmeticException
                        ? "output size overflows for input " + Arrays.toString(inputShape) : e.getMessage()), e);
            }
        }
        return s;
    }

    /**
     * Runs the graph. Training keeps every activation for {@link Execution#backward}; inference frees
     * each one as soon as its last reader has run. The execution owns its tensors: close it.
     */
    public Execution forward(Tensor input, boolean training) {
        if (input.device() != device) throw new IllegalArgumentException("graph on " + device + " got input on " + input.device());
        shapes(input.shape()); // fail in Java, naming the node, before running anything
        if (training)  // before any layer runs: a batch norm ahead of the folded one would update its statistics
            for (Node n : nodes)
                if (n.layer() instanceof BatchNorm2dLayer bn && bn.folded())
                    throw new IllegalStateException("node " + n.name() + ": batch norm folded into its conv for inference; Graph.unfoldBatchNorms() before training");
        return new Execution(input, training);
    }

    /** How many nodes read each node's output, a graph output counting as one more reader. */
    public int[] readers() {
        int[] readers = new int[nodes.size()];
        for (Node n : nodes) for (int i : n.inputs()) if (i != INPUT) readers[i]++;
        for (int o : outputs) readers[o]++;
        return readers;
    }

    /**
     * Folds every batch norm whose input is a convolution read by nothing else into that convolution,
     * for inference: the conv runs with W * s and (b - mean) * s + beta, s = gamma / sqrt(var + eps),
     * computed now from the current weights and statistics (copies; the parameters are untouched, so
     * saving, exporting and the state dict are unchanged), and the batch norm passes its input through.
     * Training forward passes refuse to run until {@link #unfoldBatchNorms()}. Convs with an inference
     * CSR matrix are left alone. Returns the number of batch norms folded.
     */
    public synchronized int foldBatchNorms() {
        int[] readers = readers();
        int folded = 0;
        for (Node n : nodes) {
            if (!(n.layer() instanceof BatchNorm2dLayer bn) || bn.folded() || n.inputs().length != 1) continue;
            int src = n.inputs()[0];
            if (src == INPUT || readers[src] != 1 || !(nodes.get(src).layer() instanceof Conv2dLayer conv) || conv.inferenceCsr() != null) continue;
            float[][] wb = bn.foldInto(conv);
            Tensor fw = Tensor.of(device, wb[0], conv.weight().value().shape()), fb = null;
            try {
                fb = Tensor.of(device, wb[1], conv.outChannels());
                conv.setInferenceFold(fw, fb);
            } catch (RuntimeException e) {
                fw.close();
                if (fb != null) fb.close();
                throw e;
            }
            bn.setFolded(true);
            folded++;
        }
        return folded;
    }

    /**
     * Fuses every activation whose input is a convolution, or a folded batch norm of one, read by
     * nothing else into that convolution, for inference: the conv applies it in its epilogue (while the
     * output is in cache) and the activation passes its input through. Training passes are unchanged
     * (they run the activation layers). Call after {@link #foldBatchNorms()}: an activation behind a
     * batch norm that is not folded stays a separate op. Returns the number of activations fused.
     */
    public synchronized int fuseActivations() {
        int[] readers = readers();
        int fused = 0;
        for (Node n : nodes) {
            if (!(n.layer() instanceof SimpleLayers.ActLayer act) || act.fused() || n.inputs().length != 1) continue;
            int src = n.inputs()[0];
            if (src == INPUT || readers[src] != 1) continue;
            int conv = src;
            if (nodes.get(src).layer() instanceof BatchNorm2dLayer bn) {
                if (!bn.folded()) continue;
                conv = nodes.get(src).inputs()[0];
            }
            if (conv == INPUT || readers[conv] != 1 || !(nodes.get(conv).layer() instanceof Conv2dLayer c) || c.inferenceActivation() != null) continue;
            c.setInferenceActivation(act.kind(), act.alpha());
            act.setFused(true);
            fused++;
        }
        return fused;
    }

    /** Undoes {@link #fuseActivations()}: activations run as their own ops again. */
    public synchronized void unfuseActivations() {
        for (Node n : nodes) {
            if (n.layer() instanceof SimpleLayers.ActLayer act && act.fused()) {
                act.setFused(false);
                int src = n.inputs()[0];
                int conv = nodes.get(src).layer() instanceof BatchNorm2dLayer ? nodes.get(src).inputs()[0] : src;
                if (nodes.get(conv).layer() instanceof Conv2dLayer c) c.setInferenceActivation(null, 0f);
            }
        }
    }

    /** Undoes {@link #foldBatchNorms()} (and {@link #fuseActivations()}): batch norms run again and the folded copies are freed. */
    public synchronized void unfoldBatchNorms() {
        unfuseActivations(); // an activation fused through a batch norm would otherwise run before it
        for (Node n : nodes) {
            if (n.layer() instanceof BatchNorm2dLayer bn && bn.folded()) {
                bn.setFolded(false);
                if (nodes.get(n.inputs()[0]).layer() instanceof Conv2dLayer conv) conv.setInferenceFold(null, null);
            }
        }
    }

    @Override
    public void close() { nodes.forEach(n -> n.layer().close()); }

    /** One forward pass and, for training, its backward: owns the activations and per-node contexts. */
    public final class Execution implements AutoCloseable {
        private final boolean training;
        private final Tensor[] outs;
        private final Layer.Ctx[] ctxs;
        private boolean backwardDone;

        private Execution(Tensor input, boolean training) {
            this.training = training;
            int n = nodes.size();
            outs = new Tensor[n];
            ctxs = new Layer.Ctx[n];
            int[] readers = readers();
            try {
                for (Node node : nodes) {
                    List<Tensor> in = new ArrayList<>();
                    for (int i : node.inputs()) in.add(i == INPUT ? input : outs[i]);
                    int[] ins = node.inputs();
                    if (!training && ins.length == 1 && ins[0] != INPUT && readers[ins[0]] == 1
                            && (node.layer() instanceof BatchNorm2dLayer bn && bn.folded() || node.layer() instanceof SimpleLayers.ActLayer a && a.fused())) {
                        // folded or fused into its conv: the conv's output is this node's, handed over without a copy
                        outs[node.id()] = outs[ins[0]];
                        outs[ins[0]] = null;
                        readers[ins[0]] = 0;
                        continue;
                    }
                    ctxs[node.id()] = new Layer.Ctx(training);
                    outs[node.id()] = node.layer().forward(in, ctxs[node.id()]);
                    if (!training) {
                        for (int i : node.inputs()) {
                            if (i != INPUT && --readers[i] == 0) { outs[i].close(); outs[i] = null; }
                        }
                        ctxs[node.id()].close();
                    }
                }
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        public List<Tensor> outputs() {
            List<Tensor> l = new ArrayList<>();
            for (int o : outputs) l.add(outs[o]);
            return l;
        }

        public Tensor output(int i) { return outs[outputs[i]]; }

        /** Accumulates parameter gradients given the gradients of the outputs (not consumed). */
        public void backward(List<Tensor> gradOutputs) {
            if (!training) throw new IllegalStateException("backward needs a training forward pass");
            if (backwardDone) throw new IllegalStateException("backward already ran for this execution");
            if (gradOutputs.size() != outputs.length)
                throw new IllegalArgumentException("backward: " + gradOutputs.size() + " gradients for " + outputs.length + " outputs");
            Tensor[] grads = new Tensor[nodes.size()];
            try {
                for (int i = 0; i < outputs.length; i++) {
                    Tensor g = gradOutputs.get(i);
                    outs[outputs[i]].requireSameShape("backward (output " + i + ")", g);
                    accumulate(grads, outputs[i], g.copy());
                }
                for (int id = nodes.size() - 1; id >= 0; id--) {
                    if (grads[id] == null) continue;
                    Node node = nodes.get(id);
                    int[] ins = node.inputs();
                    boolean[] need = new boolean[ins.length];
                    for (int j = 0; j < ins.length; j++) need[j] = ins[j] != INPUT;
                    ctxs[id].setNeedInputGrad(need);
                    List<Tensor> gin = node.layer().backward(grads[id], ctxs[id]);
                    grads[id].close();
                    grads[id] = null;
                    for (int j = 0; j < ins.length; j++) {
                        Tensor g = gin.get(j);
                        if (g == null) continue;
                        if (ins[j] == INPUT) g.close();
                        else accumulate(grads, ins[j], g);
                    }
                }
            } finally {
                for (Tensor g : grads) if (g != null) g.close();
                backwardDone = true;
            }
        }

        private void accumulate(Tensor[] grads, int id, Tensor g) {
            if (grads[id] == null) grads[id] = g;
            else {
                grads[id].addInPlace(g);
                g.close();
            }
        }

        @Override
        public void close() {
            for (int i = 0; i < outs.length; i++) {
                if (outs[i] != null) outs[i].close();
                if (ctxs[i] != null) ctxs[i].close();
                outs[i] = null;
                ctxs[i] = null;
            }
        }

        @Override
        public String toString() { return "Execution(training=" + training + ", nodes=" + Arrays.stream(outs).filter(t -> t != null).count() + ")"; }
    }
}
