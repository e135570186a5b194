package org.jprune.yolo.loss;

/**
 * Training hyperparameters, named and defaulted as Ultralytics' hyp.scratch-low.yaml. {@link #scaled}
 * applies train.py's scaling: box x 3/nl, cls x nc/80 x 3/nl, obj x (imgsz/640)^2 x 3/nl.
 */
public record Hyp(double lr0, double lrf, double momentum, double weightDecay, double warmupEpochs, double warmupMomentum,
                  double warmupBiasLr, double box, double cls, double obj, double anchorT, double labelSmoothing) {
    public static final Hyp SCRATCH_LOW = new Hyp(0.01, 0.01, 0.937, 0.0005, 3.0, 0.8, 0.1, 0.05, 0.5, 1.0, 4.0, 0.0);

    /** This Hyp with overrides "name=value" (names as in hyp.scratch-low.yaml: lr0, lrf, momentum, weight_decay,
     * warmup_epochs, warmup_momentum, warmup_bias_lr, box, cls, obj, anchor_t, label_smoothing). */
    public Hyp with(java.util.List<String> overrides) {
        java.util.Map<String, Double> v = new java.util.LinkedHashMap<>();
        v.put("lr0", lr0); v.put("lrf", lrf); v.put("momentum", momentum); v.put("weight_decay", weightDecay);
        v.put("warmup_epochs", warmupEpochs); v.put("warmup_momentum", warmupMomentum); v.put("warmup_bias_lr", warmupBiasLr);
        v.put("box", box); v.put("cls", cls); v.put("obj", obj); v.put("anchor_t", anchorT); v.put("label_smoothing", labelSmoothing);
        for (String o : overrides) {
            int eq = o.indexOf('=');
            if (eq < 0 || !v.containsKey(o.substring(0, eq).strip()))
                throw new IllegalArgumentException("--hyp expects name=value with name one of " + v.keySet() + ", got '" + o + "'");
            try {
                v.put(o.substring(0, eq).strip(), Double.parseDouble(o.substring(eq + 1).strip()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--hyp " + o + ": not a number");
            }
        }
        return new Hyp(v.get("lr0"), v.get("lrf"), v.get("momentum"), v.get("weight_decay"), v.get("warmup_epochs"), v.get("warmup_momentum"),
                v.get("warmup_bias_lr"), v.get("box"), v.get("cls"), v.get("obj"), v.get("anchor_t"), v.get("label_smoothing"));
    }

    public Hyp scaled(int nl, int nc, int imgsz) {
        double k = 3.0 / nl;
        return new Hyp(lr0, lrf, momentum, weightDecay, warmupEpochs, warmupMomentum, warmupBiasLr, box * k, cls * nc / 80.0 * k,
                obj * Math.pow(imgsz / 640.0, 2) * k, anchorT, labelSmoothing);
    }
}
