package org.jprune.yolo.train;

import java.util.Arrays;

/** The optimizers a training run can use, as YOLOv5's {@code --optimizer}. */
public enum OptimizerKind {
    /** SGD with Nesterov momentum (YOLOv5's default). */
    SGD("SGD"),
    /** AdamW with betas (momentum, 0.999). */
    ADAMW("AdamW");

    private final String label;

    OptimizerKind(String label) { this.label = label; }

    /** The name in checkpoints and logs (YOLOv5's spelling). */
    public String label() { return label; }

    @Override
    public String toString() { return label; }

    /** SGD or AdamW, any case. */
    public static OptimizerKind parse(String s) {
        for (OptimizerKind k : values()) if (k.label.equalsIgnoreCase(s.strip())) return k;
        throw new IllegalArgumentException("optimizer must be one of " + Arrays.toString(values()) + ", got '" + s + "'");
    }
}
