package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole pipeline learns: a tiny YOLOv5 trained briefly on the EASY synthetic set (held-out
 * validation images) must reach a stated mAP50. A broken loss, gradient, augmentation or decode
 * keeps it near 0.
 */
class LearnsTest {
    static final double MIN_MAP50 = Double.parseDouble(System.getProperty("jprune.learns.map50", "0.5"));

    @TempDir Path dir;

    @Test
    void tinyYoloLearnsTheEasySet() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(EPOCH_IMAGES, 60, 64, 5, SynthDataset.Difficulty.EASY));
        Hyp hyp = Hyp.SCRATCH_LOW.with(List.of("lr0=0.004", "warmup_epochs=1", "mosaic=0", "cls=4"));
        Trainer.Options o = new Trainer.Options(TrainerTest.tinyModel(dir).toString(), data, EPOCHS, 16, 64, 0, dir.resolve("run"), 2, true, false,
                hyp, -1, 16, null, null, "AdamW");
        List<Trainer.EpochStats> stats = new Trainer(o, new PrintStream(new ByteArrayOutputStream())).run();
        double best = stats.stream().mapToDouble(Trainer.EpochStats::map50).max().orElse(0);
        assertTrue(best >= MIN_MAP50, "mAP50 " + best + " < " + MIN_MAP50 + "; by epoch: " + stats.stream().map(s -> String.format("%.3f", s.map50())).toList());
    }

    static final int EPOCH_IMAGES = 300, EPOCHS = 30;
}
