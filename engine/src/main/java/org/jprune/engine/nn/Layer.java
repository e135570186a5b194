package org.jprune.engine.nn;

import java.util.List;
import java.util.Map;
import org.jprune.engine.Tensor;

/**
 * One node type of a model graph, darknet-style: forward and backward side by side. Whatever a
 * forward must keep for its backward goes into the per-execution {@link Ctx}, never into the layer,
 * so one model can run inference on many threads at once.
 */
public interface Layer extends AutoCloseable {
    /** A short type name, used in model specs ("conv", "bn", "act", ...). */
    String type();

    /** The output shape for these input shapes; throws IllegalArgumentException naming the problem. */
    int[] outputShape(List<int[]> inputShapes);

    /** Computes the output (a new tensor the caller owns). */
    Tensor forward(List<Tensor> inputs, Ctx ctx);

    /**
     * Given the gradient of the output, accumulates parameter gradients and returns the gradients of
     * the inputs (new tensors the caller owns; null for an input that needs none).
     */
    List<Tensor> backward(Tensor gradOutput, Ctx ctx);

    /** Trainable parameters, in a stable order. */
    default List<Parameter> parameters() { return List.of(); }

    /** Non-trainable state saved with the weights (batch-norm running statistics). */
    default Map<String, Tensor> buffers() { return Map.of(); }

    /** The constructor arguments, for the JSON model spec. */
    Map<String, Object> args();

    /**
     * How output channels depend on input channels, for pruning: SAME when output channel i is
     * computed from input channel i alone (BN, activations, pooling, upsampling, add), CONCAT for
     * concatenation, SLICE for a contiguous range of the input's channels ({@link SimpleLayers.SliceLayer}),
     * and MIXING when every output channel reads every input channel (convolution).
     */
    enum ChannelMap { SAME, CONCAT, SLICE, MIXING }

    ChannelMap channelMap();

    @Override
    default void close() {
        parameters().forEach(Parameter::close);
        buffers().values().forEach(Tensor::close);
    }

    /** Per-node, per-execution state: the training flag and whatever backward needs. */
    final class Ctx implements AutoCloseable {
        private final boolean training;
        private boolean[] needInputGrad = new boolean[0];
        private Object saved;
        private final java.util.ArrayList<AutoCloseable> owned = new java.util.ArrayList<>();

        public Ctx(boolean training) { this.training = training; }

        public boolean training() { return training; }

        /** Whether input i needs a gradient (false for the graph's own input): backward may skip it. */
        public boolean needInputGrad(int i) { return i < needInputGrad.length && needInputGrad[i]; }
        public void setNeedInputGrad(boolean[] need) { needInputGrad = need.clone(); }
        public void save(Object o) { saved = o; }
        @SuppressWarnings("unchecked")
        public <T> T saved() { return (T) saved; }

        /** Registers a resource to free when the execution ends. */
        public <T extends AutoCloseable> T own(T t) {
            owned.add(t);
            return t;
        }

        @Override
        public void close() {
            for (AutoCloseable c : owned) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
            owned.clear();
            saved = null;
        }
    }
}
