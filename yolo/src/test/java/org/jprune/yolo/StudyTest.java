package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.engine.prune.Schedule;
import org.jprune.yolo.data.Loader;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.train.Checkpoint;
import org.jprune.yolo.train.PruneRun;
import org.jprune.yolo.train.Study;
import org.jprune.yolo.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StudyTest {
    @TempDir Path dir;

    @Test
    void studyPrunesIterativelyAndReportsEveryLevel() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(8, 4, 64, 5));
        Path model = TrainerTest.tinyModel(dir);
        List<Study.Row> rows = new Study(options(model, data, dir.resolve("study"), 1, 0.3, 0.6), new PrintStream(new ByteArrayOutputStream())).run();
        assertEquals(3, rows.size());
        assertEquals(0.0, rows.get(0).level());
        assertTrue(rows.get(1).level() > 0.2 && rows.get(2).level() > rows.get(1).level(), rows.toString());
        assertTrue(rows.get(1).params() < rows.get(0).params() && rows.get(2).params() < rows.get(1).params(), rows.toString());
        assertTrue(rows.get(2).gflops() < rows.get(0).gflops(), rows.toString());
        String md = Files.readString(dir.resolve("study/study.md"));
        assertTrue(md.contains("| Step | Channels pruned | Params removed | FLOPs removed | mAP50 | mAP50-95 | Parameters | GFLOPs | File (MB) |"), md);
        assertEquals(4, Files.readAllLines(dir.resolve("study/study.csv")).size());
        for (Study.Row r : rows) assertTrue(r.latencyB1() > 0 && r.latencyB16() > 0 && r.fileBytes() > 0, r.toString());
        assertTrue(rows.get(2).fileBytes() < rows.get(0).fileBytes(), "the compact model's file is smaller");
        // each step wrote a compact model that loads with its widths and has the row's size
        try (var m = Checkpoint.read(dir.resolve("study/step-2/model.safetensors")).buildModel()) {
            assertTrue(m.widths() != null && m.plan() == null);
            assertEquals(rows.get(2).params(), m.parameterCount());
        }

        // group-regularization pruning from the baseline just trained (not trained again)
        Path baseline = dir.resolve("study/baseline/last.safetensors");
        List<Study.Row> reg = new Study(options(model, data, dir.resolve("reg"), 1, 0.3, 0.6)
                .withStrategy(PruneRun.Strategy.named("group-reg", true, 1e-3, 4, 1)).withBaseline(baseline),
                new PrintStream(new ByteArrayOutputStream())).run();
        assertEquals(3, reg.size());
        assertEquals(rows.get(0).map50(), reg.get(0).map50(), 1e-9, "the given baseline is evaluated as trained");
        assertEquals(rows.get(0).params(), reg.get(0).params());
        assertEquals(1, reg.get(0).epochs(), "the baseline's epochs, from its checkpoint");
        assertEquals(2, reg.get(1).epochs(), "1 regularized + 1 fine-tuning epoch");
        assertTrue(reg.get(2).params() < reg.get(1).params() && reg.get(1).params() < reg.get(0).params(), reg.toString());
        // the second step's regularized training ran on the first step's compact network
        try (var m = Checkpoint.read(dir.resolve("reg/step-2/regularized/last.safetensors")).buildModel()) {
            assertTrue(m.widths() != null);
            assertEquals(reg.get(1).params(), m.parameterCount());
        }
        assertTrue(Files.readString(dir.resolve("reg/study.md")).contains("group-regularization pruning"));
    }

    /**
     * Masked fine-tuning with levels of parameters: the step's checkpoints carry the plan (channel-sparse
     * convs), the model file is compact, and both score the same mAP on the validation split.
     */
    @Test
    void maskedFineTuningKeepsThePlanAndTheCompactModelScoresTheSame() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(8, 4, 64, 5));
        Path model = TrainerTest.tinyModel(dir);
        List<Study.Row> rows = new Study(new Study.Options(options(model, data, dir.resolve("s"), 1, 0.5).training(),
                Schedule.of(Schedule.Target.PARAMS, new double[] {0.5}, new int[] {1}), PruneRun.Strategy.named("slimming", true, 1e-4, 4, 1),
                PruneRun.Finetune.MASKED, PruneRun.Tuning.NONE, null),
                new PrintStream(new ByteArrayOutputStream())).run();
        assertEquals(2, rows.size());
        assertTrue(rows.get(1).paramsRemoved() >= 0.5 && rows.get(1).paramsRemoved() < 0.65, rows.toString());
        Checkpoint last = Checkpoint.read(dir.resolve("s/step-1/last.safetensors"));
        assertTrue(last.plan() != null && last.widths() == null, "masked fine-tuning saves the plan, full size");
        var dc = YoloDataset.readConfig(data);
        try (var masked = last.buildModel(); var compact = Checkpoint.read(dir.resolve("s/step-1/model.safetensors")).buildModel();
             Loader loader = new Loader(YoloDataset.load(dc, "val", false).samples(), 4, 64, Loader.Augment.NONE, 1, 1)) {
            assertTrue(masked.graph().nodes().stream().anyMatch(n -> n.layer() instanceof org.jprune.engine.nn.Conv2dLayer c && c.activeChannels() != null),
                    "loading a masked checkpoint puts its plan back: channel-sparse convs");
            assertEquals(rows.get(1).params(), compact.parameterCount());
            var a = Trainer.evaluate(masked, loader, dc.nc());
            var b = Trainer.evaluate(compact, loader, dc.nc());
            assertEquals(a.map50(), b.map50(), 1e-9);
            assertEquals(a.map5095(), b.map5095(), 1e-9);
            assertEquals(rows.get(1).map50(), b.map50(), 1e-9);
        }
    }

    @Test
    void badStudyOptionsAreRefused() {
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> PruneRun.Strategy.named("lasso", true, 1e-3, 4, 1));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> PruneRun.Strategy.named("group-reg", true, -1, 4, 1));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Schedule.of(Schedule.Target.CHANNELS, new double[] {1.2}, new int[] {1}));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Trainer.Options.builder("m", dir, dir).imgSize(65).build());
        org.junit.jupiter.api.Assertions.assertThrows(NullPointerException.class, () -> Study.Options.of(null, Schedule.of(Schedule.Target.CHANNELS,
                new double[] {0.3}, new int[] {1})));
    }

    /**
     * Fine-tuning runs without the warmup unless its overrides set one: with warmup_epochs=0 the first
     * epoch trains at lr0 itself (cosine factor 1), with YOLOv5's 100-iteration floor it ends far below.
     */
    @Test
    void fineTuningRunsWithoutWarmupUnlessAsked() throws Exception {
        Trainer.Options t = Trainer.Options.builder("m", dir, dir).build(); // hyp.scratch-low: 3 warmup epochs
        assertEquals(0.0, PruneRun.Tuning.NONE.apply(t).hyp().warmupEpochs());
        assertEquals(0.0, new PruneRun.Tuning(List.of("lr0=0.001"), 0).apply(t).hyp().warmupEpochs());
        assertEquals(0.001, new PruneRun.Tuning(List.of("lr0=0.001"), 0).apply(t).hyp().lr0(), 1e-12);
        assertEquals(1.0, new PruneRun.Tuning(List.of(" Warmup_Epochs = 1"), 0).apply(t).hyp().warmupEpochs());

        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(8, 4, 64, 5));
        Trainer.Options.Builder b = Trainer.Options.builder(TrainerTest.tinyModel(dir).toString(), data, dir.resolve("w")).epochs(2).batch(4).nbs(4)
                .imgSize(64).seed(1).anchors(org.jprune.yolo.train.AnchorMode.MODEL);
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        double none = new Trainer(b.out(dir.resolve("none")).hyp(org.jprune.yolo.loss.Hyp.SCRATCH_LOW.with(List.of("warmup_epochs=0"))).build(), quiet)
                .run().get(0).lr();
        double warm = new Trainer(b.out(dir.resolve("warm")).hyp(org.jprune.yolo.loss.Hyp.SCRATCH_LOW).build(), quiet).run().get(0).lr();
        assertEquals(0.01, none, 1e-9, "no warmup: epoch 1 at lr0");
        assertTrue(warm < 0.001, "2 of 100 warmup iterations: far under lr0, got " + warm);
    }

    /**
     * A study of the tiny model at 64 px, batch 4 (nominal 4), seed 1, 1 baseline epoch and
     * {@code finetune} epochs per level; structured magnitude pruning, levels of channels.
     */
    static Study.Options options(Path model, Path data, Path out, int finetune, double... levels) {
        Trainer.Options t = Trainer.Options.builder(model.toString(), data, out).epochs(1).batch(4).nbs(4).imgSize(64).seed(1)
                .anchors(org.jprune.yolo.train.AnchorMode.MODEL).build();
        return Study.Options.of(t, Schedule.of(Schedule.Target.CHANNELS, levels, new int[] {finetune}));
    }
}
