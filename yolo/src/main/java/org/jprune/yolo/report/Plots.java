package org.jprune.yolo.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * PNG charts (XChart): the precision-recall curve of an evaluation (per class and all classes, IoU
 * 0.5) and the training curves of a run's results.csv, as Ultralytics' PR_curve.png and results.png.
 * Charts are extras: where this JVM cannot draw (a headless machine without fonts, where AWT throws an
 * Error from its font setup) each method throws an IOException saying so, which the callers report
 * as a warning and go on.
 */
public final class Plots {
    private Plots() {}

    /** Code that draws a PNG. */
    public interface Drawing { void draw() throws IOException; }

    /** Draws a chart that is an extra beside the numbers: any failure is one warning line on log, never an error. */
    public static void optional(Path png, Drawing d, java.io.PrintStream log) {
        try {
            drawing(png, d);
        } catch (IOException e) {
            log.println("warning: " + png.getFileName() + " not written: " + e.getMessage());
        }
    }

    /** Runs a drawing; AWT's failures to draw (Errors but running out of memory or stack, runtime exceptions) become an IOException naming the file. */
    public static void drawing(Path png, Drawing d) throws IOException {
        try {
            d.draw();
        } catch (OutOfMemoryError | StackOverflowError e) {
            throw e;
        } catch (Error | RuntimeException e) {  // AWT's font setup throws Error and InternalError where it finds no fonts
            throw new IOException("cannot draw " + png.getFileName() + " on this JVM (" + e + ")", e);
        }
    }

    /** pr[c][101]: precision at recall 0, 0.01, ..., 1 (COCO's interpolation); NaN rows (no truth) are skipped. */
    public static void prCurve(Path png, double[][] pr, double[] ap50, List<String> names) throws IOException {
        drawing(png, () -> prCurveChart(png, pr, ap50, names));
    }

    private static void prCurveChart(Path png, double[][] pr, double[] ap50, List<String> names) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(700).title("Precision-recall (IoU 0.5)").xAxisTitle("Recall").yAxisTitle("Precision").build();
        chart.getStyler().setXAxisMin(0.0).setXAxisMax(1.0).setYAxisMin(0.0).setYAxisMax(1.0).setMarkerSize(0).setLegendVisible(true);
        double[] recall = new double[101];
        for (int r = 0; r <= 100; r++) recall[r] = r / 100.0;
        double[] mean = new double[101];
        int classes = 0;
        double map = 0;
        for (int c = 0; c < pr.length; c++) {
            if (Double.isNaN(ap50[c])) continue;
            XYSeries s = chart.addSeries(String.format(java.util.Locale.ROOT, "%s %.3f", names.get(c), ap50[c]), recall, pr[c]);
            s.setMarker(SeriesMarkers.NONE);
            for (int r = 0; r <= 100; r++) mean[r] += pr[c][r];
            classes++;
            map += ap50[c];
        }
        if (classes > 0) {
            for (int r = 0; r <= 100; r++) mean[r] /= classes;
            XYSeries s = chart.addSeries(String.format(java.util.Locale.ROOT, "all classes %.3f mAP50", map / classes), recall, mean);
            s.setMarker(SeriesMarkers.NONE);
            s.setLineWidth(4f);
        }
        save(chart, png);
    }

    /** results.png from a results.csv written by the trainer: losses, mAP50, mAP50-95 and lr by epoch. */
    public static void results(Path csv, Path png) throws IOException {
        drawing(png, () -> resultsChart(csv, png));
    }

    private static void resultsChart(Path csv, Path png) throws IOException {
        List<String> lines = Files.readAllLines(csv);
        if (lines.size() < 2) return;
        String[] head = lines.get(0).split(",");
        List<double[]> rows = new ArrayList<>();
        for (String l : lines.subList(1, lines.size())) {
            String[] f = l.split(",");
            double[] v = new double[f.length];
            for (int i = 0; i < f.length; i++) v[i] = Double.parseDouble(f[i]);
            rows.add(v);
        }
        double[] epoch = rows.stream().mapToDouble(r -> r[0] + 1).toArray();
        List<XYChart> charts = new ArrayList<>();
        for (int col = 1; col < Math.min(head.length, 7); col++) {
            final int c = col;
            XYChart ch = new XYChartBuilder().width(400).height(300).title(head[col]).xAxisTitle("epoch").build();
            ch.getStyler().setLegendVisible(false);
            ch.addSeries(head[col], epoch, rows.stream().mapToDouble(r -> r[c]).toArray()).setMarker(SeriesMarkers.CIRCLE);
            charts.add(ch);
        }
        java.awt.image.BufferedImage out = new java.awt.image.BufferedImage(3 * 400, 2 * 300, java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = out.createGraphics();
        for (int i = 0; i < charts.size(); i++) {
            java.awt.image.BufferedImage one = BitmapEncoder.getBufferedImage(charts.get(i));
            g.drawImage(one, (i % 3) * 400, (i / 3) * 300, null);
        }
        g.dispose();
        write(out, png);
    }

    /**
     * Lines of (x, y) points: {@code series} solid with circles, {@code reference} dashed with diamonds
     * (e.g. published figures drawn beside measured ones).
     */
    public static void lines(Path png, String title, String xTitle, String yTitle, java.util.Map<String, List<double[]>> series,
                             java.util.Map<String, List<double[]>> reference) throws IOException {
        drawing(png, () -> linesChart(png, title, xTitle, yTitle, series, reference));
    }

    private static void linesChart(Path png, String title, String xTitle, String yTitle, java.util.Map<String, List<double[]>> series,
                                   java.util.Map<String, List<double[]>> reference) throws IOException {
        XYChart chart = new XYChartBuilder().width(1100).height(750).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setYAxisMin(0.0).setYAxisMax(1.0).setXAxisMin(0.0).setXAxisMax(100.0).setLegendVisible(true).setMarkerSize(7)
                .setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideS);
        for (var e : series.entrySet()) addLine(chart, e.getKey(), e.getValue()).setMarker(SeriesMarkers.CIRCLE);
        for (var e : reference.entrySet()) {
            XYSeries s = addLine(chart, e.getKey(), e.getValue());
            s.setMarker(SeriesMarkers.DIAMOND);
            s.setLineStyle(new java.awt.BasicStroke(1.5f, java.awt.BasicStroke.CAP_BUTT, java.awt.BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        }
        save(chart, png);
    }

    private static XYSeries addLine(XYChart chart, String name, List<double[]> points) {
        double[] x = points.stream().mapToDouble(p -> p[0]).toArray(), y = points.stream().mapToDouble(p -> p[1]).toArray();
        return chart.addSeries(name, x, y);
    }

    private static void save(XYChart chart, Path png) throws IOException {
        write(BitmapEncoder.getBufferedImage(chart), png);
    }

    /** Written to a temporary file and moved into place: a kill leaves the old PNG or the new one. */
    private static void write(java.awt.image.BufferedImage im, Path png) throws IOException {
        Path dir = png.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve(png.getFileName() + ".tmp.png");
        javax.imageio.ImageIO.write(im, "png", tmp.toFile());
        Files.move(tmp, png, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
