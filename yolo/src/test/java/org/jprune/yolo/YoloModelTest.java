package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;
import org.junit.jupiter.api.Test;

class YoloModelTest {
    static YoloModel build(String name, int nc) throws Exception {
        return YoloModel.build(ModelConfig.load(name).withClasses(nc), Device.cpu(), 0);
    }

    /** The counts Ultralytics prints for these architectures with 80 classes (training, and after "Fusing layers..."). */
    @Test
    void parameterCountsMatchUltralytics() throws Exception {
        try (YoloModel n = build("yolov5n", 80); YoloModel s = build("yolov5s", 80); YoloModel m = build("yolov5m", 80)) {
            assertEquals(1_872_157, n.parameterCount());
            assertEquals(1_867_405, n.fusedParameterCount());
            assertEquals(7_235_389, s.parameterCount());
            assertEquals(7_225_885, s.fusedParameterCount());
            assertEquals(21_190_557, m.parameterCount());
            assertEquals(21_172_173, m.fusedParameterCount());
            assertEquals(48.9, m.gflops(640), 0.15);
            assertEquals(16.5, s.gflops(640), 0.15);
            assertEquals(4.5, n.gflops(640), 0.15);
            assertArrayEquals(new int[] {8, 16, 32}, s.strides());
        }
    }

    @Test
    void forwardShapesAndSummary() throws Exception {
        try (YoloModel m = build("yolov5n", 3); Tensor x = Tensor.randn(Device.cpu(), 1, 1f, 2, 3, 64, 96)) {
            float[][] out = m.forwardRaw(x);
            assertEquals(2 * 3 * 8 * 8 * 12, out[0].length);   // [n][na*(5+nc)][64/8][96/8]
            assertEquals(2 * 24 * 4 * 6, out[1].length);
            assertEquals(2 * 24 * 2 * 3, out[2].length);
            String s = m.summary(320);
            assertTrue(s.contains("C3") && s.contains("SPPF") && s.contains("Detect"), s);
            assertTrue(s.contains("yolov5n summary: "), s);
            // named like Ultralytics' state_dict
            assertTrue(m.graph().stateDict().containsKey("model.2.m.0.cv1.conv.weight"));
            assertTrue(m.graph().stateDict().containsKey("model.24.m.2.bias"));
        }
    }

    @Test
    void badConfigsNameFileAndLine() {
        String base = "nc: 2\nanchors:\n  - [10,13, 16,30, 33,23]\nbackbone:\n  [[-1, 1, Conv, [16, 3, 2]],\n   [-1, 1, Foo, [32]]]\nhead:\n  [[[1], 1, Detect, [nc, anchors]]]\n";
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> YoloModel.build(ModelConfig.parse("m.yaml", base), Device.cpu(), 0));
        assertTrue(e.getMessage().startsWith("m.yaml:6: layer 1 (Foo): unknown module 'Foo'"), e.getMessage());
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class,
                () -> ModelConfig.parse("m.yaml", "nc: 2\nanchors: [[1,2]]\nbackbone:\n  [[-1, x, Conv, [16]]]\nhead: []\n"));
        assertTrue(e2.getMessage().startsWith("m.yaml:4: expected an integer, got 'x'"), e2.getMessage());
        IllegalArgumentException e3 = assertThrows(IllegalArgumentException.class, () -> ModelConfig.parse("m.yaml", "nc: [\n"));
        assertTrue(e3.getMessage().startsWith("m.yaml:"), e3.getMessage());
    }
}
