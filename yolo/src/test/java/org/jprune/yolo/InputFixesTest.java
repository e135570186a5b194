package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jprune.yolo.cli.Main;
import org.jprune.yolo.data.Annotations;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.eval.Detection;
import org.jprune.yolo.eval.EvalReport;
import org.jprune.yolo.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Inputs as real tools write them, and the scoring cases an independent run found wrong. */
class InputFixesTest {
    @TempDir Path dir;

    static Annotations.Image image(String id, Annotations.Obj... objs) {
        return new Annotations.Image(id, Path.of(id + ".jpg"), 100, 100, List.of(objs), Path.of(id + ".txt"));
    }

    static Annotations.Obj obj(double x1, double y1, double x2, double y2) {
        return new Annotations.Obj(0, x1, y1, x2, y2, false, false, (x2 - x1) * (y2 - y1), 1);
    }

    @Test
    void tiedScoresAcrossImagesFollowImageIdsAsPycocotools() {
        // file order "10", "9"; pycocotools walks ids 9, 10: the true positive (image 9) comes first
        var gt = new Annotations.Set(List.of(image("10", obj(10, 10, 30, 30)), image("9", obj(10, 10, 30, 30))), List.of("a"));
        List<List<Detection>> dets = List.of(List.of(new Detection(60, 60, 80, 80, 0.9f, 0)), List.of(new Detection(10, 10, 30, 30, 0.9f, 0)));
        EvalReport r = EvalReport.evaluate(gt, dets, false);
        assertEquals(51.0 / 101, r.coco().map50(), 1e-9, "precision 1 up to recall 0.5 (file order would give half of that)");
    }

    @Test
    void aPerfectDetectionOnVocTruthScoresOne() {
        var gt = new Annotations.Set(List.of(image("1", obj(10, 20, 50, 60))), List.of("a"));
        EvalReport r = EvalReport.evaluate(gt, List.of(List.of(new Detection(10, 20, 50, 60, 0.8f, 0))), true);
        assertEquals(1.0, r.coco().map5095(), 1e-9);
        assertEquals(1.0, r.voc12().map(), 1e-9);
    }

    @Test
    void duplicateLabelLinesAreOneObjectAndRelativeFoldersFindTheirLabels() throws Exception {
        Path lbl = dir.resolve("labels/a.txt");
        Files.createDirectories(lbl.getParent());
        Files.writeString(lbl, "0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n");
        List<YoloDataset.Problem> problems = new ArrayList<>();
        assertEquals(2, YoloDataset.parseLabels(lbl, 2, problems).size());
        assertTrue(problems.get(0).toString().endsWith("a.txt:2: duplicate of line 1 (dropped)"), problems.toString());
        // "images/a.png" given relative: its labels are found all the same
        assertEquals(dir.resolve("labels/a.txt").toAbsolutePath().toString().replace(dir.toAbsolutePath().toString(), ""),
                YoloDataset.labelPath(dir.resolve("images/a.png")).toString().replace(dir.toAbsolutePath().toString(), ""));
        assertTrue(YoloDataset.labelPath(Path.of("images/a.png")).isAbsolute());
    }

    @Test
    void anchorFreeYamlsNameWhatIsUnsupported() {
        String v8 = """
                nc: 80
                backbone:
                  - [-1, 1, Conv, [64, 3, 2]]
                  - [-1, 3, C2f, [128, True]]
                  - [-1, 1, SPPF, [1024, 5]]
                head:
                  - [[-1], 1, Detect, [nc]]
                """;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.parse("yolov8n.yaml", v8));
        assertTrue(e.getMessage().contains("yolov8n.yaml") && e.getMessage().contains("anchor-free") && e.getMessage().contains("C2f"), e.getMessage());
    }

    @Test
    void cocoResultsScoredAgainstCocoCategoryIdsThroughADataYaml() throws Exception {
        Path images = dir.resolve("val2017");
        Files.createDirectories(images);
        for (String n : List.of("000000000001.png", "000000000002.png"))
            javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(100, 80, java.awt.image.BufferedImage.TYPE_INT_RGB), "png", images.resolve(n).toFile());
        Files.writeString(dir.resolve("instances_val2017.json"), """
                {"images": [{"id": 1, "file_name": "000000000001.png", "width": 100, "height": 80},
                            {"id": 2, "file_name": "000000000002.png", "width": 100, "height": 80}],
                 "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 18, "name": "dog"}, {"id": 90, "name": "toothbrush"}],
                 "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [10, 10, 30, 20], "area": 600, "iscrowd": 0},
                                 {"id": 2, "image_id": 2, "category_id": 90, "bbox": [70.5, 50, 30, 30], "area": 900, "iscrowd": 0}]}
                """);
        Files.writeString(dir.resolve("coco.yaml"), "format: coco\npath: " + dir + "\ntrain: instances_val2017.json\nval: instances_val2017.json\n"
                + "train_images: val2017\nval_images: val2017\n");
        Files.writeString(dir.resolve("results.json"), """
                [{"image_id": 1, "category_id": 3, "bbox": [10, 10, 30, 20], "score": 0.9},
                 {"image_id": 2, "category_id": 90, "bbox": [70.5, 50, 30, 30], "score": 0.8}]
                """);
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf));
        int code;
        try {
            code = Main.execute("eval", "--data", dir.resolve("coco.yaml").toString(), "--dets", dir.resolve("results.json").toString(), "-o",
                    dir.resolve("e").toString());
        } finally {
            System.setOut(old);
        }
        assertEquals(0, code, buf.toString());
        assertTrue(buf.toString().contains("(AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000"), buf.toString());
        // the box overhanging the right edge by 0.5 px is a truth, as pycocotools keeps it
        var set = YoloDataset.annotationSet(YoloDataset.readConfig(dir.resolve("coco.yaml")), "val", new ArrayList<>());
        assertEquals(1, set.images().get(1).objects().size());
        assertEquals(List.of(1L, 3L, 18L, 90L), set.categoryIds());
        // --gt as a bare file name in the working directory's terms (no parent folder) works the same
        assertEquals(0, Main.execute("eval", "--gt", dir.resolve("instances_val2017.json").toString(), "--dets", dir.resolve("results.json").toString(), "-o",
                dir.resolve("e2").toString()));
    }

    @Test
    void everyCommandPrintsItsHelpAndUsageErrorsAreOneLine() {
        // every command of the tree, derived from it (a new command is covered without being listed here)
        List<String[]> commands = new ArrayList<>();
        java.util.ArrayDeque<picocli.CommandLine> todo = new java.util.ArrayDeque<>(List.of(new picocli.CommandLine(new Main())));
        while (!todo.isEmpty()) {
            picocli.CommandLine cl = todo.pop();
            todo.addAll(cl.getSubcommands().values());
            String q = cl.getCommandSpec().qualifiedName(" ");
            commands.add(q.equals("jprune") ? new String[0] : q.substring("jprune ".length()).split(" "));
        }
        assertTrue(commands.size() >= 16, commands.size() + " commands");
        for (String[] c : commands) {
            String[] args = java.util.Arrays.copyOf(c, c.length + 1);
            args[c.length] = "--help";
            PrintStream old = System.out;
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            System.setOut(new PrintStream(buf));
            int code;
            try {
                code = Main.execute(args);
            } finally {
                System.setOut(old);
            }
            assertEquals(0, code, String.join(" ", args) + ": " + buf);
            assertTrue(buf.toString().contains("Usage:"), buf.toString());
        }
        PrintStream oldErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err));
        int code;
        try {
            code = Main.execute("val", "--bogus");
        } finally {
            System.setErr(oldErr);
        }
        assertEquals(2, code);
        assertTrue(err.toString().lines().count() <= 2 && err.toString().contains("--help"), err.toString());
    }
}
