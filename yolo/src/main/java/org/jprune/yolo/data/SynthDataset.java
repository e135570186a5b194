package org.jprune.yolo.data;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.GradientPaint;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Shape;
import java.awt.geom.Area;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;

/**
 * The built-in benchmark dataset: a real detection dataset (PNG images, YOLO txt labels, a data YAML)
 * generated from a seed, so everything runs offline and every number can be re-made.
 *
 * <p>Definition (also in the README): 8 classes that differ only by shape (circle, square, triangle,
 * diamond, cross, star, hexagon, ring), each object a random colour (so colour carries no class
 * information), optionally outlined only; sides uniform from 8 px to 0.6 of the image side,
 * aspect 0.75-1.33; 1 to 12 objects per image, placed so that no pair overlaps by more than IoU
 * 0.4 and later objects together cover at most 30% of an earlier object's box (overlaps and occlusion
 * happen, but every labelled object stays mostly visible: a label on a hidden object teaches
 * nothing and caps every model's recall); backgrounds are random two-colour
 * gradients with Gaussian noise and 5-30 distractor strokes (lines and arcs, which are not objects);
 * 30% of images get a 3x3 blur, all get pixel noise of sigma 0-12. The validation split uses a
 * different seed (seed + 1_000_003). Labels are the exact bounds of the drawn shapes.
 */
public final class SynthDataset {
    public static final List<String> CLASSES = List.of("circle", "square", "triangle", "diamond", "cross", "star", "hexagon", "ring");

    /**
     * HARD is the benchmark defined above. EASY is for tests and smoke runs: 1 to 3 filled, unoccluded
     * objects of 0.25 to 0.5 of the image side on a plain two-colour gradient, no strokes, blur or noise.
     */
    public enum Difficulty { HARD, EASY }

    /**
     * SHAPES: the benchmark above (8 classes). FACES: the one-class face benchmark with WIDER Face's
     * character ({@link Faces}): many small faces per image, crowds in rows, a wide spread of scales,
     * blur, occlusion, and face-coloured distractors; the difficulty does not apply to it.
     */
    public enum Kind { SHAPES, FACES }

    public record Spec(int trainImages, int valImages, int imageSize, long seed, Difficulty difficulty, Kind kind) {
        public Spec {
            if (trainImages < 1 || valImages < 1) throw new IllegalArgumentException("need at least one train and one val image");
            if (imageSize < 32) throw new IllegalArgumentException("image size must be >= 32, got " + imageSize);
            if (difficulty == null) throw new IllegalArgumentException("difficulty is null");
            if (kind == null) throw new IllegalArgumentException("kind is null");
        }

        public Spec(int trainImages, int valImages, int imageSize, long seed, Difficulty difficulty) {
            this(trainImages, valImages, imageSize, seed, difficulty, Kind.SHAPES);
        }

        public Spec(int trainImages, int valImages, int imageSize, long seed) { this(trainImages, valImages, imageSize, seed, Difficulty.HARD); }

        public List<String> names() { return kind == Kind.FACES ? Faces.CLASSES : CLASSES; }
    }

    /** One generated object: class and box in pixels (x1, y1, x2, y2). */
    public record Box(int cls, double x1, double y1, double x2, double y2) {}

    private SynthDataset() {}

    /** Writes dir/images/{train,val}, dir/labels/{train,val} and dir/data.yaml; returns the YAML's path. */
    public static Path write(Path dir, Spec spec) throws IOException {
        for (String split : List.of("train", "val")) {
            Path img = dir.resolve("images").resolve(split), lab = dir.resolve("labels").resolve(split);
            Files.createDirectories(img);
            Files.createDirectories(lab);
            int count = split.equals("train") ? spec.trainImages() : spec.valImages();
            long seed = split.equals("train") ? spec.seed() : spec.seed() + 1_000_003L;
            for (int i = 0; i < count; i++) {
                List<Box> boxes = new ArrayList<>();
                SplittableRandom r = new SplittableRandom(seed * 31 + i);
                BufferedImage im = spec.kind() == Kind.FACES ? Faces.render(spec.imageSize(), r, boxes) : render(spec.imageSize(), r, boxes, spec.difficulty());
                String stem = String.format(Locale.ROOT, "%s_%06d", split, i);
                ImageIO.write(im, "png", img.resolve(stem + ".png").toFile());
                StringBuilder sb = new StringBuilder();
                double s = spec.imageSize();
                for (Box b : boxes)
                    sb.append(String.format(Locale.ROOT, "%d %.6f %.6f %.6f %.6f%n", b.cls(), (b.x1() + b.x2()) / 2 / s, (b.y1() + b.y2()) / 2 / s,
                            (b.x2() - b.x1()) / s, (b.y2() - b.y1()) / s));
                Files.writeString(lab.resolve(stem + ".txt"), sb.toString(), StandardCharsets.UTF_8);
            }
        }
        Path yaml = dir.resolve("data.yaml");
        Files.writeString(yaml, "# jprune synthetic " + spec.kind().name().toLowerCase(Locale.ROOT) + " dataset (SynthDataset), seed " + spec.seed() + ", "
                + spec.imageSize() + " px\npath: " + dir.toAbsolutePath() + "\ntrain: images/train\nval: images/val\nnc: " + spec.names().size()
                + "\nnames: [" + String.join(", ", spec.names()) + "]\n");
        return yaml;
    }

    /** Draws one image and appends its boxes. */
    public static BufferedImage render(int size, SplittableRandom r, List<Box> boxes) { return render(size, r, boxes, Difficulty.HARD); }

    public static BufferedImage render(int size, SplittableRandom r, List<Box> boxes, Difficulty difficulty) {
        boolean easy = difficulty == Difficulty.EASY;
        BufferedImage im = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = im.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setPaint(new GradientPaint((float) (r.nextDouble() * size), 0, randomColor(r), (float) (r.nextDouble() * size), size, randomColor(r)));
        g.fillRect(0, 0, size, size);
        int strokes = easy ? 0 : 5 + r.nextInt(26);
        for (int i = 0; i < strokes; i++) {
            g.setColor(randomColor(r));
            g.setStroke(new BasicStroke((float) (1 + r.nextDouble() * 2.5)));
            int x = r.nextInt(size), y = r.nextInt(size);
            if (r.nextBoolean()) g.drawLine(x, y, r.nextInt(size), r.nextInt(size));
            else g.drawArc(x - size / 4, y - size / 4, 8 + r.nextInt(size / 2), 8 + r.nextInt(size / 2), r.nextInt(360), 30 + r.nextInt(200));
        }
        int objects = easy ? 1 + r.nextInt(3) : 1 + r.nextInt(12);
        double minSide = easy ? 0.25 * size : 8, maxSide = easy ? 0.5 * size : 0.6 * size, maxIou = easy ? 0 : 0.4;
        List<Double> covered = new ArrayList<>(); // per placed object: sum of its box's fractions covered by later boxes
        double side = 0, aspect = 1;
        for (int i = 0, attempts = 0, tries = 0; i < objects && attempts < 400; attempts++, tries++) {
            // A size is kept for up to 20 placements before a new one is drawn: re-drawing it on every
            // clash would favour the small sizes that fit anywhere and skew the distribution below.
            if (tries % 20 == 0) {
                side = easy ? Math.exp(Math.log(minSide) + r.nextDouble() * (Math.log(maxSide) - Math.log(minSide)))
                        : minSide + r.nextDouble() * (maxSide - minSide);
                aspect = Math.exp((r.nextDouble() * 2 - 1) * Math.log(1.33));
            }
            double w = Math.min(side * Math.sqrt(aspect), size - 2), h = Math.min(side / Math.sqrt(aspect), size - 2);
            double x = 1 + r.nextDouble() * (size - 2 - w), y = 1 + r.nextDouble() * (size - 2 - h);
            int cls = r.nextInt(CLASSES.size());
            Shape shape = shape(cls, x, y, w, h);
            Rectangle2D b = shape.getBounds2D();
            Box box = new Box(cls, Math.max(0, b.getMinX()), Math.max(0, b.getMinY()), Math.min(size, b.getMaxX()), Math.min(size, b.getMaxY()));
            boolean clash = false;
            for (int k = 0; k < boxes.size() && !clash; k++)
                clash = iou(boxes.get(k), box) > maxIou || covered.get(k) + coverage(boxes.get(k), box) > MAX_COVERED;
            if (clash) continue;
            for (int k = 0; k < boxes.size(); k++) covered.set(k, covered.get(k) + coverage(boxes.get(k), box));
            covered.add(0.0);
            g.setColor(randomColor(r));
            if (!easy && r.nextDouble() < 0.2 && side > 16) {
                g.setStroke(new BasicStroke((float) Math.max(2, side / 12)));
                g.draw(shape);
            } else {
                g.fill(shape);
            }
            boxes.add(box);
            i++;
            tries = -1;
        }
        g.dispose();
        if (easy) return im;
        if (r.nextDouble() < 0.3) boxBlur(im);
        addNoise(im, r.nextDouble() * 12, r);
        return im;
    }

    /** At most this fraction of an object's box may lie under later objects (summed over them). */
    static final double MAX_COVERED = 0.3;

    /** The fraction of a's box that b's box covers. */
    static double coverage(Box a, Box b) {
        double iw = Math.min(a.x2(), b.x2()) - Math.max(a.x1(), b.x1()), ih = Math.min(a.y2(), b.y2()) - Math.max(a.y1(), b.y1());
        if (iw <= 0 || ih <= 0) return 0;
        return iw * ih / ((a.x2() - a.x1()) * (a.y2() - a.y1()));
    }

    static double iou(Box a, Box b) {
        double iw = Math.min(a.x2(), b.x2()) - Math.max(a.x1(), b.x1()), ih = Math.min(a.y2(), b.y2()) - Math.max(a.y1(), b.y1());
        if (iw <= 0 || ih <= 0) return 0;
        double inter = iw * ih;
        return inter / ((a.x2() - a.x1()) * (a.y2() - a.y1()) + (b.x2() - b.x1()) * (b.y2() - b.y1()) - inter);
    }

    static Color randomColor(SplittableRandom r) {
        return new Color(r.nextInt(256), r.nextInt(256), r.nextInt(256));
    }

    /** The class's shape filling the box (x, y, w, h). */
    static Shape shape(int cls, double x, double y, double w, double h) {
        double cx = x + w / 2, cy = y + h / 2;
        return switch (CLASSES.get(cls)) {
            case "circle" -> new Ellipse2D.Double(x, y, w, h);
            case "square" -> new Rectangle2D.Double(x, y, w, h);
            case "triangle" -> polygon(new double[] {cx, x + w, x}, new double[] {y, y + h, y + h});
            case "diamond" -> polygon(new double[] {cx, x + w, cx, x}, new double[] {y, cy, y + h, cy});
            case "cross" -> {
                Area a = new Area(new Rectangle2D.Double(x + w * 0.35, y, w * 0.3, h));
                a.add(new Area(new Rectangle2D.Double(x, y + h * 0.35, w, h * 0.3)));
                yield a;
            }
            case "star" -> {
                double[] xs = new double[10], ys = new double[10];
                for (int k = 0; k < 10; k++) {
                    double ang = -Math.PI / 2 + k * Math.PI / 5, rad = k % 2 == 0 ? 1 : 0.42;
                    xs[k] = cx + rad * w / 2 * Math.cos(ang);
                    ys[k] = cy + rad * h / 2 * Math.sin(ang) * 1.1 + h * 0.05;
                }
                yield polygon(xs, ys);
            }
            case "hexagon" -> {
                double[] xs = new double[6], ys = new double[6];
                for (int k = 0; k < 6; k++) {
                    xs[k] = cx + w / 2 * Math.cos(k * Math.PI / 3);
                    ys[k] = cy + h / 2 * Math.sin(k * Math.PI / 3);
                }
                yield polygon(xs, ys);
            }
            default -> { // ring
                Area a = new Area(new Ellipse2D.Double(x, y, w, h));
                a.subtract(new Area(new Ellipse2D.Double(x + w * 0.28, y + h * 0.28, w * 0.44, h * 0.44)));
                yield a;
            }
        };
    }

    private static Shape polygon(double[] xs, double[] ys) {
        Path2D.Double p = new Path2D.Double();
        p.moveTo(xs[0], ys[0]);
        for (int i = 1; i < xs.length; i++) p.lineTo(xs[i], ys[i]);
        p.closePath();
        return p;
    }

    static void boxBlur(BufferedImage im) {
        int w = im.getWidth(), h = im.getHeight();
        int[] src = im.getRGB(0, 0, w, h, null, 0, w), dst = new int[src.length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int r = 0, g = 0, b = 0, n = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int xx = x + dx, yy = y + dy;
                        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                        int p = src[yy * w + xx];
                        r += (p >> 16) & 255; g += (p >> 8) & 255; b += p & 255; n++;
                    }
                dst[y * w + x] = (r / n) << 16 | (g / n) << 8 | (b / n);
            }
        im.setRGB(0, 0, w, h, dst, 0, w);
    }

    static void addNoise(BufferedImage im, double sigma, SplittableRandom r) {
        if (sigma <= 0) return;
        int w = im.getWidth(), h = im.getHeight();
        int[] px = im.getRGB(0, 0, w, h, null, 0, w);
        for (int i = 0; i < px.length; i++) {
            int p = px[i], out = 0;
            for (int sh = 16; sh >= 0; sh -= 8) {
                double u1 = Math.max(r.nextDouble(), 1e-12), u2 = r.nextDouble();
                int v = (int) Math.round(((p >> sh) & 255) + sigma * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
                out |= Math.max(0, Math.min(255, v)) << sh;
            }
            px[i] = out;
        }
        im.setRGB(0, 0, w, h, px, 0, w);
    }
}
