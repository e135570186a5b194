package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.jprune.engine.prune.Importance;
import org.jprune.engine.prune.Schedule;
import org.jprune.yolo.cli.Main;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.train.AutoPrune;
import org.jprune.yolo.train.PruneRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Automatic mode: a forced non-recovery backs off (halving the step down to the minimum); a reachable target is reached. */
class AutoPruneTest {
    @TempDir Path dir;

    @Test
    void backsOffWhenAccuracyDoesNotRecoverAndReachesAReachableTarget() throws Exception {
        Path data = dir.resolve("data/data.yaml"), ckpt = TrainerTest.tinyCheckpoint(dir);
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        PruneRun.Strategy s = new PruneRun.Strategy(PruneRun.Method.MAGNITUDE, Importance.Reduce.SUM, true, 1, 1.0, Set.of(), 0, 4, 1);
        PruneRun.Train t = new PruneRun.Train(org.jprune.yolo.train.Trainer.Options.builder("unused", data, dir).imgSize(64).batch(4).nbs(4).seed(1).workers(1)
                .hyp(Hyp.SCRATCH_LOW).build());
        // no step can keep mAP50 at 1.0: 40% -> back off to 20% -> 10% -> 5% < min step: stop, nothing kept
        AutoPrune.Result fail = new AutoPrune(new AutoPrune.Options(ckpt, dir.resolve("a"), new AutoPrune.Search(Schedule.Target.PARAMS, 0.5, 0.4, 0.1, 0.02, 1.0,
                new double[] {0.01, 0.001}, 1, 0), s, PruneRun.Finetune.COMPACT, t), quiet).run();
        assertEquals(3, fail.backoffs());
        assertEquals(0.0, fail.reached());
        assertEquals(6, fail.tries().size(), "two rates per round, three rounds");
        assertTrue(fail.tries().stream().noneMatch(AutoPrune.Try::kept));
        assertEquals(ckpt, fail.model(), "nothing accepted: the starting model");
        assertEquals(java.util.List.of(0.4, 0.4, 0.2, 0.2, 0.1, 0.1), fail.tries().stream().map(AutoPrune.Try::level).toList());
        // with retries: each failing round's best try gets 1 more epoch at its rate (same level, nothing
        // more pruned), then the step is undone as before
        AutoPrune.Result retried = new AutoPrune(new AutoPrune.Options(ckpt, dir.resolve("r"), new AutoPrune.Search(Schedule.Target.PARAMS, 0.5, 0.4, 0.1, 0.02,
                1.0, new double[] {0.01}, 1, 0, 1), s, PruneRun.Finetune.COMPACT, t), quiet).run();
        assertEquals(3, retried.backoffs());
        assertEquals(java.util.List.of(false, true, false, true, false, true), retried.tries().stream().map(AutoPrune.Try::retry).toList());
        for (int i = 0; i < 6; i += 2) {
            AutoPrune.Try first = retried.tries().get(i), again = retried.tries().get(i + 1);
            assertEquals(first.level(), again.level());
            assertEquals(first.params(), again.params(), "a retry fine-tunes, it does not prune further");
        }
        assertEquals(6, retried.epochs(), "three rounds of one try and one retry, one epoch each");
        assertTrue(Files.readString(dir.resolve("r/auto.md")).contains("0.01 (+1 epochs)"));
        // group regularization: a try regularizes one epoch before its step, a retry (nothing to prune) only fine-tunes
        PruneRun.Strategy gr = new PruneRun.Strategy(PruneRun.Method.GROUP_REG, Importance.Reduce.SUM, true, 1, 1.0, Set.of(), 5e-4, 4, 1);
        AutoPrune.Result grRetried = new AutoPrune(new AutoPrune.Options(ckpt, dir.resolve("g"), new AutoPrune.Search(Schedule.Target.PARAMS, 0.5, 0.4, 0.4, 0.02,
                1.0, new double[] {0.01}, 1, 0, 1), gr, PruneRun.Finetune.COMPACT, t), quiet).run();
        assertEquals(2, grRetried.tries().size(), "one try, one retry, then the halved step is under the minimum");
        assertEquals(2, grRetried.tries().get(0).step().epochs(), "1 regularized + 1 fine-tuning epoch");
        assertEquals(1, grRetried.tries().get(1).step().epochs(), "the retry: 1 fine-tuning epoch, no regularization");
        assertEquals(grRetried.tries().get(0).params(), grRetried.tries().get(1).params());
        // a floor every try meets: 40% then the rest to 50%, the better rate kept each time
        AutoPrune.Result ok = new AutoPrune(new AutoPrune.Options(ckpt, dir.resolve("b"), new AutoPrune.Search(Schedule.Target.PARAMS, 0.5, 0.4, 0.1, 0.02, 0.0,
                new double[] {0.01, 0.001}, 1, 0), s, PruneRun.Finetune.COMPACT, t), quiet).run();
        assertEquals(0.5, ok.reached(), 1e-9);
        assertEquals(0, ok.backoffs());
        assertEquals(2, ok.tries().stream().filter(AutoPrune.Try::kept).count());
        assertTrue(Files.readString(dir.resolve("b/auto.md")).contains("| yes |"));
        try (var m = org.jprune.yolo.train.Checkpoint.read(ok.model()).buildModel(); var b = org.jprune.yolo.train.Checkpoint.read(ckpt).buildModel()) {
            assertTrue(m.parameterCount() <= 0.5 * b.parameterCount() + 1000, m.parameterCount() + " vs " + b.parameterCount());
        }
        // the CLI form
        assertEquals(0, Main.execute("prune", "-w", ckpt.toString(), "--data", data.toString(), "--auto", "--levels", "0.3", "--first-step", "0.3",
                "--min-map50", "0", "--lrs", "0.01", "--finetune-epochs", "1", "--round-to", "1", "--batch", "4", "-o", dir.resolve("c").toString()));
        assertEquals(2, Main.execute("prune", "-w", ckpt.toString(), "--data", data.toString(), "--auto", "--levels", "0.3,0.5"));
        assertEquals(2, Main.execute("prune", "-w", ckpt.toString(), "--data", data.toString(), "--auto", "--levels", "0.3", "--retry-epochs", "-1"),
                "a negative retry count is refused");
    }
}
