package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.data.YoloDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A YOLO data YAML's train/val entries as Ultralytics reads them: a directory, a text file listing
 * images, one image, or a list of these; every entry counts (a list used to be read as its first
 * entry alone, in training and in evaluation, in silence).
 */
class DataYamlListsTest {
    @TempDir Path dir;

    @Test
    void listsOfDirectoriesAndImageListsAreAllRead() throws Exception {
        Path data = SynthDataset.write(dir.resolve("d"), new SynthDataset.Spec(6, 4, 64, 5)).getParent();
        List<Path> train = YoloDataset.listImages(data.resolve("images/train")), val = YoloDataset.listImages(data.resolve("images/val"));
        String names = "names: [circle, square, triangle, diamond, cross, star, hexagon, ring]\n";

        // a list of directories: both are read, for training and for evaluation
        Path both = Files.writeString(data.resolve("both.yaml"), "path: .\ntrain: [images/train, images/val]\nval: [images/val, images/train]\n" + names);
        var cfg = YoloDataset.readConfig(both);
        assertEquals(10, YoloDataset.load(cfg, "train", false).samples().size());
        assertEquals(10, YoloDataset.annotations(cfg, "val", new ArrayList<>()).size());

        // a text list: "./" lines relative to the list's folder, absolute lines, other relative lines found
        // from the list's folder; a missing image and a non-image line are problems naming list and line
        Files.createDirectories(data.resolve("lists"));
        String rel = data.relativize(train.get(1)).toString();
        Files.writeString(data.resolve("lists/train.txt"), "./../" + data.relativize(train.get(0)) + "\n" + train.get(2).toAbsolutePath() + "\n\n"
                + "../" + rel + "\n./../images/train/nope.png\nREADME.md\n");
        Path listed = Files.writeString(data.resolve("listed.yaml"), "path: .\ntrain: lists/train.txt\nval: images/val/" + val.get(0).getFileName() + "\n" + names);
        cfg = YoloDataset.readConfig(listed);
        var ds = YoloDataset.load(cfg, "train", false);
        assertEquals(List.of(train.get(0).getFileName(), train.get(2).getFileName(), train.get(1).getFileName()),
                ds.samples().stream().map(s -> s.image().getFileName()).toList());
        assertTrue(ds.samples().get(0).labels().size() > 0, "labels found through the images -> labels rule");
        List<String> p = ds.problems().stream().map(Object::toString).toList();
        Path txt = data.resolve("lists/train.txt");
        assertEquals(2, p.size(), p.toString());
        assertTrue(p.get(0).startsWith(txt + ":5: image ") && p.get(0).endsWith("nope.png not found"), p.toString());
        assertTrue(p.get(1).startsWith(txt + ":6: not an image file name"), p.toString());
        // one image file as the whole split
        assertEquals(1, YoloDataset.load(cfg, "val", false).samples().size());

        // an entry that does not exist is refused naming it
        Path bad = Files.writeString(data.resolve("bad.yaml"), "path: .\ntrain: [images/train, images/nowhere]\nval: images/val\n" + names);
        IOException e = assertThrows(IOException.class, () -> YoloDataset.load(YoloDataset.readConfig(bad), "train", false));
        assertTrue(e.getMessage().contains("nowhere") && e.getMessage().contains("does not exist"), e.getMessage());
    }
}
