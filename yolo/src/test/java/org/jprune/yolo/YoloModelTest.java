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

    /**
     * Darknet models: the fused count Ultralytics' yolov3 repo prints for yolov3-tiny (8,849,182), and
     * the "Total BFLOPS" AlexeyAB's darknet prints at 416x416 (5.571 and 6.910).
     */
    @Test
    void darknetModelsMatchDarknetAndUltralytics() throws Exception {
        try (YoloModel v3 = build("yolov3-tiny", 80); YoloModel v4 = build("yolov4-tiny", 80)) {
            assertEquals(8_849_182, v3.fusedParameterCount());
            assertEquals(8_852_366, v3.parameterCount());
            assertEquals("5.571", String.format(java.util.Locale.ROOT, "%.3f", v3.darknetBflops(416)));
            assertEquals("6.910", String.format(java.util.Locale.ROOT, "%.3f", v4.darknetBflops(416)));
            assertArrayEquals(new int[] {32, 16}, v3.strides());
            assertArrayEquals(new int[] {32, 16}, v4.strides());
            // the 2x2 stride-1 maxpool keeps 13x13; the route with groups takes half the channels
            assertTrue(v3.summary(416).contains("[1, 1024, 13, 13]"), v3.summary(416));
            assertTrue(v4.summary(416).contains("group 1/2"), v4.summary(416));
        }
        try (YoloModel m = build("yolov4-tiny", 3); Tensor x = Tensor.randn(Device.cpu(), 1, 1f, 1, 3, 64, 64)) {
            float[][] out = m.forwardRaw(x);
            assertEquals(3 * 8 * 2 * 2, out[0].length);   // head convs follow nc: 3 x (3 + 5) filters
            assertEquals(3 * 8 * 4 * 4, out[1].length);
            assertTrue(m.graph().stateDict().containsKey("module_list.0.conv.weight"));
        }
    }

    @Test
    void badDarknetConfigsNameFileAndLine() {
        String ok = "[net]\nwidth=64\n[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
                + "[convolutional]\nfilters=21\nsize=1\nactivation=linear\n[yolo]\nmask=0,1,2\nanchors=10,13, 16,30, 33,23\nclasses=2\n";
        try (YoloModel m = YoloModel.build(org.jprune.yolo.model.DarknetConfig.parse("t.cfg", ok), Device.cpu(), 0)) {
            assertEquals(2, m.classes());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> org.jprune.yolo.model.DarknetConfig.parse("t.cfg", ok.replace("filters=21", "filters=255")));
        assertTrue(e.getMessage().startsWith("t.cfg:11: [convolutional] the convolutional before [yolo] must have filters=21"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> org.jprune.yolo.model.DarknetConfig.parse("t.cfg", ok.replace("[yolo]", "[region]")));
        assertTrue(e.getMessage().startsWith("t.cfg:14: unsupported section [region]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> org.jprune.yolo.model.DarknetConfig.parse("t.cfg", ok + "[route]\nlayers=-9\n"));
        assertTrue(e.getMessage().startsWith("t.cfg:19: [route] layers -9 does not name an earlier layer"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> YoloModel.build(org.jprune.yolo.model.DarknetConfig.parse("t.cfg", ok.replace("leaky", "mish")), Device.cpu(), 0));
        assertTrue(e.getMessage().startsWith("t.cfg:3: layer 0 (convolutional): activation 'mish' is not supported"), e.getMessage());
    }
}
