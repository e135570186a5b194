/**
 * The engine: tensors on devices, ops, layers and graphs, optimizers, serialization and pruning.
 * {@code org.jprune.engine.internal} (kernel tables, raw buffers, the allocator) is not exported, and
 * the bindings are not re-exported: code outside the engine reaches the kernels only through the
 * checked ops.
 */
module org.jprune.engine {
    requires org.jprune.bindings;
    requires com.fasterxml.jackson.databind;

    exports org.jprune.engine;
    exports org.jprune.engine.io;
    exports org.jprune.engine.nn;
    exports org.jprune.engine.ops;
    exports org.jprune.engine.optim;
    exports org.jprune.engine.prune;
}
