package org.jprune.yolo.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Locale;
import org.jprune.yolo.infer.Detector;

/** Detections drawn on their image (what {@code jprune detect} writes beside the label files). */
public final class Boxes {
    private Boxes() {}

    /** A copy of {@code im} with each box, its class name and confidence; one hue per class. */
    public static BufferedImage draw(BufferedImage im, List<Detector.Box> boxes) {
        BufferedImage copy = new BufferedImage(im.getWidth(), im.getHeight(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = copy.createGraphics();
        g.drawImage(im, 0, 0, null);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, Math.max(9, im.getHeight() / 40)));
        for (Detector.Box b : boxes) {
            g.setColor(Color.getHSBColor((b.classId() * 0.137f) % 1f, 0.9f, 1f));
            g.setStroke(new BasicStroke(Math.max(1f, im.getHeight() / 300f)));
            g.drawRect(Math.round(b.x1()), Math.round(b.y1()), Math.round(b.x2() - b.x1()), Math.round(b.y2() - b.y1()));
            g.drawString(String.format(Locale.ROOT, "%s %.2f", b.className(), b.confidence()), Math.round(b.x1()), Math.max(10, Math.round(b.y1()) - 2));
        }
        g.dispose();
        return copy;
    }
}
