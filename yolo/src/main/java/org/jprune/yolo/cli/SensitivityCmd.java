package org.jprune.yolo.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jprune.yolo.train.Sensitivity;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "sensitivity", mixinStandardHelpOptions = true, description = "Sensitivity analysis: prune each prunable layer alone at each "
        + "ratio, evaluate mAP50 on part of the validation split without training, and write OUT/sensitivity.csv, .md, a heat map "
        + "OUT/sensitivity.png and OUT/layer-ratios.json (per layer, the largest ratio whose loss stays within --max-drop) for `prune --layer-ratios`.")
final class SensitivityCmd implements Callable<Integer> {
    @Mixin WeightsOption weights;
    @Option(names = "--data", required = true, description = "Data YAML.")
    Path data;
    @Option(names = "--fraction", defaultValue = "0.5", description = "Fraction of the validation split evaluated (spread over it). Default: ${DEFAULT-VALUE}.")
    double fraction;
    @Option(names = "--ratios", defaultValue = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", split = ",", description = "Ratios of a layer's channels "
            + "to remove. Default: ${DEFAULT-VALUE}.")
    double[] ratios;
    @Option(names = "--max-drop", defaultValue = "0.02", description = "mAP50 loss allowed per layer for layer-ratios.json. Default: ${DEFAULT-VALUE}.")
    double maxDrop;
    @Option(names = "--round-to", defaultValue = "8", description = "A layer keeps a multiple of this many channels. Default: ${DEFAULT-VALUE}.")
    int roundTo;
    @Option(names = "--img", description = "Input size (default: the checkpoint's).")
    Integer img;
    @Option(names = "--batch", defaultValue = "16", description = "Batch size. Default: ${DEFAULT-VALUE}.")
    int batch;
    @Option(names = "--workers", defaultValue = "2", description = "Image decoding threads. Default: ${DEFAULT-VALUE}.")
    int workers;
    @Option(names = {"-o", "--out"}, defaultValue = "runs/sensitivity", description = "Output directory. Default: ${DEFAULT-VALUE}.")
    Path out;

    @Override
    public Integer call() throws Exception {
        int size = img != null ? img : weights.read().imageSize();
        if (!(maxDrop >= 0 && maxDrop < 1)) throw new IllegalArgumentException("--max-drop must be in [0, 1), got " + maxDrop);
        Sensitivity.Result r = new Sensitivity(new Sensitivity.Options(weights.weights, data, size, batch, fraction, ratios, roundTo, out, workers), System.out).run();
        Sensitivity.writeLayerRatios(out.resolve("layer-ratios.json"), Sensitivity.layerRatios(r, maxDrop));
        System.out.printf(Locale.ROOT, "baseline mAP50 %.3f on %.0f%% of the validation split; %d layers x %d ratios, %d evaluations, %.0f s; "
                + "wrote %s/sensitivity.{csv,md,png} and layer-ratios.json (max drop %.3f per layer)%n", r.baseline(), fraction * 100, r.layers().size(),
                ratios.length, r.evaluations(), r.seconds(), out, maxDrop);
        return 0;
    }
}
