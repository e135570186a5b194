package org.jprune.yolo.loss;

/**
 * Training hyperparameters, named and defaulted as Ultralytics' hyp.scratch-low.yaml. {@link #scaled}
 * applies train.py's scaling: box x 3/nl, cls x nc/80 x 3/nl, obj x (imgsz/640)^2 x 3/nl.
 */
public record Hyp(double lr0, double lrf, double momentum, double weightDecay, double warmupEpochs, double warmupMomentum,
                  double warmupBiasLr, double box, double cls, double obj, double anchorT, double labelSmoothing) {
    public static final Hyp SCRATCH_LOW = new Hyp(0.01, 0.01, 0.937, 0.0005, 3.0, 0.8, 0.1, 0.05, 0.5, 1.0, 4.0, 0.0);

    public Hyp scaled(int nl, int nc, int imgsz) {
        double k = 3.0 / nl;
        return new Hyp(lr0, lrf, momentum, weightDecay, warmupEpochs, warmupMomentum, warmupBiasLr, box * k, cls * nc / 80.0 * k,
                obj * Math.pow(imgsz / 640.0, 2) * k, anchorT, labelSmoothing);
    }
}
