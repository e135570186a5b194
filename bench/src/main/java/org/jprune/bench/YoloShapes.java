package org.jprune.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * The distinct convolution shapes of YOLOv5 (v6.0+ architecture: 6x6 stem, C3, SPPF, PAN, Detect
 * with 80 classes), from the model definition: YOLOv5s channels 32..512, YOLOv5n half of them.
 * hw is the input size of the layer for a given image size.
 */
public final class YoloShapes {
    public record Shape(String name, int cin, int cout, int k, int s, int hw) {
        public int pad() { return k == 6 ? 2 : k / 2; }
    }

    private YoloShapes() {}

    /** div = 1 for YOLOv5s, 2 for YOLOv5n. */
    public static List<Shape> layers(String model, int imgSize) {
        int div = model.equals("yolov5n") ? 2 : 1;
        int[][] base = { // cin, cout, k, s, stride of the layer's input (image size / stride)
            {3, 32, 6, 2, 1}, {32, 64, 3, 2, 2}, {64, 32, 1, 1, 4}, {32, 32, 3, 1, 4}, {64, 64, 1, 1, 4}, {64, 128, 3, 2, 4},
            {128, 64, 1, 1, 8}, {64, 64, 3, 1, 8}, {128, 128, 1, 1, 8}, {128, 256, 3, 2, 8}, {256, 128, 1, 1, 16},
            {128, 128, 3, 1, 16}, {256, 256, 1, 1, 16}, {256, 512, 3, 2, 16}, {512, 256, 1, 1, 32}, {256, 256, 3, 1, 32},
            {512, 512, 1, 1, 32}, {1024, 512, 1, 1, 32}, {512, 128, 1, 1, 16}, {256, 64, 1, 1, 8}, {128, 128, 3, 2, 8},
            {256, 256, 3, 2, 16}, {128, 255, 1, 1, 8}, {256, 255, 1, 1, 16}, {512, 255, 1, 1, 32},
        };
        List<Shape> out = new ArrayList<>();
        for (int[] b : base) {
            int cin = b[0] == 3 ? 3 : b[0] / div, cout = b[1] == 255 ? 255 : b[1] / div;
            out.add(new Shape(String.format("%dx%d %d->%d s%d @%d", b[2], b[2], cin, cout, b[3], imgSize / b[4]), cin, cout, b[2], b[3], imgSize / b[4]));
        }
        return out;
    }
}
