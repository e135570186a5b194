package org.jprune.yolo.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jprune.engine.io.SafeTensors;
import org.jprune.engine.prune.ChannelPruner;
import org.jprune.engine.prune.DependencyGraph;
import org.jprune.engine.prune.Importance;
import org.jprune.engine.prune.PruningPlan;
import org.jprune.yolo.data.Loader;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.model.YoloModel;

/**
 * Sensitivity analysis (Vitis AI's "model analysis", Li et al.'s per-layer pruning curves): every
 * prunable layer is pruned alone (L2 magnitude, multiples of {@code roundTo}) at each ratio, the
 * masked network is evaluated on a fraction of the validation split without any training, and the
 * weights are restored before the next trial. Trials that keep exactly the channels of an earlier one
 * (small layers round to the same width) reuse its score. The result is the mAP50 of every (layer,
 * ratio), written as OUT/sensitivity.csv / .md and a heat map OUT/sensitivity.png, and
 * {@link #layerRatios}: per layer, the largest ratio whose drop stays within an allowance (equal loss
 * per layer), which {@link ChannelPruner#step(Map, double[])} accepts.
 */
public final class Sensitivity {
    public record Options(Path weights, Path data, int imgSize, int batch, double valFraction, double[] ratios, int roundTo, Path out, int workers) {
        public Options {
            if (!(valFraction > 0 && valFraction <= 1)) throw new IllegalArgumentException("validation fraction must be in (0, 1], got " + valFraction);
            if (ratios.length == 0) throw new IllegalArgumentException("no ratios given");
            for (int i = 0; i < ratios.length; i++) {
                if (!(ratios[i] > 0 && ratios[i] < 1)) throw new IllegalArgumentException("ratios must be in (0, 1), got " + ratios[i]);
                if (i > 0 && !(ratios[i] > ratios[i - 1])) throw new IllegalArgumentException("ratios must increase, got " + ratios[i - 1] + " then " + ratios[i]);
            }
            if (roundTo < 1) throw new IllegalArgumentException("roundTo must be >= 1, got " + roundTo);
            ratios = ratios.clone();
        }
    }

    /** map50[layer][ratio]; evaluations: the trials actually run (the others reused an equal one). */
    public record Result(List<String> layers, double[] ratios, double baseline, double[][] map50, int evaluations, double seconds) {
        public double drop(int layer, int ratio) { return baseline - map50[layer][ratio]; }
    }

    private final Options o;
    private final PrintStream log;

    public Sensitivity(Options o, PrintStream log) {
        this.o = o;
        this.log = log;
    }

    public Result run() throws IOException {
        long t0 = System.nanoTime();
        Checkpoint ck = Checkpoint.read(o.weights());
        YoloDataset.DataConfig dc = YoloDataset.readConfig(o.data());
        if (ck.classes() != dc.nc()) throw new IllegalArgumentException(o.weights() + " has " + ck.classes() + " classes, " + o.data() + " has " + dc.nc());
        List<YoloDataset.Sample> val = YoloDataset.load(dc, "val", false).samples();
        int n = Math.max(1, (int) Math.round(val.size() * o.valFraction()));
        List<YoloDataset.Sample> subset = new ArrayList<>();
        for (int i = 0; i < n; i++) subset.add(val.get((int) ((long) i * val.size() / n))); // spread over the split
        try (YoloModel m = ck.buildModel(); Loader loader = new Loader(subset, o.batch(), o.imgSize(), Loader.Augment.NONE, 0, o.workers())) {
            if (m.plan() != null) throw new IllegalArgumentException(o.weights() + ": sensitivity needs an unpruned or compact model, this one has a pruning plan");
            Map<String, float[]> saved = new LinkedHashMap<>();
            m.graph().stateDict().forEach((k, v) -> saved.put(k, v.toArray()));
            double base = Trainer.evaluate(m, loader, dc.nc()).map50();
            DependencyGraph dg = m.dependencyGraph();
            double[] imp = Importance.magnitude(2, Importance.Reduce.SUM).of(dg);
            List<String> layers = prunableLayers(dg);
            double[][] map = new double[layers.size()][o.ratios().length];
            int evals = 0;
            for (int l = 0; l < layers.size(); l++) {
                Map<String, Double> seen = new HashMap<>();
                for (int r = 0; r < o.ratios().length; r++) {
                    ChannelPruner p = new ChannelPruner(dg, new ChannelPruner.Options(false, o.roundTo(), 1.0, Set.of()));
                    p.step(Map.of(layers.get(l), o.ratios()[r]), imp);
                    PruningPlan plan = p.plan();
                    String key = plan.toJson();
                    Double known = seen.get(key);
                    if (known == null) {
                        if (plan.prunedChannels() == 0) known = base;
                        else {
                            m.applyPlan(plan);
                            known = Trainer.evaluate(m, loader, dc.nc()).map50();
                            m.applyPlan(null);
                            m.graph().stateDict().forEach((k, v) -> v.copyFrom(saved.get(k)));
                            evals++;
                        }
                        seen.put(key, known);
                    }
                    map[l][r] = known;
                }
                log.printf(Locale.ROOT, "sensitivity %d/%d %-22s %s%n", l + 1, layers.size(), layers.get(l), fmt(map[l], base));
            }
            double again = Trainer.evaluate(m, loader, dc.nc()).map50();
            if (again != base) throw new IllegalStateException("sensitivity: the restored model scores " + again + ", not " + base + " (weights not restored)");
            Result res = new Result(layers, o.ratios(), base, map, evals, (System.nanoTime() - t0) / 1e9);
            write(res);
            return res;
        }
    }

    /** The conv layers that own prunable channel groups (a group belongs to its first producer), in graph order. */
    static List<String> prunableLayers(DependencyGraph dg) {
        Set<Integer> owners = new java.util.TreeSet<>();
        for (DependencyGraph.Group g : dg.groups()) if (g.prunable() && dg.layerOf(g.id()) >= 0) owners.add(dg.layerOf(g.id()));
        List<String> out = new ArrayList<>();
        for (int id : owners) out.add(dg.graph().node(id).name());
        return out;
    }

    /**
     * Per layer, the largest analysed ratio whose mAP50 drop is at most {@code maxDrop} (0 when even the
     * smallest ratio drops more): the "equal loss per layer" allocation.
     */
    public static Map<String, Double> layerRatios(Result r, double maxDrop) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (int l = 0; l < r.layers().size(); l++) {
            double best = 0;
            for (int k = 0; k < r.ratios().length; k++) if (r.drop(l, k) <= maxDrop) best = r.ratios()[k];
            out.put(r.layers().get(l), best);
        }
        return out;
    }

    /** Writes per-layer ratios as a JSON object {layer: ratio} (what `prune --layer-ratios` reads), atomically. */
    public static void writeLayerRatios(Path file, Map<String, Double> ratios) throws IOException {
        SafeTensors.atomicWrite(file, new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(ratios));
    }

    /** Reads {@link #writeLayerRatios}'s file; errors name the file and the entry. */
    public static Map<String, Double> readLayerRatios(Path file) throws IOException {
        com.fasterxml.jackson.databind.JsonNode j;
        try {
            j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (j == null || !j.isObject()) throw new IllegalArgumentException(file + ": expected a JSON object {layer: ratio}");
        Map<String, Double> ratios = new LinkedHashMap<>();
        for (var it = j.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().isNumber()) throw new IllegalArgumentException(file + ": '" + e.getKey() + "' is not a number");
            double v = e.getValue().asDouble();
            if (!(v >= 0 && v < 1)) throw new IllegalArgumentException(file + ": '" + e.getKey() + "' is " + v + ", not a ratio in [0, 1)");
            ratios.put(e.getKey(), e.getValue().asDouble());
        }
        return ratios;
    }

    private static String fmt(double[] row, double base) {
        StringBuilder sb = new StringBuilder();
        for (double v : row) sb.append(String.format(Locale.ROOT, " %+.3f", v - base));
        return sb.toString();
    }

    private void write(Result r) throws IOException {
        Files.createDirectories(o.out());
        StringBuilder csv = new StringBuilder("layer");
        StringBuilder md = new StringBuilder(String.format(Locale.ROOT, "Sensitivity of %s on %.0f%% of the validation split (%s, %d px): mAP50 change when one "
                + "layer alone loses a fraction of its channels (L2 magnitude, multiples of %d), no fine-tuning. Baseline mAP50 %.3f; %d evaluations, %.0f s.%n%n| layer |",
                o.weights(), o.valFraction() * 100, o.data(), o.imgSize(), o.roundTo(), r.baseline(), r.evaluations(), r.seconds()));
        StringBuilder sep = new StringBuilder("|---|");
        for (double x : r.ratios()) {
            csv.append(String.format(Locale.ROOT, ",%.2f", x));
            md.append(String.format(Locale.ROOT, " %.0f%% |", x * 100));
            sep.append("---|");
        }
        csv.append('\n');
        md.append('\n').append(sep).append('\n');
        for (int l = 0; l < r.layers().size(); l++) {
            csv.append(r.layers().get(l));
            md.append("| ").append(r.layers().get(l)).append(" |");
            for (int k = 0; k < r.ratios().length; k++) {
                csv.append(String.format(Locale.ROOT, ",%.5f", r.map50()[l][k]));
                md.append(String.format(Locale.ROOT, " %+.3f |", -r.drop(l, k)));
            }
            csv.append('\n');
            md.append('\n');
        }
        SafeTensors.atomicWrite(o.out().resolve("sensitivity.csv"), csv.toString().getBytes(StandardCharsets.UTF_8));
        SafeTensors.atomicWrite(o.out().resolve("sensitivity.md"), md.toString().getBytes(StandardCharsets.UTF_8));
        Path png = o.out().resolve("sensitivity.png");
        org.jprune.yolo.report.Plots.optional(png, () -> heatMap(r, png), log);  // the numbers are in sensitivity.md/.csv
    }

    /** Layers down, ratios across; white = no loss, dark red = a loss of the whole baseline mAP50. */
    static void heatMap(Result r, Path png) throws IOException {
        int cell = 36, rowH = 16, left = 190, top = 40;
        int w = left + cell * r.ratios().length + 20, h = top + rowH * r.layers().size() + 30;
        java.awt.image.BufferedImage im = new java.awt.image.BufferedImage(w, h, java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = im.createGraphics();
        g.setColor(java.awt.Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setColor(java.awt.Color.BLACK);
        g.setFont(new java.awt.Font(java.awt.Font.SANS_SERIF, java.awt.Font.PLAIN, 11));
        g.drawString(String.format(Locale.ROOT, "mAP50 loss when one layer is pruned alone (baseline %.3f)", r.baseline()), 10, 16);
        for (int k = 0; k < r.ratios().length; k++) g.drawString(String.format(Locale.ROOT, "%.0f%%", r.ratios()[k] * 100), left + k * cell + 6, top - 6);
        for (int l = 0; l < r.layers().size(); l++) {
            g.setColor(java.awt.Color.BLACK);
            g.drawString(r.layers().get(l), 6, top + l * rowH + 12);
            for (int k = 0; k < r.ratios().length; k++) {
                double f = Math.max(0, Math.min(1, r.drop(l, k) / Math.max(1e-9, r.baseline())));
                float s = (float) Math.sqrt(f); // small losses stay visible
                g.setColor(new java.awt.Color(1f, 1f - 0.85f * s, 1f - s));
                g.fillRect(left + k * cell, top + l * rowH, cell - 1, rowH - 1);
            }
        }
        g.dispose();
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
        javax.imageio.ImageIO.write(im, "png", buf);
        SafeTensors.atomicWrite(png, buf.toByteArray());
    }
}
