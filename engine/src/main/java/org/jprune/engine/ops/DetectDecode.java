package org.jprune.engine.ops;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
import org.jprune.engine.Tensor;

/**
 * Ultralytics' Detect decode at inference on a device (jp_yolo_decode): the raw outputs of a level,
 * [n][anchors * outputs][ny][nx], to rows of (x, y, w, h in input pixels, objectness, class
 * probabilities), as its eval-mode forward and its ONNX export (output0) return them. One call per
 * anchor of a level; the rows of every level and anchor go into one [n][rows][outputs] tensor, so the
 * whole decoded batch comes back in one download.
 */
public final class DetectDecode {
    private DetectDecode() {}

    /**
     * Writes anchor {@code anchor} of {@code level} (its n, anchors, outputs and grid; the loss scales are
     * not read) as rows row0 + anchor * cells + (gy * nx + gx) of each image of out [n][rows][outputs]:
     * x = (2 s - 0.5 + gx) * stride, y = (2 s - 0.5 + gy) * stride, w = (2 s)^2 * anchorW, h = (2 s)^2 *
     * anchorH, then s for objectness and classes, s = sigmoid(raw).
     */
    public static void decode(DetectionLoss.Level level, Tensor out, Tensor raw, int anchor, float anchorW, float anchorH, float stride, int row0,
                              int rows) {
        String op = "yolo_decode";
        if (level == null) throw new IllegalArgumentException(op + ": level is null");
        Checks.sameDevice(op, out, raw);
        Checks.shape(op, "raw", raw, level.n(), level.anchors() * level.outputs(), level.ny(), level.nx());
        if (anchor < 0 || anchor >= level.anchors()) throw new IllegalArgumentException(op + ": anchor " + anchor + " is not in [0, " + level.anchors() + ")");
        if (!Float.isFinite(anchorW) || !Float.isFinite(anchorH) || !(stride > 0) || !Float.isFinite(stride))
            throw new IllegalArgumentException(op + ": anchor " + anchorW + " x " + anchorH + " or stride " + stride + " is not finite (stride > 0)");
        long levelRows = (long) level.anchors() * level.cells();
        if (row0 < 0 || row0 + levelRows > rows)
            throw new IllegalArgumentException(op + ": the level's " + levelRows + " rows from row " + row0 + " do not fit in " + rows + " rows per image");
        Checks.shape(op, "out", out, level.n(), rows, level.outputs());
        kernels(raw.device()).yoloDecode(level, buf(out), buf(raw), anchor, anchorW, anchorH, stride, row0, rows);
    }
}
