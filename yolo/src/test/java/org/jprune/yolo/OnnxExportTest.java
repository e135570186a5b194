package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.yolo.eval.Postprocess;
import org.jprune.yolo.export.OnnxExport;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The ONNX export read by a real client: ONNX Runtime (Java, CPU) runs the exported file of every
 * built-in model, dense and compact (60% of channels pruned), with the batch norms separate and folded
 * into the convs, at batch 1 and 3 (the batch is dynamic), and its output0 equals the decode of our
 * forward pass: |diff| <= 1e-4 x max(1, |value|) (pixels for boxes, probabilities otherwise).
 */
class OnnxExportTest {
    private static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();

    @ParameterizedTest(name = "ONNX Runtime == jprune [{0}, {1}, fuse {2}]")
    @CsvSource({"yolov5n, dense, false", "yolov5n, compact, true", "yolov5s, dense, true", "yolov5s, compact, false", "yolov5m, dense, false",
        "yolov3-tiny, dense, false", "yolov3-tiny, compact, true", "yolov4-tiny, dense, true", "yolov4-tiny, compact, false"})
    void onnxRuntimeReproducesOurOutputs(String name, String kind, boolean fuse) throws Exception {
        Device cpu = Device.cpu();
        int img = 96;
        try (YoloModel dense = YoloModel.build(ModelConfig.load(name).withClasses(3), cpu, 1)) {
            CompactTest.randomizeBatchNorms(dense.graph(), 3);
            YoloModel m = dense;
            if (kind.equals("compact")) {
                CompactTest.randomPlan(dense, 0.6, name.hashCode());
                m = dense.compact();
            }
            try {
                byte[] onnx = OnnxExport.toBytes(m, List.of("a", "b", "c"), new OnnxExport.Options(img, 13, fuse));
                try (OrtSession s = ENV.createSession(onnx, new OrtSession.SessionOptions())) {
                    assertEquals(List.of("images"), List.copyOf(s.getInputNames()));
                    for (int batch : new int[] {1, 3}) {
                        float[] x = new float[batch * 3 * img * img];
                        SplittableRandom r = new SplittableRandom(batch);
                        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextDouble();
                        float[] decoded, predicted;
                        try (Tensor t = Tensor.of(cpu, x, batch, 3, img, img)) {
                            float[][] raw = m.forwardRaw(t);
                            int[] g = m.grid(img);
                            decoded = Postprocess.decode(raw, batch, g, g, m.strides(), m.anchorsPx(), m.classes());
                            predicted = m.predict(t); // the sigmoid on the backend
                        }
                        float[][][] theirs;
                        try (OnnxTensor in = OnnxTensor.createTensor(ENV, FloatBuffer.wrap(x), new long[] {batch, 3, img, img});
                             OrtSession.Result res = s.run(Map.of("images", in))) {
                            theirs = (float[][][]) res.get(0).getValue();
                        }
                        int rows = theirs[0].length, no = theirs[0][0].length;
                        assertEquals(8, no, "5 + 3 classes");
                        double max = 0;
                        for (float[] ours : new float[][] {decoded, predicted}) {
                        assertEquals(ours.length, batch * rows * no, "anchors over every level");
                        for (int b = 0; b < batch; b++)
                            for (int i = 0; i < rows; i++)
                                for (int c = 0; c < no; c++) {
                                    float a = ours[(b * rows + i) * no + c], o = theirs[b][i][c];
                                    double d = Math.abs(a - o) / Math.max(1, Math.abs(a));
                                    max = Math.max(max, d);
                                    if (d > 1e-4) throw new AssertionError(String.format("%s %s batch %d row %d col %d: jprune %g (%s), ONNX Runtime %g", name, kind, b, i, c, a,
                                            ours == decoded ? "decode" : "predict", o));
                                }
                        }
                        System.out.printf("ONNX Runtime == jprune [%s, %s, fuse %s, batch %d]: %d x %d outputs, max |diff| / max(1, |value|) %.2e, %d bytes%n",
                                name, kind, fuse, batch, rows, no, max, onnx.length);
                    }
                }
            } finally {
                if (m != dense) m.close();
            }
        }
    }

    @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir;

    /** The CLI writes the file beside the checkpoint, never over an existing one, and names bad options. */
    @org.junit.jupiter.api.Test
    void cliExportsACheckpoint() throws Exception {
        java.nio.file.Path ckpt = TrainerTest.tinyCheckpoint(dir), onnx = dir.resolve("t/last.onnx");
        assertEquals(0, org.jprune.yolo.cli.Main.execute("export", "-w", ckpt.toString(), "--fuse"));
        try (OrtSession s = ENV.createSession(java.nio.file.Files.readAllBytes(onnx), new OrtSession.SessionOptions())) {
            assertEquals("{0: 'circle', 1: 'square', 2: 'triangle', 3: 'diamond', 4: 'cross', 5: 'star', 6: 'hexagon', 7: 'ring'}",
                    s.getMetadata().getCustomMetadata().get("names"));
        }
        assertEquals(2, org.jprune.yolo.cli.Main.execute("export", "-w", ckpt.toString()), "the file exists");
        assertEquals(2, org.jprune.yolo.cli.Main.execute("export", "-w", ckpt.toString(), "--format", "tflite", "-o", dir.resolve("x.onnx").toString()));
        assertEquals(2, org.jprune.yolo.cli.Main.execute("export", "-w", ckpt.toString(), "--opset", "5", "-o", dir.resolve("y.onnx").toString()));
        assertEquals(2, org.jprune.yolo.cli.Main.execute("export", "-w", dir.resolve("none.safetensors").toString()));
        assertEquals(0, org.jprune.yolo.cli.Main.execute("export", "--help"));
    }

    @org.junit.jupiter.api.Test
    void badOptionsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new OnnxExport.Options(100, 13, false));
        assertThrows(IllegalArgumentException.class, () -> new OnnxExport.Options(320, 9, false));
        assertThrows(IllegalArgumentException.class, () -> new OnnxExport.Options(320, 99, false));
        assertTrue(new OnnxExport.Options(320, 17, true).fuse());
        assertArrayEquals(new int[] {320, 17}, new int[] {new OnnxExport.Options(320, 17, true).imageSize(), 17});
    }
}
