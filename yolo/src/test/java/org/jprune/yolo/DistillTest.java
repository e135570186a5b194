package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.yolo.cli.Main;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.train.Checkpoint;
import org.jprune.yolo.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Distillation's gradient is the derivative of its loss: w x sum of BCE(sigmoid(s), sigmoid(t)) over the
 * student's raw outputs s and the teacher's t, checked by central differences; a teacher equal to the
 * student adds nothing; a teacher with another head is refused; prune --distill runs.
 */
class DistillTest {
    @TempDir Path dir;

    @Test
    void gradientIsTheDerivativeOfTheSoftTargetLoss() throws Exception {
        Path ckpt = TrainerTest.tinyCheckpoint(dir);
        try (YoloModel student = Checkpoint.read(ckpt).buildModel(); Tensor x = Tensor.randn(Device.cpu(), 3, 1f, 2, 3, 64, 64)) {
            YoloModel teacher = Checkpoint.read(ckpt).buildModel();
            float[][] same = student.forwardRaw(x);
            student.distillFrom(teacher, 2.0);
            float[][] grads = new float[same.length][];
            for (int i = 0; i < same.length; i++) grads[i] = new float[same[i].length];
            Trainer.distill(student.distillation(), x, same, grads, 2);
            for (float[] g : grads) for (float v : g) assertEquals(0f, v, 1e-7f, "the student equal to its teacher: no pull");

            float[][] t = teacher.forwardRaw(x);
            java.util.SplittableRandom r = new java.util.SplittableRandom(7);
            float[][] s = new float[t.length][];
            for (int i = 0; i < t.length; i++) {
                s[i] = t[i].clone();
                for (int k = 0; k < s[i].length; k++) s[i][k] += (float) (r.nextGaussian() * 2);
                grads[i] = new float[s[i].length];
            }
            Trainer.distill(student.distillation(), x, s, grads, 2);
            for (int i = 0; i < s.length; i++) {
                double w = 2.0 * 2 / (s[i].length / (5.0 + teacher.classes())); // weight x batch / cells
                for (int k = 0; k < s[i].length; k += 97) {
                    double h = 1e-3, lp = bce(s[i][k] + h, t[i][k]), lm = bce(s[i][k] - h, t[i][k]);
                    assertEquals(w * (lp - lm) / (2 * h), grads[i][k], 1e-4 * Math.max(1, Math.abs(grads[i][k])), "level " + i + " value " + k);
                }
            }
        }
    }

    private static double bce(double s, double t) {
        double ps = 1 / (1 + Math.exp(-s)), pt = 1 / (1 + Math.exp(-t));
        return -(pt * Math.log(ps) + (1 - pt) * Math.log(1 - ps));
    }

    @Test
    void aTeacherWithAnotherHeadIsRefusedAndPruneDistills() throws Exception {
        Path ckpt = TrainerTest.tinyCheckpoint(dir);
        try (YoloModel student = Checkpoint.read(ckpt).buildModel(); YoloModel other = YoloModel.build(org.jprune.yolo.model.ModelConfig.load("yolov5n").withClasses(3),
                Device.cpu(), 1)) {
            assertThrows(IllegalArgumentException.class, () -> student.distillFrom(other, 1));
            assertThrows(IllegalArgumentException.class, () -> new YoloModel.Distillation(other, 0));
        }
        assertEquals(0, Main.execute("prune", "-w", ckpt.toString(), "--data", dir.resolve("data/data.yaml").toString(), "--levels", "0.3", "--round-to", "1",
                "--finetune-epochs", "1", "--batch", "4", "--distill", "1", "--finetune-hyp", "lr0=0.001", "-o", dir.resolve("p").toString()));
        assertTrue(java.nio.file.Files.isRegularFile(dir.resolve("p/step-1/model.safetensors")));
        assertEquals(2, Main.execute("prune", "-w", ckpt.toString(), "--data", dir.resolve("data/data.yaml").toString(), "--distill", "-1"));
    }
}
