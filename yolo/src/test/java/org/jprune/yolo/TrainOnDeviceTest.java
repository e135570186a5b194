package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.jprune.engine.Backends;
import org.jprune.engine.Device;
import org.jprune.yolo.cli.Main;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.train.AnchorMode;
import org.jprune.yolo.train.Checkpoint;
import org.jprune.yolo.train.Trainer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training, pruning and fine-tuning on the emulated CUDA backend give what the CPU backend gives: the
 * same run on both devices (same seed, same batches) ends with the same losses and weights within
 * float tolerance, and the CLI's {@code --device cuda-emu} runs train and prune end to end.
 */
class TrainOnDeviceTest {
    @TempDir Path dir;

    @BeforeEach
    void needsTheEmulator() {
        Assumptions.assumeTrue(Backends.present("cuda-emu"), "cuda-emu plugin not built");
    }

    @Test
    void aTrainingRunOnTheEmulatedGpuEqualsTheCpuRun() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(8, 4, 64, 5));
        Path model = TrainerTest.tinyModel(dir);
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        // 2 epochs of 2 batches, an optimizer step after each (nbs = batch): 4 SGD steps with warmup, EMA, validation
        Trainer.Options cpu = Trainer.Options.builder(model.toString(), data, dir.resolve("cpu")).epochs(2).batch(4).nbs(4).imgSize(64).seed(1).workers(1)
                .anchors(AnchorMode.MODEL).build();
        List<Trainer.EpochStats> a = new Trainer(cpu, quiet).run(), b;
        try (Device emu = Device.parse("cuda-emu")) {
            b = new Trainer(cpu.toBuilder().out(dir.resolve("emu")).device(emu).build(), quiet).run();
        }
        for (int e = 0; e < a.size(); e++) {
            assertEquals(a.get(e).box(), b.get(e).box(), 1e-4 * Math.max(1, a.get(e).box()), "epoch " + e + " box loss");
            assertEquals(a.get(e).obj(), b.get(e).obj(), 1e-4 * Math.max(1, a.get(e).obj()), "epoch " + e + " objectness loss");
            assertEquals(a.get(e).cls(), b.get(e).cls(), 1e-4 * Math.max(1, a.get(e).cls()), "epoch " + e + " class loss");
        }
        Checkpoint ca = Checkpoint.read(dir.resolve("cpu/last.safetensors")), cb = Checkpoint.read(dir.resolve("emu/last.safetensors"));
        assertEquals(ca.tensors().keySet(), cb.tensors().keySet());
        double worst = 0;
        for (var en : ca.tensors().entrySet()) {
            if (!en.getKey().startsWith("model/") && !en.getKey().startsWith("ema/")) continue;
            float[] x = en.getValue().data(), y = cb.tensors().get(en.getKey()).data();
            for (int i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(1, Math.abs(x[i])));
        }
        assertTrue(worst < 1e-3, "weights after 4 steps differ by " + worst + " (relative)");
    }

    @Test
    void trainAndPruneRunOnTheEmulatedGpuFromTheCli() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(8, 4, 64, 5));
        Path model = TrainerTest.tinyModel(dir);
        String[] common = {"--data", data.toString(), "--img", "64", "--batch", "4", "--seed", "1", "--workers", "1"};
        assertEquals(0, Main.execute(concat(new String[] {"train", "-m", model.toString(), "--epochs", "1", "--nbs", "4", "--anchors", "model",
                "-o", dir.resolve("t").toString(), "--device", "cuda-emu"}, common)));
        Path ckpt = dir.resolve("t/last.safetensors");
        String[] prune = {"prune", "-w", ckpt.toString(), "--levels", "0.5", "--finetune-epochs", "1", "--nbs", "4", "--round-to", "1"};
        assertEquals(0, Main.execute(concat(concat(prune, common), new String[] {"-o", dir.resolve("p-cpu").toString()})));
        assertEquals(0, Main.execute(concat(concat(prune, common), new String[] {"-o", dir.resolve("p-emu").toString(), "--device", "cuda-emu"})));
        // the same pruning decisions (made on the same trained weights) and the same fine-tuned model within float tolerance
        Checkpoint c = Checkpoint.read(dir.resolve("p-cpu/step-1/model.safetensors")), e = Checkpoint.read(dir.resolve("p-emu/step-1/model.safetensors"));
        assertEquals(c.widths().convOut(), e.widths().convOut());
        for (var en : c.tensors().entrySet()) {
            float[] x = en.getValue().data(), y = e.tensors().get(en.getKey()).data();
            for (int i = 0; i < x.length; i++)
                assertEquals(x[i], y[i], 1e-3 * Math.max(1, Math.abs(x[i])), en.getKey() + "[" + i + "]");
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
