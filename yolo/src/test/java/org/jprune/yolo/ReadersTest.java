package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.jprune.yolo.data.Annotations;
import org.jprune.yolo.data.YoloDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every annotation reader on small fixtures, including broken ones: problems name file and line. */
class ReadersTest {
    @TempDir Path dir;

    static void png(Path p, int w, int h) throws Exception {
        Files.createDirectories(p.getParent());
        ImageIO.write(new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB), "png", p.toFile());
    }

    static String vocXml(String file, int w, int h, String objects) {
        return "<annotation>\n  <filename>" + file + "</filename>\n  <size><width>" + w + "</width><height>" + h + "</height><depth>3</depth></size>\n"
                + objects + "</annotation>\n";
    }

    static String vocObj(String name, int difficult, String x1, String y1, String x2, String y2) {
        return "  <object>\n    <name>" + name + "</name>\n    <difficult>" + difficult + "</difficult>\n    <bndbox><xmin>" + x1 + "</xmin><ymin>" + y1
                + "</ymin><xmax>" + x2 + "</xmax><ymax>" + y2 + "</ymax></bndbox>\n  </object>\n";
    }

    @Test
    void vocDevkitLayout() throws Exception {
        Path voc = dir.resolve("VOCdevkit/VOC2007");
        png(voc.resolve("JPEGImages/a.png"), 100, 80);
        png(voc.resolve("JPEGImages/b.png"), 50, 50);
        Files.createDirectories(voc.resolve("Annotations"));
        Files.writeString(voc.resolve("Annotations/a.xml"), vocXml("a.png", 100, 80,
                vocObj("dog", 0, "11", "21", "60", "70") + vocObj("cat", 1, "1", "1", "10", "10")));
        // b: an unknown class (line 4), a box outside the image (line 9) and one without numbers (line 14)
        Files.writeString(voc.resolve("Annotations/b.xml"), vocXml("b.png", 50, 50,
                vocObj("horse", 0, "1", "1", "5", "5") + vocObj("dog", 0, "1", "1", "90", "20") + vocObj("cat", 0, "x", "1", "5", "5")));
        Files.writeString(voc.resolve("Annotations/c.xml"), "<annotation><filename>c.png</filename>\n<object><name>dog</oops></annotation>\n");
        Files.createDirectories(voc.resolve("ImageSets/Main"));
        Files.writeString(voc.resolve("ImageSets/Main/val.txt"), "a\nb\nc\nmissing\n");
        Path yaml = dir.resolve("voc.yaml");
        Files.writeString(yaml, "format: voc\npath: VOCdevkit\ntrain: VOC2007/ImageSets/Main/val.txt\nval: [VOC2007/ImageSets/Main/val.txt]\nnames: [cat, dog]\n");
        YoloDataset ds = YoloDataset.load(YoloDataset.readConfig(yaml), "val", false);
        List<String> p = ds.problems().stream().map(Object::toString).toList();
        assertTrue(p.stream().anyMatch(s -> s.endsWith("b.xml:4: unknown class 'horse' (not in names)")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains("b.xml:9: box (1, 1, 90, 20) is empty or outside the 50x50 image")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains("b.xml:14: object 'cat' has no numeric bndbox")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains("c.xml:2: malformed XML")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains("val.txt:4: no annotation")), p.toString());
        assertEquals(2, ds.samples().size());
        YoloDataset.Sample a = ds.samples().get(0);
        assertEquals(1, a.labels().size(), "the difficult cat is not trained on");
        YoloDataset.Label dog = a.labels().get(0);
        assertEquals(1, dog.cls());
        assertEquals((10 + 60) / 2.0 / 100, dog.cx(), 1e-6);   // 1-based xmin 11 -> 10
        assertEquals(50.0 / 100, dog.w(), 1e-6);
        List<YoloDataset.Problem> none = new ArrayList<>();
        List<Annotations.Image> ims = YoloDataset.annotations(YoloDataset.readConfig(yaml), "val", none);
        assertTrue(ims.get(0).objects().get(1).difficult(), "evaluation keeps difficult objects");
    }

    @Test
    void cocoJson() throws Exception {
        png(dir.resolve("imgs/1.png"), 64, 48);
        png(dir.resolve("imgs/2.png"), 32, 32);
        Path json = dir.resolve("instances.json");
        Files.writeString(json, """
                {"images": [{"id": 1, "file_name": "1.png", "width": 64, "height": 48},
                            {"id": 2, "file_name": "2.png", "width": 32, "height": 32}],
                 "categories": [{"id": 5, "name": "b"}, {"id": 2, "name": "a"}],
                 "annotations": [
                   {"id": 1, "image_id": 1, "category_id": 5, "bbox": [4, 8, 20, 10], "area": 150, "iscrowd": 0},
                   {"id": 2, "image_id": 1, "category_id": 2, "bbox": [0, 0, 64, 48], "area": 3000, "iscrowd": 1},
                   {"id": 3, "image_id": 9, "category_id": 2, "bbox": [0, 0, 4, 4]},
                   {"id": 4, "image_id": 2, "category_id": 3, "bbox": [0, 0, 4, 4]},
                   {"id": 5, "image_id": 2, "category_id": 2, "bbox": [40, 0, 8, 4]},
                   {"id": 6, "image_id": 2, "category_id": 2, "bbox": "x"}
                 ]}
                """);
        List<YoloDataset.Problem> problems = new ArrayList<>();
        Annotations.Set s = Annotations.readCoco(json, dir.resolve("imgs"), problems);
        assertEquals(List.of("a", "b"), s.names(), "classes follow the sorted category ids");
        List<String> p = problems.stream().map(Object::toString).toList();
        assertEquals(4, p.size(), p.toString());
        assertTrue(p.get(0).endsWith("instances.json:7: annotation for unknown image_id 9"), p.toString());
        assertTrue(p.get(1).endsWith("instances.json:8: annotation with unknown category_id 3"), p.toString());
        assertTrue(p.get(2).contains("instances.json:9: bbox [40.0, 0.0, 8.0, 4.0] is empty or outside the 32x32 image"), p.toString());
        assertTrue(p.get(3).contains("instances.json:10: annotation without a numeric bbox"), p.toString());
        Annotations.Obj o = s.images().get(0).objects().get(0);
        assertEquals(1, o.cls());
        assertEquals(24, o.x2(), 1e-9);
        assertEquals(150, o.area(), 1e-9);
        assertTrue(s.images().get(0).objects().get(1).crowd());
        assertEquals(1, Annotations.toSamples(s.images(), false).get(0).labels().size(), "crowd regions are not trained on");
        Files.writeString(dir.resolve("bad.json"), "{\"images\": [\n{\"id\": 1,,}]}");
        var e = assertThrows(java.io.IOException.class, () -> Annotations.readCoco(dir.resolve("bad.json"), dir, new ArrayList<>()));
        assertTrue(e.getMessage().startsWith(dir.resolve("bad.json") + ":2: malformed JSON"), e.getMessage());
    }

    @Test
    void widerFace() throws Exception {
        png(dir.resolve("WIDER_val/images/0--Parade/a.png"), 100, 100);
        png(dir.resolve("WIDER_val/images/0--Parade/b.png"), 40, 40);
        Path txt = dir.resolve("wider_face_val_bbx_gt.txt");
        Files.writeString(txt, """
                0--Parade/a.png
                3
                10 10 20 30 0 0 0 0 0 0
                50 50 10 10 0 0 0 1 0 0
                5 5 0 4 0 0 0 0 0 0
                0--Parade/b.png
                0
                0 0 0 0 0 0 0 0 0 0
                """);
        List<YoloDataset.Problem> problems = new ArrayList<>();
        Annotations.Set s = Annotations.readWider(txt, dir.resolve("WIDER_val/images"), problems);
        assertEquals(2, s.images().size());
        assertEquals(2, s.images().get(0).objects().size(), "the valid face and the invalid one (kept as an ignored truth)");
        assertTrue(!s.images().get(0).objects().get(0).difficult() && s.images().get(0).objects().get(1).difficult(),
                "WIDER's evaluation ignores faces marked invalid: they are ignored truths");
        assertEquals(0, s.images().get(1).objects().size(), "an image with no faces has a line of zeros");
        assertEquals(List.of("face"), s.names());
        List<String> p = problems.stream().map(Object::toString).toList();
        assertEquals(1, p.size(), "an invalid face is data, not a problem: " + p);
        assertTrue(p.get(0).endsWith("wider_face_val_bbx_gt.txt:5: face of zero width or height (skipped)"), p.toString());
        // a bad count line: one message, and the next image is still read
        Files.writeString(txt, "0--Parade/a.png\nmany\n10 10 20 30 0 0 0 0 0 0\n0--Parade/b.png\n1\n1 1 5 5 0 0 0 0 0 0\n");
        problems.clear();
        Annotations.Set again = Annotations.readWider(txt, dir.resolve("WIDER_val/images"), problems);
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).toString().endsWith(":2: expected a face count after '0--Parade/a.png', got 'many' (image skipped)"), problems.toString());
        assertEquals(1, again.images().size());
        assertEquals("b", again.images().get(0).id());
    }
}
