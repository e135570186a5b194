package org.jprune.yolo.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Every image the project decodes goes through here. The size comes from the file's header first and
 * is checked against a pixel limit before any decoding (a 1 KB JPEG can claim 26000 x 26000 pixels:
 * 2.7 GB of ARGB), so an image bomb fails at once naming the file; ImageIO's warnings (a truncated
 * JPEG is otherwise filled with grey silently) make the read fail naming the file and the warning.
 */
public final class Images {
    private Images() {}

    /** Most pixels an image may have ({@link org.jprune.yolo.Limits#maxImagePixels()}). */
    public static long maxPixels() { return org.jprune.yolo.Limits.maxImagePixels(); }

    /**
     * Width and height of the image as displayed (a JPEG's EXIF orientation 5-8 swaps them), from the
     * header without decoding, checked against {@link #maxPixels()}.
     */
    public static int[] size(Path img) throws IOException {
        int o = exifOrientation(img);
        return withReader(img.toString(), file(img), r -> o >= 5 ? new int[] {r.getHeight(0), r.getWidth(0)} : new int[] {r.getWidth(0), r.getHeight(0)});
    }

    /**
     * The decoded image as displayed (a JPEG's EXIF orientation applied, as Ultralytics' exif_transpose
     * does, since labels refer to the displayed image); fails naming the file if it is unreadable, over
     * the pixel limit or damaged.
     */
    public static BufferedImage read(Path img) throws IOException {
        return decode(img.toString(), exifOrientation(img), file(img));
    }

    /**
     * An image sent as bytes (an HTTP body), decoded exactly as {@link #read(Path)} decodes a file:
     * EXIF orientation, pixel limit, damage; errors name `what`.
     */
    public static BufferedImage read(byte[] bytes, String what) throws IOException {
        if (bytes.length == 0) throw new IOException(what + ": empty");
        return decode(what, exifOrientation(bytes), () -> ImageIO.createImageInputStream(new java.io.ByteArrayInputStream(bytes)));
    }

    private static BufferedImage decode(String name, int o, Opener open) throws IOException {
        BufferedImage im = withReader(name, open, r -> {
            List<String> warnings = new ArrayList<>();
            r.addIIOReadWarningListener((src, w) -> warnings.add(w));
            ImageReadParam p = r.getDefaultReadParam();
            BufferedImage b = r.read(0, p);
            if (!warnings.isEmpty()) throw new IOException(name + ": damaged image (" + warnings.get(0) + ")");
            return b;
        });
        return o > 1 ? orient(im, o) : im;
    }

    /** The EXIF orientation (1-8) of a JPEG's APP1 segment; 1 when there is none or the file is not a JPEG. */
    static int exifOrientation(Path img) throws IOException {
        byte[] b;
        try (var in = new java.io.BufferedInputStream(Files.newInputStream(img))) {
            in.mark(2);
            if (in.read() != 0xFF || in.read() != 0xD8) return 1; // not a JPEG: nothing more to read
            in.reset();
            b = in.readNBytes(1 << 16);
        } catch (IOException e) {
            return 1; // the reader reports unreadable files
        }
        return exifOrientation(b);
    }

    /** The EXIF orientation of a JPEG whose first bytes (64 KiB are enough) are b; 1 when none. */
    static int exifOrientation(byte[] b) {
        if (b.length < 4 || (b[0] & 255) != 0xFF || (b[1] & 255) != 0xD8) return 1;
        int i = 2;
        while (i + 4 <= b.length && (b[i] & 255) == 0xFF) {
            int marker = b[i + 1] & 255, len = (b[i + 2] & 255) << 8 | (b[i + 3] & 255);
            if (marker == 0xDA || len < 2) break; // image data starts: no EXIF before it
            int seg = i + 4;
            if (marker == 0xE1 && seg + 14 <= b.length && b[seg] == 'E' && b[seg + 1] == 'x' && b[seg + 2] == 'i' && b[seg + 3] == 'f') {
                int t = seg + 6; // TIFF header
                boolean le = b[t] == 'I';
                int ifd = t + u32(b, t + 4, le);
                if (ifd + 2 > b.length || ifd < t) return 1;
                int n = u16(b, ifd, le);
                for (int k = 0; k < n; k++) {
                    int e = ifd + 2 + 12 * k;
                    if (e + 12 > b.length) return 1;
                    if (u16(b, e, le) == 0x0112) {
                        int v = u16(b, e + 8, le);
                        return v >= 1 && v <= 8 ? v : 1;
                    }
                }
                return 1;
            }
            i += 2 + len;
        }
        return 1;
    }

    private static int u16(byte[] b, int i, boolean le) {
        return le ? (b[i] & 255) | (b[i + 1] & 255) << 8 : (b[i] & 255) << 8 | (b[i + 1] & 255);
    }

    private static int u32(byte[] b, int i, boolean le) {
        return le ? u16(b, i, true) | u16(b, i + 2, true) << 16 : u16(b, i, false) << 16 | u16(b, i + 2, false);
    }

    /** The image turned and mirrored as EXIF orientation o says it is displayed (pixel values untouched). */
    static BufferedImage orient(BufferedImage im, int o) {
        int w = im.getWidth(), h = im.getHeight();
        boolean swap = o >= 5;
        int dw = swap ? h : w, dh = swap ? w : h;
        java.awt.image.WritableRaster src = im.getRaster(), dst = im.getColorModel().createCompatibleWritableRaster(dw, dh);
        int[] px = new int[src.getNumBands()];
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++) {
                int sx, sy;
                switch (o) {
                    case 2 -> { sx = w - 1 - x; sy = y; }
                    case 3 -> { sx = w - 1 - x; sy = h - 1 - y; }
                    case 4 -> { sx = x; sy = h - 1 - y; }
                    case 5 -> { sx = y; sy = x; }
                    case 6 -> { sx = y; sy = h - 1 - x; }
                    case 7 -> { sx = w - 1 - y; sy = h - 1 - x; }
                    default -> { sx = w - 1 - y; sy = x; } // 8
                }
                src.getPixel(sx, sy, px);
                dst.setPixel(x, y, px);
            }
        return new BufferedImage(im.getColorModel(), dst, im.isAlphaPremultiplied(), null);
    }

    private interface Body<T> {
        T apply(ImageReader r) throws IOException;
    }

    private interface Opener {
        ImageInputStream open() throws IOException;
    }

    private static Opener file(Path img) {
        return () -> {
            if (Files.isDirectory(img)) throw new IOException(img + ": is a directory, not an image");
            if (Files.isRegularFile(img) && Files.size(img) == 0) throw new IOException(img + ": empty file");
            return ImageIO.createImageInputStream(img.toFile());
        };
    }

    /**
     * Why no decoder took an image: the formats Ultralytics lists that the JDK cannot decode, known by
     * their first bytes (WebP's RIFF....WEBP, so an HTTP body too) or else by the file's extension.
     */
    static String undecodable(String img, ImageInputStream in) throws IOException {
        byte[] head = new byte[12];
        in.seek(0);
        int got = 0;
        for (int n; got < head.length && (n = in.read(head, got, head.length - got)) > 0; ) got += n;
        String magic = new String(head, 0, got, java.nio.charset.StandardCharsets.ISO_8859_1);
        String n = img.toLowerCase(java.util.Locale.ROOT);
        boolean webp = magic.startsWith("RIFF") && magic.length() == 12 && magic.endsWith("WEBP") || n.endsWith(".webp");
        String format = webp ? "WebP" : n.endsWith(".dng") ? "DNG (camera raw)" : n.endsWith(".pfm") ? "PFM (floating-point)" : null;
        return format != null ? format + " has no decoder here; convert it to PNG or JPEG"
                              : "its content is not PNG, JPEG, BMP, TIFF or GIF";
    }

    private static <T> T withReader(String img, Opener open, Body<T> body) throws IOException {
        try (ImageInputStream in = open.open()) {
            if (in == null) throw new IOException(img + ": cannot open");
            Iterator<ImageReader> it = ImageIO.getImageReaders(in);
            if (!it.hasNext()) throw new IOException(img + ": not a readable image (" + undecodable(img, in) + ")");
            ImageReader r = it.next();
            try {
                r.setInput(in, true, true);
                long w = r.getWidth(0), h = r.getHeight(0), max = maxPixels();
                if (w <= 0 || h <= 0) throw new IOException(img + ": image header says " + w + "x" + h);
                if (w * h > max)
                    throw new IOException(img + ": image is " + w + "x" + h + " = " + w * h + " pixels, more than the limit " + max
                            + " (raise it with -Djprune.maxImagePixels=N)");
                return body.apply(r);
            } finally {
                r.dispose();
            }
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(img)) throw e;
            throw new IOException(img + ": unreadable image: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IOException(img + ": unreadable image: " + e, e);
        }
    }
}
