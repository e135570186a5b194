package org.jprune.yolo.data;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.GradientPaint;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Arc2D;
import java.awt.geom.Area;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.geom.Rectangle2D;
import java.awt.geom.RoundRectangle2D;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The built-in face benchmark (one class, {@code face}), drawn to have WIDER Face's character rather
 * than its pixels: many faces per image with a wide spread of scales, most of them small.
 *
 * <p>Definition (also in the README). Each image is one of three scenes: a portrait or group (35%:
 * 1-6 faces of 8-45% of the image side), a scattered scene (35%: 5-20 faces of 5 px to 20% of the
 * side) or a crowd (30%: 3-6 rows of faces with bodies under them, the faces of 5-9 px in the back
 * row growing 1.25-1.5x per row towards the front, up to 80 faces). A face is an ellipse (height 1.1-1.35x
 * its width) in one of six skin tones under random lighting, with hair (80%), eyes (or sunglasses,
 * 12%), brows, a nose shadow and a mouth, its features shifted sideways by a head turn of up to 15%
 * of its width. 15% of faces are partly covered by an occluder (a hand, an object, someone in front)
 * over 25-50% of their box; their label stays the whole face, as WIDER labels occluded faces.
 * Distractors that are not faces: 2-10 featureless skin-coloured blobs (hands, balls), rectangles
 * and strokes. 35% of images get a 3x3 blur, another 10% a heavy one (three passes); all get pixel
 * noise of sigma 0-10. Scattered and portrait faces overlap by at most IoU 0.3, and a later face covers at most half of an earlier one's box. The label is the face
 * ellipse's bounds (hair and body outside it), clipped to the image.
 */
public final class Faces {
    public static final List<String> CLASSES = List.of("face");

    private static final int[][] SKIN = {{255, 224, 189}, {241, 194, 125}, {224, 172, 105}, {198, 134, 66}, {141, 85, 36}, {92, 51, 23}};
    private static final int MAX_FACES = 80;

    private Faces() {}

    /** Draws one image and appends its face boxes (class 0). */
    public static BufferedImage render(int size, SplittableRandom r, List<SynthDataset.Box> boxes) {
        BufferedImage im = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = im.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setPaint(new GradientPaint((float) (r.nextDouble() * size), 0, SynthDataset.randomColor(r), (float) (r.nextDouble() * size), size,
                SynthDataset.randomColor(r)));
        g.fillRect(0, 0, size, size);
        clutter(g, size, r);
        double scene = r.nextDouble();
        if (scene < 0.35) scattered(g, size, r, boxes, 1 + r.nextInt(6), 0.08 * size, 0.45 * size);
        else if (scene < 0.70) scattered(g, size, r, boxes, 5 + r.nextInt(16), 5, Math.max(6, 0.2 * size));
        else crowd(g, size, r, boxes);
        g.dispose();
        double blur = r.nextDouble();
        if (blur < 0.35) SynthDataset.boxBlur(im);
        else if (blur < 0.45) for (int k = 0; k < 3; k++) SynthDataset.boxBlur(im);
        SynthDataset.addNoise(im, r.nextDouble() * 10, r);
        return im;
    }

    /** Background objects that are not faces: rectangles, strokes, and featureless skin-coloured blobs. */
    private static void clutter(Graphics2D g, int size, SplittableRandom r) {
        int rects = r.nextInt(6);
        for (int i = 0; i < rects; i++) {
            g.setColor(SynthDataset.randomColor(r));
            int w = 8 + r.nextInt(Math.max(1, size / 2)), h = 8 + r.nextInt(Math.max(1, size / 2));
            g.fillRect(r.nextInt(size) - w / 2, r.nextInt(size) - h / 2, w, h);
        }
        int strokes = 3 + r.nextInt(12);
        for (int i = 0; i < strokes; i++) {
            g.setColor(SynthDataset.randomColor(r));
            g.setStroke(new BasicStroke((float) (1 + r.nextDouble() * 2)));
            g.drawLine(r.nextInt(size), r.nextInt(size), r.nextInt(size), r.nextInt(size));
        }
        int blobs = 2 + r.nextInt(9);
        for (int i = 0; i < blobs; i++) {
            g.setColor(skin(r));
            double w = 4 + r.nextDouble() * size * 0.15, h = w * (0.6 + r.nextDouble() * 0.9);
            g.fill(new Ellipse2D.Double(r.nextDouble() * size - w / 2, r.nextDouble() * size - h / 2, w, h));
        }
    }

    /** Up to {@code n} faces of side log-uniform in [min, max], overlapping by at most IoU 0.3 and covering at most half of an earlier face. */
    private static void scattered(Graphics2D g, int size, SplittableRandom r, List<SynthDataset.Box> boxes, int n, double min, double max) {
        int start = boxes.size();
        for (int i = 0, attempts = 0; i < n && attempts < 200; attempts++) {
            double w = Math.exp(Math.log(min) + r.nextDouble() * (Math.log(max) - Math.log(min))), h = w * (1.1 + r.nextDouble() * 0.25);
            if (h > size - 2) { h = size - 2; w = h / 1.2; }
            double x = 1 + r.nextDouble() * (size - 2 - w), y = 1 + r.nextDouble() * (size - 2 - h);
            SynthDataset.Box b = new SynthDataset.Box(0, x, y, x + w, y + h);
            boolean clash = false;
            for (int k = start; k < boxes.size() && !clash; k++) clash = SynthDataset.iou(boxes.get(k), b) > 0.3 || SynthDataset.coverage(boxes.get(k), b) > 0.5;
            if (clash) continue;
            face(g, r, x, y, w, h, size, boxes);
            i++;
        }
    }

    /** Rows of people, the back row (top) smallest; each row's bodies are drawn before the faces of the row in front. */
    private static void crowd(Graphics2D g, int size, SplittableRandom r, List<SynthDataset.Box> boxes) {
        int rows = 3 + r.nextInt(4);
        double side = 5 + r.nextDouble() * 4, grow = 1.25 + r.nextDouble() * 0.25;
        double y = r.nextDouble() * size * 0.15;
        for (int row = 0; row < rows && y < size - side && boxes.size() < MAX_FACES; row++) {
            double x = r.nextDouble() * side;
            while (x < size - side && boxes.size() < MAX_FACES) {
                double w = side * (0.85 + r.nextDouble() * 0.3), h = w * (1.1 + r.nextDouble() * 0.25);
                double fy = y + (r.nextDouble() - 0.5) * side * 0.3;
                if (fy + h < size - 1 && fy > 0) {
                    g.setColor(SynthDataset.randomColor(r)); // shoulders and body
                    g.fill(new RoundRectangle2D.Double(x - w * 0.4, fy + h * 0.95, w * 1.8, h * 1.6, w * 0.6, w * 0.6));
                    if (r.nextDouble() < 0.9) face(g, r, x, fy, w, h, size, boxes);
                }
                x += w * (1.15 + r.nextDouble() * 0.6);
            }
            y += side * (1.2 + r.nextDouble() * 0.5);
            side *= grow;
        }
    }

    /** One face filling the box (x, y, w, h), its label appended (clipped to the image). */
    private static void face(Graphics2D g, SplittableRandom r, double x, double y, double w, double h, int size, List<SynthDataset.Box> boxes) {
        Color skin = skin(r);
        if (r.nextDouble() < 0.8) { // hair: a cap over the top of the head
            Area hair = new Area(new Ellipse2D.Double(x - w * 0.08, y - h * 0.1, w * 1.16, h * 0.75));
            hair.subtract(new Area(new Ellipse2D.Double(x, y + h * 0.22, w, h)));
            g.setColor(hairColor(r));
            g.fill(hair);
        }
        g.setColor(skin);
        g.fill(new Ellipse2D.Double(x, y, w, h));
        double turn = (r.nextDouble() * 2 - 1) * 0.15 * w, cx = x + w / 2 + turn;
        Color dark = new Color(20 + r.nextInt(40), 15 + r.nextInt(30), 10 + r.nextInt(30));
        double ey = y + h * 0.42, er = Math.max(0.6, w * 0.075);
        if (r.nextDouble() < 0.12) { // sunglasses
            g.setColor(dark);
            g.fill(new RoundRectangle2D.Double(cx - w * 0.36, ey - er * 1.3, w * 0.72, er * 2.6, er, er));
        } else {
            g.setColor(dark);
            for (int s = -1; s <= 1; s += 2) g.fill(new Ellipse2D.Double(cx + s * w * 0.19 - er, ey - er, 2 * er, 2 * er));
            if (w >= 12) {
                g.setStroke(new BasicStroke((float) Math.max(0.8, w * 0.04)));
                for (int s = -1; s <= 1; s += 2) g.draw(new Line2D.Double(cx + s * w * 0.1, ey - er * 2.2, cx + s * w * 0.3, ey - er * 2.4));
            }
        }
        g.setColor(skin.darker());
        g.setStroke(new BasicStroke((float) Math.max(0.7, w * 0.05)));
        g.draw(new Line2D.Double(cx, y + h * 0.5, cx + turn * 0.3, y + h * 0.62));
        g.setColor(new Color(120 + r.nextInt(80), 30 + r.nextInt(40), 30 + r.nextInt(40)));
        double mw = w * (0.25 + r.nextDouble() * 0.15);
        if (r.nextBoolean()) g.draw(new Arc2D.Double(cx - mw / 2, y + h * 0.66, mw, h * 0.1, 180, 180, Arc2D.OPEN));
        else g.draw(new Line2D.Double(cx - mw / 2, y + h * 0.74, cx + mw / 2, y + h * 0.74));
        if (r.nextDouble() < 0.15) { // an occluder over 25-50% of the box, from one side or from below
            g.setColor(r.nextBoolean() ? skin(r) : SynthDataset.randomColor(r));
            double f = 0.25 + r.nextDouble() * 0.25;
            switch (r.nextInt(3)) {
                case 0 -> g.fill(new Rectangle2D.Double(x - w * 0.1, y + h * (1 - f), w * 1.2, h * f + 1));
                case 1 -> g.fill(new Ellipse2D.Double(x - w * 0.2, y + h * 0.2, w * f * 2 * 0.7, h * 0.9));
                default -> g.fill(new Ellipse2D.Double(x + w * (1 - f * 1.4), y + h * 0.1, w * f * 2 * 0.7, h));
            }
        }
        boxes.add(new SynthDataset.Box(0, Math.max(0, x), Math.max(0, y), Math.min(size, x + w), Math.min(size, y + h)));
    }

    private static Color skin(SplittableRandom r) {
        int[] c = SKIN[r.nextInt(SKIN.length)];
        double light = 0.7 + r.nextDouble() * 0.45;
        return new Color(clamp(c[0] * light + r.nextInt(15) - 7), clamp(c[1] * light + r.nextInt(15) - 7), clamp(c[2] * light + r.nextInt(15) - 7));
    }

    private static Color hairColor(SplittableRandom r) {
        return switch (r.nextInt(4)) {
            case 0 -> new Color(20 + r.nextInt(30), 15 + r.nextInt(20), 10 + r.nextInt(20)); // black
            case 1 -> new Color(90 + r.nextInt(40), 55 + r.nextInt(30), 25 + r.nextInt(20)); // brown
            case 2 -> new Color(200 + r.nextInt(40), 170 + r.nextInt(40), 100 + r.nextInt(40)); // blond
            default -> new Color(150 + r.nextInt(80), 150 + r.nextInt(80), 150 + r.nextInt(80)); // grey
        };
    }

    private static int clamp(double v) { return (int) Math.max(0, Math.min(255, Math.round(v))); }
}
