package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.jprune.yolo.cli.Main;
import org.jprune.yolo.train.SeedStudy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The seed preset end to end at toy sizes: every section runs (a tiny given baseline for (a)-(e), both
 * Tiny YOLOs trained one epoch on a few face images for (f)), a tiny budget scales every step to one
 * epoch, and the table, CSV and plot are written.
 */
class SeedStudyTest {
    @TempDir Path dir;

    @Test
    void everySectionRunsAndTheTableAndPlotAreWritten() throws Exception {
        Path ckpt = TrainerTest.tinyCheckpoint(dir), data = dir.resolve("data/data.yaml");
        ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
        SeedStudy.Sizes toy = new SeedStudy.Sizes(8, 4, 64, 1, 8, 4, 64, 1);
        List<SeedStudy.Row> rows = new SeedStudy(new SeedStudy.Options(dir.resolve("seed"), false, 0.01, data, ckpt, 1, 1, Set.of(), toy),
                new PrintStream(logBytes)).run();
        String log = logBytes.toString();
        assertTrue(log.contains("scaled by 0.00 (at least 1 per step)"), log);
        List<String> sections = rows.stream().map(SeedStudy.Row::section).distinct().toList();
        for (String s : List.of("baseline", "(a) magnitude, one shot", "(b) magnitude, 6 steps", "(c) group-reg, 6 steps", "(d) BN slimming, 6 steps",
                "baseline, faces", "(f) yolov4-tiny, faces", "(f) yolov3-tiny, faces"))
            assertTrue(sections.contains(s), s + " in " + sections);
        assertEquals(2, rows.stream().filter(r -> r.section().startsWith("(a)")).count());
        for (String s : List.of("(b)", "(c)", "(d)")) {
            List<SeedStudy.Row> st = rows.stream().filter(r -> r.section().startsWith(s)).toList();
            assertEquals(6, st.size(), s);
            int per = s.equals("(b)") ? 1 : 2; // one fine-tuning epoch per step, plus one regularized for group-reg and slimming
            for (int i = 0; i < 6; i++) assertEquals(per * (i + 1), st.get(i).epochs(), s + " step " + (i + 1) + " cumulative epochs");
            for (int i = 1; i < 6; i++) assertTrue(st.get(i).params() <= st.get(i - 1).params(), s + ": sizes fall step by step");
        }
        assertEquals(2, rows.stream().filter(r -> r.section().startsWith("(f)") && r.model().equals("yolov4-tiny")).count());
        for (SeedStudy.Row r : rows) {
            SeedStudy.Row base = rows.stream().filter(b -> b.step() == 0 && b.model().equals(r.model())).findFirst().orElseThrow();
            assertTrue(r.latencyB1() > 0 && r.latencyB16() > 0 && Double.isFinite(r.speedupB1()), r.toString());
            if (r.step() > 0) assertTrue(r.params() < base.params() && r.paramsRemoved() > 0, r.toString());
        }
        // the tiny YOLOs are pruned by the seed's 36% of parameters (4.70 M -> 3.00 M) in two steps
        rows.stream().filter(r -> r.section().startsWith("(f)") && r.step() == 2)
                .forEach(r -> assertTrue(r.paramsRemoved() >= 0.36 && r.paramsRemoved() < 0.45, r.toString()));
        String md = Files.readString(dir.resolve("seed/study-seed.md"));
        assertTrue(md.contains("| Method | Step | Channels pruned | Params removed | mAP50 | Δ mAP50 |"), md);
        assertTrue(md.contains("sections abcdef"), md);
        assertEquals(rows.size() + 1, Files.readAllLines(dir.resolve("seed/study-seed.csv")).size());
        var png = javax.imageio.ImageIO.read(dir.resolve("seed/study-seed.png").toFile());
        assertEquals(1100, png.getWidth());
        assertTrue(Files.isRegularFile(dir.resolve("seed/e/auto.md")), "automatic mode ran and wrote its path");
    }

    @Test
    void presetOptionsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> new SeedStudy.Options(dir, false, -1, null, null, 0, 1, Set.of()));
        assertThrows(IllegalArgumentException.class, () -> new SeedStudy.Options(dir, false, Double.NaN, dir, null, 0, 1, Set.of()));
        assertThrows(IllegalArgumentException.class, () -> new SeedStudy.Options(dir, false, Double.NaN, null, null, 0, 1, Set.of("g")));
        assertEquals(2, Main.execute("study", "--preset", "seed", "--img", "64", "-o", dir.toString()), "the preset sets --img itself");
        assertEquals(2, Main.execute("study", "--preset", "faces", "-o", dir.toString()));
        assertEquals(2, Main.execute("study", "--quick", "--data", "x.yaml", "-o", dir.toString()), "--quick without --preset");
        assertEquals(2, Main.execute("study", "-o", dir.toString()), "no --data without a preset");
        assertEquals(2, Main.execute("study", "--preset", "seed", "--budget", "0", "-o", dir.toString()));
        assertEquals(2, Main.execute("study", "--preset", "seed", "--sections", "a,z", "-o", dir.toString()));
        assertEquals(0, Main.execute("study", "--help"));
    }
}
