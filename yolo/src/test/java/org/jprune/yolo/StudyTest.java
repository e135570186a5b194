package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.train.Study;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StudyTest {
    @TempDir Path dir;

    @Test
    void studyPrunesIterativelyAndReportsEveryLevel() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(8, 4, 64, 5));
        Path model = TrainerTest.tinyModel(dir);
        List<Study.Row> rows = new Study(new Study.Options(model.toString(), data, 64, 4, 4, 1, 1, new double[] {0.3, 0.6}, true, 1,
                dir.resolve("study"), 2, org.jprune.yolo.loss.Hyp.SCRATCH_LOW, "SGD"), new PrintStream(new ByteArrayOutputStream())).run();
        assertEquals(3, rows.size());
        assertEquals(0.0, rows.get(0).level());
        assertTrue(rows.get(1).level() > 0.2 && rows.get(2).level() > rows.get(1).level(), rows.toString());
        assertTrue(rows.get(1).params() < rows.get(0).params() && rows.get(2).params() < rows.get(1).params(), rows.toString());
        assertTrue(rows.get(2).gflops() < rows.get(0).gflops(), rows.toString());
        String md = Files.readString(dir.resolve("study/study.md"));
        assertTrue(md.contains("| Pruning level | mAP50 | mAP50-95 | Parameters | GFLOPs |"), md);
        assertEquals(4, Files.readAllLines(dir.resolve("study/study.csv")).size());
    }
}
