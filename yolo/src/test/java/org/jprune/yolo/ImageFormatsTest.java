package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.jprune.engine.Device;
import org.jprune.yolo.cli.Main;
import org.jprune.yolo.data.Images;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image files Ultralytics lists (IMG_FORMATS): TIFF (8- and 16-bit) and MPO are read like PNG and
 * JPEG; WebP, DNG and PFM, which the JDK cannot decode, are listed all the same and refused naming the
 * file and the format, never skipped in silence (a folder of 10 images detected as 7 was the defect).
 */
class ImageFormatsTest {
    @TempDir Path dir;

    @Test
    void tiffIsReadAndWebpIsRefusedByName() throws Exception {
        Path src = Files.createDirectories(dir.resolve("src/images"));
        BufferedImage rgb = new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 30; y++) for (int x = 0; x < 40; x++) rgb.setRGB(x, y, (x * 6) << 16 | (y * 8) << 8 | 90);
        assertTrue(ImageIO.write(rgb, "tiff", src.resolve("a.tif").toFile()));
        BufferedImage g16 = new BufferedImage(40, 30, BufferedImage.TYPE_USHORT_GRAY);
        for (int y = 0; y < 30; y++) for (int x = 0; x < 40; x++) g16.getRaster().setSample(x, y, 0, x * 1600);
        assertTrue(ImageIO.write(g16, "tiff", src.resolve("b.TIFF").toFile()));
        Files.write(src.resolve("notes.gif.txt"), new byte[] {1});

        for (String n : new String[] {"a.tif", "b.TIFF", "c.webp", "d.dng", "e.pfm", "f.mpo", "g.JPEG"}) assertTrue(YoloDataset.isImage(Path.of(n)), n);
        for (String n : new String[] {"a.gif", "a.txt", "tif", "a.tif.txt"}) assertFalse(YoloDataset.isImage(Path.of(n)), n);
        assertEquals(List.of(src.resolve("a.tif"), src.resolve("b.TIFF")), YoloDataset.listImages(dir.resolve("src")));
        BufferedImage a = Images.read(src.resolve("a.tif"));
        assertEquals(40, a.getWidth());
        assertEquals(rgb.getRGB(7, 5), a.getRGB(7, 5));
        assertEquals(30, Images.read(src.resolve("b.TIFF")).getHeight());

        Path ckpt = dir.resolve("m.safetensors");
        try (YoloModel m = YoloModel.build(ModelConfig.load("yolov5n").withClasses(2), Device.cpu(), 3)) {
            Checkpoint.writeModel(ckpt, m, "yolov5n", List.of("a", "b"), 64, Map.of());
        }
        assertEquals(0, Main.execute("detect", "-w", ckpt.toString(), "--source", src.toString(), "-o", dir.resolve("out").toString()));
        assertTrue(Files.isRegularFile(dir.resolve("out/labels/a.txt")) && Files.isRegularFile(dir.resolve("out/labels/b.txt")));

        // a WebP file (a RIFF header is enough): refused by name and format, exit 2, one line
        Files.write(src.resolve("c.webp"), "RIFF\u0010\0\0\0WEBPVP8 ".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        IOException e = assertThrows(IOException.class, () -> Images.read(src.resolve("c.webp")));
        assertTrue(e.getMessage().contains("c.webp") && e.getMessage().contains("WebP"), e.getMessage());
        // the same bytes sent to the server (no file name): known by their RIFF/WEBP header
        IOException eb = assertThrows(IOException.class, () -> Images.read(Files.readAllBytes(src.resolve("c.webp")), "body"));
        assertTrue(eb.getMessage().startsWith("body: ") && eb.getMessage().contains("WebP has no decoder"), eb.getMessage());
        var err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        System.setErr(new PrintStream(err));
        int code;
        try {
            code = Main.execute("detect", "-w", ckpt.toString(), "--source", src.toString(), "-o", dir.resolve("out2").toString());
        } finally {
            System.setErr(old);
        }
        assertEquals(2, code);
        assertTrue(err.toString().contains("c.webp") && err.toString().contains("convert it to PNG or JPEG"), err.toString());
        assertEquals(1, err.toString().strip().lines().count(), err.toString());
    }
}
