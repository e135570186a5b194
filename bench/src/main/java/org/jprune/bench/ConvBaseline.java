package org.jprune.bench;

import org.jprune.engine.ops.Conv2dDesc;

/** A conv implementation to compare against in the same run (PyTorch CPU through DJL, with -Ptorch). */
public interface ConvBaseline extends AutoCloseable {
    String describe();
    /** Prepares tensors for d; then {@link #run} does one forward + backward (data and filter). */
    void prepare(Conv2dDesc d);
    void run();
    @Override void close();
}
