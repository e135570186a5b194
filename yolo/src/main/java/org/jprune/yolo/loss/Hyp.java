package org.jprune.yolo.loss;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Training hyperparameters, named and defaulted as Ultralytics' hyp.scratch-low.yaml (optimizer, loss
 * and augmentation; degrees, shear, perspective, flipud, mixup and copy_paste are 0 there and not
 * supported). {@link #scaled} applies train.py's scaling: box x 3/nl, cls x nc/80 x 3/nl, obj x
 * (imgsz/640)^2 x 3/nl.
 */
public record Hyp(double lr0, double lrf, double momentum, double weightDecay, double warmupEpochs, double warmupMomentum,
                  double warmupBiasLr, double box, double cls, double obj, double anchorT, double labelSmoothing,
                  double hsvH, double hsvS, double hsvV, double translate, double scale, double fliplr, double mosaic) {
    public static final Hyp SCRATCH_LOW = new Hyp(0.01, 0.01, 0.937, 0.0005, 3.0, 0.8, 0.1, 0.05, 0.5, 1.0, 4.0, 0.0,
            0.015, 0.7, 0.4, 0.1, 0.5, 0.5, 1.0);

    /** The names as in hyp.scratch-low.yaml, in the record's order. */
    public static final List<String> NAMES = List.of("lr0", "lrf", "momentum", "weight_decay", "warmup_epochs", "warmup_momentum",
            "warmup_bias_lr", "box", "cls", "obj", "anchor_t", "label_smoothing", "hsv_h", "hsv_s", "hsv_v", "translate", "scale",
            "fliplr", "mosaic");

    public Hyp {
        double[] v = {lr0, lrf, momentum, weightDecay, warmupEpochs, warmupMomentum, warmupBiasLr, box, cls, obj, anchorT, labelSmoothing,
            hsvH, hsvS, hsvV, translate, scale, fliplr, mosaic};
        for (int i = 0; i < v.length; i++)
            if (!(v[i] >= 0) || Double.isInfinite(v[i])) throw new IllegalArgumentException("hyperparameter " + NAMES.get(i) + " must be a finite number >= 0, got " + v[i]);
        if (momentum >= 1 || warmupMomentum >= 1) throw new IllegalArgumentException("momentum must be < 1");
        if (anchorT <= 1) throw new IllegalArgumentException("anchor_t must be > 1, got " + anchorT);
        if (fliplr > 1 || mosaic > 1 || labelSmoothing > 1) throw new IllegalArgumentException("fliplr, mosaic and label_smoothing are probabilities/fractions <= 1");
        if (scale >= 1) throw new IllegalArgumentException("scale must be < 1 (gain 1 +- scale), got " + scale);
    }

    /** name -> value, in hyp.scratch-low.yaml's names. */
    public Map<String, Double> asMap() {
        double[] v = {lr0, lrf, momentum, weightDecay, warmupEpochs, warmupMomentum, warmupBiasLr, box, cls, obj, anchorT, labelSmoothing,
            hsvH, hsvS, hsvV, translate, scale, fliplr, mosaic};
        Map<String, Double> m = new LinkedHashMap<>();
        for (int i = 0; i < v.length; i++) m.put(NAMES.get(i), v[i]);
        return m;
    }

    static Hyp of(Map<String, Double> m) {
        double[] v = NAMES.stream().mapToDouble(m::get).toArray();
        return new Hyp(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18]);
    }

    /** This Hyp with overrides "name=value" (names as in hyp.scratch-low.yaml, see {@link #NAMES}). */
    public Hyp with(List<String> overrides) {
        Map<String, Double> v = asMap();
        for (String o : overrides) {
            int eq = o.indexOf('=');
            String name = eq < 0 ? o.strip() : o.substring(0, eq).strip().toLowerCase(Locale.ROOT);
            if (eq < 0 || !v.containsKey(name))
                throw new IllegalArgumentException("--hyp expects name=value with name one of " + v.keySet() + ", got '" + o + "'");
            try {
                v.put(name, Double.parseDouble(o.substring(eq + 1).strip()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--hyp " + o + ": not a number");
            }
        }
        return of(v);
    }

    /** "name=value,..." of the entries that differ from hyp.scratch-low (for logs and reports). */
    public String diff() {
        StringBuilder sb = new StringBuilder();
        Map<String, Double> base = SCRATCH_LOW.asMap();
        asMap().forEach((k, val) -> {
            if (!val.equals(base.get(k))) sb.append(sb.isEmpty() ? "" : ",").append(k).append('=').append(val);
        });
        return sb.toString();
    }

    public Hyp scaled(int nl, int nc, int imgsz) {
        double k = 3.0 / nl;
        Map<String, Double> v = asMap();
        v.put("box", box * k);
        v.put("cls", cls * nc / 80.0 * k);
        v.put("obj", obj * Math.pow(imgsz / 640.0, 2) * k);
        return of(v);
    }
}
