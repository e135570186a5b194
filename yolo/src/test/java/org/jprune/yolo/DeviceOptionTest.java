package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.jprune.engine.Backends;
import org.jprune.engine.Device;
import org.jprune.engine.DeviceKind;
import org.jprune.engine.Tensor;
import org.jprune.yolo.cli.Main;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.infer.Detector;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.train.Checkpoint;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --device on the inference commands and Detector.load(path, device): the emulated CUDA backend computes what the CPU does. */
class DeviceOptionTest {
    @TempDir Path dir;

    @Test
    void inferenceRunsOnTheEmulatedGpuAndBadDevicesAreRefused() throws Exception {
        Path ckpt = dir.resolve("m.safetensors");
        try (YoloModel m = YoloModel.build(ModelConfig.load("yolov5n").withClasses(2), Device.cpu(), 3)) {
            Checkpoint.writeModel(ckpt, m, "yolov5n", List.of("a", "b"), 64, Map.of());
        }
        Path images = Files.createDirectories(dir.resolve("images"));
        for (int i = 0; i < 2; i++)
            ImageIO.write(SynthDataset.render(64 + 16 * i, new SplittableRandom(i), new java.util.ArrayList<>()), "png", images.resolve("im" + i + ".png").toFile());

        // bad device names and devices this machine lacks: exit 2, one line naming the value
        for (String[] bad : new String[][] {{"bogus", "bogus"}, {"cpu:3", "cpu:3"}, {"cuda:x", "cuda:x"}}) {
            var err = new ByteArrayOutputStream();
            PrintStream old = System.err;
            System.setErr(new PrintStream(err));
            try {
                assertEquals(2, Main.execute("detect", "-w", ckpt.toString(), "--source", images.toString(), "-o", dir.resolve("bad").toString(), "--device", bad[0]));
            } finally {
                System.setErr(old);
            }
            assertTrue(err.toString().contains(bad[1]), err.toString());
        }
        if (!Backends.present("cuda") || !canOpenCuda())
            assertEquals(2, Main.execute("detect", "-w", ckpt.toString(), "--source", images.toString(), "-o", dir.resolve("nogpu").toString(), "--device", "cuda"));

        // what each device can do, as `jprune info` prints it: every op of the ABI, the providers and TF32 it accepts
        Device.Capabilities cpuCaps = Device.cpu().capabilities();
        assertEquals(List.of(), cpuCaps.missingOps());
        assertEquals(List.of("native"), cpuCaps.convProviders());
        assertTrue(!cpuCaps.tf32());
        assertEquals(0, Main.execute("info"));

        Assumptions.assumeTrue(Backends.present("cuda-emu"), "cuda-emu plugin not built");
        try (Device emu = Device.parse("cuda-emu")) {
            Device.Capabilities c = emu.capabilities();
            assertEquals(List.of(), c.missingOps());
            assertEquals(List.of("native"), c.convProviders(), "cuda-emu has no cuDNN");
            assertTrue(c.tf32(), "cuda-emu models the TF32 kernel's instructions (sm80.cuh)");
        }
        try (Device emu = Device.parse("cuda-emu"); YoloModel a = Checkpoint.read(ckpt).buildModel(); YoloModel b = Checkpoint.read(ckpt).buildModel(emu)) {
            assertEquals(DeviceKind.CUDA_EMU, b.graph().device().kind());
            float[] x = Tensor.randnArray(5, 1f, 2 * 3 * 64 * 64);
            float[][] ya, yb;
            try (Tensor xa = Tensor.of(Device.cpu(), x, 2, 3, 64, 64); Tensor xb = Tensor.of(emu, x, 2, 3, 64, 64)) {
                ya = a.forwardRaw(xa);
                yb = b.forwardRaw(xb);
            }
            for (int l = 0; l < ya.length; l++)
                for (int i = 0; i < ya[l].length; i++)
                    assertEquals(ya[l][i], yb[l][i], 1e-3 * Math.max(1, Math.abs(ya[l][i])), "level " + l + " element " + i);
            // the whole model through the TF32 kernel (operands rounded to 10 mantissa bits): the CPU's outputs
            // within TF32's error, and measurably not the FP32 bits (the option reached the convolutions)
            emu.setOption("tf32", "1");
            float[][] yt;
            try (Tensor xb = Tensor.of(emu, x, 2, 3, 64, 64)) {
                yt = b.forwardRaw(xb);
            } finally {
                emu.setOption("tf32", "0");
            }
            double tf32Diff = 0, fp32Diff = 0;  // against the emulated FP32 run; the emulated FP32 run against the CPU
            for (int l = 0; l < ya.length; l++)
                for (int i = 0; i < ya[l].length; i++) {
                    assertEquals(ya[l][i], yt[l][i], 3e-2 * Math.max(1, Math.abs(ya[l][i])), "tf32 level " + l + " element " + i);
                    tf32Diff = Math.max(tf32Diff, Math.abs(yt[l][i] - yb[l][i]));
                    fp32Diff = Math.max(fp32Diff, Math.abs(ya[l][i] - yb[l][i]));
                }
            // a fresh head's outputs are mostly its bias, so the TF32 error is small in absolute terms (~5e-7 here),
            // but it is far above FP32's own rounding between two backends (~4e-9)
            assertTrue(tf32Diff > 10 * fp32Diff && tf32Diff > 0, "tf32=1 changed nothing: " + tf32Diff + " vs FP32 " + fp32Diff);
            try (Detector det = Detector.load(ckpt, emu)) {
                assertEquals(emu, det.device());
                assertEquals(2, det.detect(List.of(ImageIO.read(images.resolve("im0.png").toFile()), ImageIO.read(images.resolve("im1.png").toFile())),
                        org.jprune.yolo.eval.Postprocess.Settings.DETECT).size());
            }
        }
        assertEquals(0, Main.execute("detect", "-w", ckpt.toString(), "--source", images.toString(), "-o", dir.resolve("emu").toString(), "--device", "cuda-emu"));
        assertTrue(Files.isRegularFile(dir.resolve("emu/labels/im1.txt")));
    }

    private static boolean canOpenCuda() {
        try (Device d = Device.parse("cuda")) {
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
