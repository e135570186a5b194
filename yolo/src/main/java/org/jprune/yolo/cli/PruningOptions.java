package org.jprune.yolo.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.jprune.engine.prune.Importance;
import org.jprune.engine.prune.Schedule;
import org.jprune.yolo.train.PruneRun;
import picocli.CommandLine.Option;

/** The pruning options study and prune share. */
final class PruningOptions {
    @Option(names = "--target", defaultValue = "params", description = "What a level is a fraction of: params, channels (prunable channels) "
            + "or flops, of the original network. Default: ${DEFAULT-VALUE}.")
    String target;
    @Option(names = "--method", defaultValue = "magnitude", description = "magnitude: prune the channels of smallest L2 norm, then fine-tune. "
            + "group-reg: first train --reg-epochs with group regularization (an importance-adaptive group lasso over each channel's "
            + "whole group: producing conv rows, BN, consuming conv columns), then prune the groups of smallest norm and fine-tune. "
            + "slimming: train --reg-epochs with L1 on the batch-norm scales, then prune the smallest |gamma|. unstructured / gmp: prune single "
            + "conv weights by magnitude (stem and head kept), one shot or gradually (levels: the pruned fraction of those weights). "
            + "Default: ${DEFAULT-VALUE}.")
    String method;
    @Option(names = "--gradual", description = "unstructured: gradual magnitude pruning (as --method gmp).")
    boolean gradualFlag;
    @Option(names = "--finetune", defaultValue = "compact", description = "compact: fine-tune the compacted network (every op shrinks); "
            + "masked: fine-tune the full-size network with channel-sparse convolutions over its alive channels. Default: ${DEFAULT-VALUE}.")
    String finetuneMode;
    @Option(names = "--uniform", description = "Prune every layer by the same fraction instead of ranking globally.")
    boolean uniform;
    @Option(names = "--reg", defaultValue = "5e-4", description = "group-reg / slimming: regularization strength lambda. Default: ${DEFAULT-VALUE}.")
    double reg;
    @Option(names = "--reg-alpha", defaultValue = "4", description = "group-reg: within a layer the weakest group is pushed this many "
            + "times harder than the strongest (1: plain group lasso). Default: ${DEFAULT-VALUE}.")
    double regAlpha;
    @Option(names = "--reg-epochs", defaultValue = "1", description = "group-reg / slimming: regularized epochs before each pruning step. Default: ${DEFAULT-VALUE}.")
    int regEpochs;
    @Option(names = "--finetune-hyp", split = ",", description = "Overrides of the hyperparameters for the fine-tuning and regularized "
            + "epochs only, on top of --hyp, e.g. --finetune-hyp lr0=0.001. (Fine-tuning never warms the biases down from warmup_bias_lr: "
            + "they start at lr0.)")
    List<String> finetuneHyp = new ArrayList<>();
    @Option(names = "--distill", defaultValue = "0", description = "Knowledge distillation while fine-tuning: the unpruned starting model "
            + "is the teacher and the pruned one's outputs are pulled towards its outputs with this weight per output cell (1: as strong as "
            + "the objectness loss of the stride-8 level); 0: none. Default: ${DEFAULT-VALUE}.")
    double distill;

    Schedule.Target target() { return Schedule.Target.parse(target); }

    PruneRun.Finetune finetune() { return PruneRun.Finetune.parse(finetuneMode); }

    PruneRun.Tuning tuning() { return new PruneRun.Tuning(finetuneHyp, distill); }

    /** The method with coupled scores summed and layers kept at multiples of 8 (the study's). */
    PruneRun.Strategy strategy() { return strategy(Importance.Reduce.SUM, 8, 1.0, Set.of()); }

    PruneRun.Strategy strategy(Importance.Reduce reduce, int roundTo, double maxLayerRatio, Set<String> ignored) {
        return PruneRun.Strategy.named(method, !uniform, reg, regAlpha, regEpochs).withRanking(reduce, roundTo, maxLayerRatio, ignored).withGradual(gradualFlag);
    }
}
