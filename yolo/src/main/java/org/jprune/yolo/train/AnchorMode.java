package org.jprune.yolo.train;

import java.util.Arrays;
import java.util.Locale;

/**
 * Where a training run's anchors come from. A fine-tuning run (one that starts from a checkpoint)
 * always keeps its checkpoint's anchors.
 */
public enum AnchorMode {
    /** The model config's anchors. */
    MODEL,
    /**
     * YOLOv5's check_anchors: fit new ones only when under 98% of the training boxes can match an
     * anchor, and keep them only if more boxes can.
     */
    AUTO,
    /** Always fit (k-means + genetic search) and keep them if their fitness is higher. */
    EVOLVE;

    public String label() { return name().toLowerCase(Locale.ROOT); }

    @Override
    public String toString() { return label(); }

    /** model, auto or evolve, any case. */
    public static AnchorMode parse(String s) {
        for (AnchorMode m : values()) if (m.label().equalsIgnoreCase(s.strip())) return m;
        throw new IllegalArgumentException("anchors must be one of " + Arrays.toString(values()) + ", got '" + s + "'");
    }
}
