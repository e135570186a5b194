package org.jprune.yolo.cli;

import java.util.concurrent.Callable;
import org.jprune.bindings.NativeLibrary;
import org.jprune.engine.BackendUnavailableException;
import org.jprune.engine.Device;
import org.jprune.engine.DeviceKind;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The jprune command line. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or input. */
@Command(name = "jprune", mixinStandardHelpOptions = true, version = "jprune 0.1.0",
        description = "Train and prune YOLO detectors on native kernels.",
        subcommands = {Main.Info.class, Main.DataCmd.class, Main.ModelCmd.class, Main.Train.class, Main.Val.class, Main.Eval.class, Main.Detect.class,
            Main.StudyCmd.class, Main.PruneCmd.class, Main.SensitivityCmd.class, Main.Export.class, ServeCmd.Serve.class, ServeCmd.Load.class})
public final class Main implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() { spec.commandLine().usage(System.out); }

    public static void main(String[] args) { System.exit(execute(args)); }

    /** Runs the CLI and returns its exit code; bad input prints one line, not a stack trace. */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        // a usage error: one line naming the option and the value, and where the help is
        cl.setParameterExceptionHandler((ex, argv) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("jprune: " + ex.getMessage());
            cmd.getErr().println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for the options.");
            return 2;
        });
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            // a device this machine cannot run (--device cuda without a GPU) is the user's input too
            boolean input = e instanceof IllegalArgumentException || e instanceof java.io.IOException || e instanceof BackendUnavailableException;
            String m = e.getMessage();
            if (e instanceof java.nio.file.NoSuchFileException || e instanceof java.nio.file.AccessDeniedException
                    || e instanceof java.nio.file.FileAlreadyExistsException || e instanceof java.nio.file.NotDirectoryException)
                m = e.getMessage() + ": " + e.getClass().getSimpleName().replace("Exception", "").replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase(java.util.Locale.ROOT);
            else if (m == null || !input)
                m = (input ? "" : "internal error (please report it with the command): ") + e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
            cmd.getErr().println("jprune: " + m);
            return input ? 2 : 1;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            System.err.println("jprune: out of memory (" + e.getMessage() + "): give the JVM more with -Xmx, or use a smaller --batch or --img");
            return 1;
        }
    }

    /** The options every training command shares (train, study). */
    static final class TrainingOptions {
        @Option(names = {"-m", "--model"}, defaultValue = "yolov5n", description = "Built-in (yolov5n/s/m) or model YAML. Default: ${DEFAULT-VALUE}.")
        String model;
        @Option(names = "--epochs", defaultValue = "30", description = "Epochs (the study: of the baseline). Default: ${DEFAULT-VALUE}.")
        int epochs;
        @Option(names = "--batch", defaultValue = "16", description = "Batch size (gradients accumulate to --nbs). Default: ${DEFAULT-VALUE}.")
        int batch;
        @Option(names = "--nbs", defaultValue = "64", description = "Nominal batch: gradients accumulate to it and weight decay scales to it. Default: ${DEFAULT-VALUE}.")
        int nbs;
        @Option(names = "--img", defaultValue = "256", description = "Square input size, a multiple of 32. Default: ${DEFAULT-VALUE}.")
        int img;
        @Option(names = "--seed", defaultValue = "0", description = "Seed for weights and data order/augmentation. Default: ${DEFAULT-VALUE}.")
        long seed;
        @Option(names = "--workers", defaultValue = "2", description = "Image decoding threads. Default: ${DEFAULT-VALUE}.")
        int workers;
        @Option(names = "--hyp", split = ",", description = "Overrides of hyp.scratch-low for every training stage, e.g. --hyp lr0=0.02,cls=4.0 (names as in the YAML).")
        java.util.List<String> hyp = new java.util.ArrayList<>();
        @Option(names = "--anchors", defaultValue = "auto", description = "model: the model's anchors; auto: YOLOv5's autoanchor "
                + "(fit new ones by k-means + genetic search only if under 98%% of the training boxes can match an anchor); evolve: always fit, "
                + "keep them if they match the boxes better. Fitted anchors are stored in the checkpoint. Default: ${DEFAULT-VALUE}.")
        String anchors;
        @Option(names = "--optimizer", defaultValue = "SGD", description = "SGD (Nesterov) or AdamW (betas momentum, 0.999), as YOLOv5's --optimizer. Default: ${DEFAULT-VALUE}.")
        String optimizer;

        org.jprune.yolo.loss.Hyp hyperparameters() { return org.jprune.yolo.loss.Hyp.SCRATCH_LOW.with(hyp); }
    }

    /** The pruning options study and prune share. */
    static final class PruningOptions {
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
        java.util.List<String> finetuneHyp = new java.util.ArrayList<>();
        @Option(names = "--distill", defaultValue = "0", description = "Knowledge distillation while fine-tuning: the unpruned starting model "
                + "is the teacher and the pruned one's outputs are pulled towards its outputs with this weight per output cell (1: as strong as "
                + "the objectness loss of the stride-8 level); 0: none. Default: ${DEFAULT-VALUE}.")
        double distill;

        org.jprune.engine.prune.Schedule.Target target() { return org.jprune.engine.prune.Schedule.Target.parse(target); }
        org.jprune.yolo.train.PruneRun.Finetune finetune() { return org.jprune.yolo.train.PruneRun.Finetune.parse(finetuneMode); }
        boolean gradual() { return gradualFlag || method.strip().equalsIgnoreCase("gmp"); }
        org.jprune.yolo.train.PruneRun.Method methodKind() {
            return org.jprune.yolo.train.PruneRun.Method.parse(method.strip().equalsIgnoreCase("gmp") ? "unstructured" : method);
        }
    }

    @Command(name = "train", mixinStandardHelpOptions = true, description = "Train a detector (YOLOv5 recipe: SGD + Nesterov, warmup, cosine LR, EMA, "
            + "hyp.scratch-low); writes OUT/last.safetensors, OUT/best.safetensors and OUT/results.csv each epoch.")
    static final class Train implements Callable<Integer> {
        @CommandLine.Mixin TrainingOptions t;
        @Option(names = "--data", required = true, description = "Data YAML (YOLO txt layout), e.g. from `jprune data synth`.")
        java.nio.file.Path data;
        @Option(names = {"-o", "--out"}, defaultValue = "runs/train", description = "Output directory. Default: ${DEFAULT-VALUE}.")
        java.nio.file.Path out;
        @Option(names = "--linear-lr", description = "Linear instead of cosine LR decay.")
        boolean linear;
        @Option(names = "--resume", description = "Continue the run in --out from its last checkpoint, exactly.")
        boolean resume;
        @Option(names = {"-w", "--weights"}, description = "Start from this checkpoint's weights (fine-tuning), e.g. a compact model from "
                + "`jprune prune`: its architecture (pruned widths included), anchors and pruning plan are kept; -m is then taken from it.")
        java.nio.file.Path weights;

        @Override
        public Integer call() throws Exception {
            String model = t.model;
            if (weights != null) {
                if (!java.nio.file.Files.isRegularFile(weights)) throw new IllegalArgumentException("--weights " + weights + ": no such file");
                model = org.jprune.yolo.train.Checkpoint.read(weights).model();
            }
            new org.jprune.yolo.train.Trainer(new org.jprune.yolo.train.Trainer.Options(model, data, t.epochs, t.batch, t.img, t.seed, out,
                    t.workers, !linear, resume, t.hyperparameters(), -1, t.nbs, weights, null, t.optimizer, t.anchors), System.out).run();
            return 0;
        }
    }

    @Command(name = "val", mixinStandardHelpOptions = true, description = "Evaluate a training checkpoint (its EMA weights) on a dataset split: mAP50, mAP50-95 "
            + "(COCO, area all) and a per-class table.")
    static final class Val implements Callable<Integer> {
        @Option(names = {"-w", "--weights"}, required = true, description = "A checkpoint written by train (last.safetensors or best.safetensors).")
        java.nio.file.Path weights;
        @Option(names = "--data", required = true, description = "Data YAML.")
        java.nio.file.Path data;
        @Option(names = "--split", defaultValue = "val", description = "train or val. Default: ${DEFAULT-VALUE}.")
        String split;
        @Option(names = "--img", description = "Input size (default: the checkpoint's).")
        Integer img;
        @Option(names = "--batch", defaultValue = "16", description = "Batch size. Default: ${DEFAULT-VALUE}.")
        int batch;
        @CommandLine.Mixin DeviceOption device;

        @Override
        public Integer call() throws Exception {
            if (!split.equals("train") && !split.equals("val")) throw new IllegalArgumentException("--split must be train or val, got " + split);
            var ckpt = org.jprune.yolo.train.Checkpoint.read(weights);
            var dc = org.jprune.yolo.data.YoloDataset.readConfig(data);
            if (ckpt.classes() != dc.nc())
                throw new IllegalArgumentException(weights + " has " + ckpt.classes() + " classes, " + data + " has " + dc.nc());
            int size = img != null ? img : ckpt.imageSize();
            var ds = org.jprune.yolo.data.YoloDataset.load(dc, split, false);
            try (Device dev = device.open(); YoloModel m = ckpt.buildModel(dev);
                 var loader = new org.jprune.yolo.data.Loader(ds.samples(), batch, size, org.jprune.yolo.data.Loader.Augment.NONE, 0, 2)) {
                var r = org.jprune.yolo.train.Trainer.evaluate(m, loader, dc.nc());
                System.out.printf("%-12s %8s %8s %8s %9s%n", "class", "truths", "dets", "AP50", "AP50-95");
                System.out.printf("%-12s %8d %8d %8.3f %9.3f%n", "all", java.util.Arrays.stream(r.truths()).sum(),
                        java.util.Arrays.stream(r.detections()).sum(), r.map50(), r.map5095());
                for (int c = 0; c < dc.nc(); c++)
                    System.out.printf("%-12s %8d %8d %8.3f %9.3f%n", dc.names().get(c), r.truths()[c], r.detections()[c], r.ap50()[c], r.ap5095()[c]);
            }
            return 0;
        }
    }

    @Command(name = "eval", mixinStandardHelpOptions = true, description = "Evaluate detections from any detector against ground truth: COCO AP/AR (pycocotools' "
            + "12 numbers), Pascal VOC AP (2007 11-point and 2010+), a per-class table; writes OUT/eval.txt and OUT/PR_curve.png.")
    static final class Eval implements Callable<Integer> {
        @Option(names = "--data", description = "Ground truth from a data YAML (any format it supports), with --split.")
        java.nio.file.Path data;
        @Option(names = "--split", defaultValue = "val", description = "Split of --data. Default: ${DEFAULT-VALUE}.")
        String split;
        @Option(names = "--gt", description = "Ground truth file or folder: a COCO instances JSON, a folder of VOC XML files, or an images folder with YOLO labels.")
        java.nio.file.Path gt;
        @Option(names = "--gt-format", description = "yolo, voc or coco (with --gt). Default: from --gt (.json: coco, a folder of .xml: voc, else yolo).")
        String gtFormat;
        @Option(names = "--names", split = ",", description = "Class names, in class-index order (needed for yolo and voc --gt).")
        java.util.List<String> names;
        @Option(names = "--dets", required = true, description = "Detections: a folder of <image stem>.txt files with 'class conf x1 y1 x2 y2' lines (pixels; what `jprune detect` writes) or a COCO results JSON.")
        java.nio.file.Path dets;
        @Option(names = {"-o", "--out"}, defaultValue = "runs/eval", description = "Output directory. Default: ${DEFAULT-VALUE}.")
        java.nio.file.Path out;

        @Override
        public Integer call() throws Exception {
            var problems = new java.util.ArrayList<org.jprune.yolo.data.YoloDataset.Problem>();
            org.jprune.yolo.data.Annotations.Set set;
            boolean vocPixels;
            if (data != null) {
                var cfg = org.jprune.yolo.data.YoloDataset.readConfig(data);
                set = org.jprune.yolo.data.YoloDataset.annotationSet(cfg, split, problems);
                vocPixels = cfg.format().equals("voc");
            } else if (gt != null) {
                String f = gtFormat != null ? gtFormat : gt.toString().endsWith(".json") ? "coco"
                        : java.nio.file.Files.isDirectory(gt) && hasXml(gt) ? "voc" : "yolo";
                vocPixels = f.equals("voc");
                switch (f) {
                    case "coco" -> set = org.jprune.yolo.data.Annotations.readCoco(gt, gt.toAbsolutePath().getParent(), problems);
                    case "voc", "yolo" -> {
                        if (names == null || names.isEmpty()) throw new IllegalArgumentException("--gt-format " + f + " needs --names");
                        java.util.List<java.nio.file.Path> files;
                        if (f.equals("voc")) {
                            try (var s = java.nio.file.Files.walk(gt)) { files = s.filter(p -> p.toString().endsWith(".xml")).sorted().toList(); }
                        } else {
                            files = org.jprune.yolo.data.YoloDataset.listImages(gt);
                        }
                        set = new org.jprune.yolo.data.Annotations.Set(f.equals("voc") ? org.jprune.yolo.data.Annotations.readVoc(files, names, problems)
                                : org.jprune.yolo.data.Annotations.readYolo(files, names.size(), problems), names);
                    }
                    default -> throw new IllegalArgumentException("--gt-format must be yolo, voc or coco, got " + f);
                }
            } else {
                throw new IllegalArgumentException("give the ground truth with --data or --gt");
            }
            var d = org.jprune.yolo.eval.DetectionFiles.read(dets, set, problems);
            for (var p : problems) System.err.println("warning: " + p);
            var report = org.jprune.yolo.eval.EvalReport.evaluate(set, d, vocPixels);
            System.out.print(report.text());
            report.write(out);
            System.out.println("wrote " + out.resolve("eval.txt") + " and " + out.resolve("PR_curve.png"));
            return 0;
        }

        static boolean hasXml(java.nio.file.Path dir) throws java.io.IOException {
            try (var s = java.nio.file.Files.walk(dir)) { return s.anyMatch(p -> p.toString().endsWith(".xml")); }
        }
    }

    @Command(name = "detect", mixinStandardHelpOptions = true, description = "Run a trained detector on images: writes OUT/<name> with the boxes drawn and "
            + "OUT/labels/<stem>.txt with 'class conf x1 y1 x2 y2' lines (pixels of the original image), which `jprune eval` reads; images in "
            + "sub-folders of --source keep their relative path (OUT/labels/sub/<stem>.txt).")
    static final class Detect implements Callable<Integer> {
        @Option(names = {"-w", "--weights"}, required = true, description = "A checkpoint written by train.")
        java.nio.file.Path weights;
        @Option(names = "--source", required = true, description = "An image or a folder of images.")
        java.nio.file.Path source;
        @Option(names = "--conf", defaultValue = "0.25", description = "Confidence threshold. Default: ${DEFAULT-VALUE}.")
        float conf;
        @Option(names = "--iou", defaultValue = "0.45", description = "NMS IoU threshold. Default: ${DEFAULT-VALUE}.")
        float iou;
        @Option(names = "--batch", defaultValue = "8", description = "Images per forward pass. Default: ${DEFAULT-VALUE}.")
        int batch;
        @Option(names = {"-o", "--out"}, defaultValue = "runs/detect", description = "Output directory. Default: ${DEFAULT-VALUE}.")
        java.nio.file.Path out;
        @CommandLine.Mixin DeviceOption device;

        @Override
        public Integer call() throws Exception {
            if (!(conf >= 0 && conf <= 1) || !(iou > 0 && iou <= 1)) throw new IllegalArgumentException("--conf must be in [0, 1] and --iou in (0, 1]");
            if (batch <= 0) throw new IllegalArgumentException("--batch must be > 0");
            java.util.List<java.nio.file.Path> images;
            java.nio.file.Path root;
            if (java.nio.file.Files.isDirectory(source)) {
                images = org.jprune.yolo.data.YoloDataset.listImages(source);
                root = source;
                if (images.isEmpty()) throw new IllegalArgumentException("--source " + source + ": no images in the folder (png, jpg, jpeg, bmp, gif)");
            } else if (java.nio.file.Files.isRegularFile(source)) {
                images = java.util.List.of(source);
                root = source.toAbsolutePath().getParent();
            } else {
                throw new java.io.IOException(source + ": no such image or folder");
            }
            // outputs keep each image's path relative to --source (sub/a.png -> labels/sub/a.txt); two
            // images that would write the same files (a.png and a.jpg) are refused before anything runs
            java.util.Map<String, java.nio.file.Path> byStem = new java.util.HashMap<>();
            java.util.Map<java.nio.file.Path, String> outName = new java.util.HashMap<>();
            for (var p : images) {
                java.nio.file.Path rel = root.toAbsolutePath().relativize(p.toAbsolutePath());
                String name = rel.getFileName().toString();
                String stem = (rel.getParent() == null ? "" : rel.getParent().toString() + "/") + (name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : name);
                var other = byStem.putIfAbsent(stem, p);
                outName.put(p, stem);
                if (other != null)
                    throw new IllegalArgumentException("--source: " + other + " and " + p + " would both write " + out.resolve("labels").resolve(stem + ".txt")
                            + " (same name, another extension); rename one");
            }
            java.nio.file.Files.createDirectories(out.resolve("labels"));
            var settings = new org.jprune.yolo.eval.Postprocess.Settings(conf, iou, false, 1000);
            int boxes = 0;
            long t0 = System.nanoTime();
            try (Device dev = device.open(); var det = org.jprune.yolo.infer.Detector.load(weights, dev)) {
                for (int i = 0; i < images.size(); i += batch) {
                    var paths = images.subList(i, Math.min(images.size(), i + batch));
                    var ims = new java.util.ArrayList<java.awt.image.BufferedImage>();
                    for (var p : paths) ims.add(org.jprune.yolo.data.Images.read(p));
                    var res = det.detect(ims, settings);
                    for (int k = 0; k < paths.size(); k++) {
                        var list = res.get(k);
                        boxes += list.size();
                        var d = new java.util.ArrayList<org.jprune.yolo.eval.Detection>();
                        for (var b : list) d.add(new org.jprune.yolo.eval.Detection(b.x1(), b.y1(), b.x2(), b.y2(), b.confidence(), b.classId()));
                        String stem = outName.get(paths.get(k));
                        java.nio.file.Path txt = out.resolve("labels").resolve(stem + ".txt"), png = out.resolve(stem + ".png");
                        java.nio.file.Files.createDirectories(txt.getParent());
                        java.nio.file.Files.createDirectories(png.getParent());
                        org.jprune.yolo.eval.DetectionFiles.writeTxt(txt, d);
                        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
                        javax.imageio.ImageIO.write(draw(ims.get(k), list), "png", buf);
                        org.jprune.engine.io.SafeTensors.atomicWrite(png, buf.toByteArray());
                    }
                }
            }
            System.out.printf(java.util.Locale.ROOT, "%d images, %d boxes, %.1f ms per image; wrote %s%n", images.size(), boxes,
                    (System.nanoTime() - t0) / 1e6 / Math.max(1, images.size()), out);
            return 0;
        }

        static java.awt.image.BufferedImage draw(java.awt.image.BufferedImage im, java.util.List<org.jprune.yolo.infer.Detector.Box> boxes) {
            var copy = new java.awt.image.BufferedImage(im.getWidth(), im.getHeight(), java.awt.image.BufferedImage.TYPE_INT_RGB);
            var g = copy.createGraphics();
            g.drawImage(im, 0, 0, null);
            g.setFont(new java.awt.Font(java.awt.Font.SANS_SERIF, java.awt.Font.BOLD, Math.max(9, im.getHeight() / 40)));
            for (var b : boxes) {
                g.setColor(java.awt.Color.getHSBColor((b.classId() * 0.137f) % 1f, 0.9f, 1f));
                g.setStroke(new java.awt.BasicStroke(Math.max(1f, im.getHeight() / 300f)));
                g.drawRect(Math.round(b.x1()), Math.round(b.y1()), Math.round(b.x2() - b.x1()), Math.round(b.y2() - b.y1()));
                g.drawString(String.format(java.util.Locale.ROOT, "%s %.2f", b.className(), b.confidence()), Math.round(b.x1()), Math.max(10, Math.round(b.y1()) - 2));
            }
            g.dispose();
            return copy;
        }
    }

    @Command(name = "study", mixinStandardHelpOptions = true, description = "Pruning study: train a baseline (or take --baseline), prune iteratively to each level "
            + "(structured magnitude pruning, or group-regularization pruning with --method group-reg; channel groups ranked globally), "
            + "fine-tune after each step, and print the table (level, mAP50, mAP50-95, parameters, GFLOPs, latency, epochs). "
            + "--preset seed runs the seed study's experiments instead (see the README).")
    static final class StudyCmd implements Callable<Integer> {
        @CommandLine.Spec CommandLine.Model.CommandSpec spec;
        @CommandLine.Mixin TrainingOptions t;
        @Option(names = "--data", description = "Data YAML (YOLO txt layout), e.g. from `jprune data synth`; required except with --preset seed.")
        java.nio.file.Path data;
        @Option(names = "--finetune-epochs", defaultValue = "5", description = "Fine-tuning epochs after each pruning step. Default: ${DEFAULT-VALUE}.")
        int finetune;
        @Option(names = "--levels", defaultValue = "0.5,0.7,0.9", split = ",",
                description = "Cumulative fractions of the original network (of --target) to remove, increasing. Default: ${DEFAULT-VALUE}.")
        double[] levels;
        @CommandLine.Mixin PruningOptions p;
        @Option(names = {"-o", "--out"}, description = "Output directory. Default: runs/study (--preset seed: runs/study-seed).")
        java.nio.file.Path out;
        @Option(names = "--baseline", description = "Start from this trained checkpoint (e.g. an earlier study's baseline/last.safetensors) "
                + "instead of training a baseline; --epochs is then unused. With --preset seed: a YOLOv5n trained on --data.")
        java.nio.file.Path baseline;
        @Option(names = "--preset", description = "seed: the seed study's experiments in one run: one-shot and 6-step magnitude pruning, "
                + "group regularization, BN slimming, automatic mode, and Tiny YOLO on the face benchmark; writes OUT/study-seed.{md,csv,png}. "
                + "It makes its own datasets and baselines (or takes --data with --baseline) and sets every other option itself.")
        String preset;
        @Option(names = "--quick", description = "--preset seed: the quick form (smaller datasets, a 17-minute budget).")
        boolean quick;
        @Option(names = "--budget", description = "--preset seed: minutes for the whole run; every fine-tuning epoch count is scaled by one factor to fit "
                + "(estimated from the baselines' epoch times). Default: none (the seed's epochs; 17 with --quick).")
        Double budget;
        @Option(names = "--sections", split = ",", description = "--preset seed: run only these of a (one-shot), b (magnitude, 6 steps), c (group-reg), "
                + "d (slimming), e (automatic), f (Tiny YOLO on faces). Default: all.")
        java.util.List<String> sections = new java.util.ArrayList<>();

        private static final java.util.Set<String> PRESET_OPTIONS = java.util.Set.of("--preset", "--quick", "--budget", "--sections", "--out", "--data",
                "--baseline", "--seed", "--workers");

        @Override
        public Integer call() throws Exception {
            if (baseline != null && !java.nio.file.Files.isRegularFile(baseline)) throw new IllegalArgumentException("--baseline " + baseline + ": no such file");
            if (preset != null) {
                if (!preset.strip().equalsIgnoreCase("seed")) throw new IllegalArgumentException("--preset must be seed, got '" + preset + "'");
                for (var opt : spec.commandLine().getParseResult().matchedOptions())
                    if (!PRESET_OPTIONS.contains(opt.longestName()))
                        throw new IllegalArgumentException("--preset seed sets " + opt.longestName() + " itself; drop it (it takes only " + new java.util.TreeSet<>(PRESET_OPTIONS) + ")");
                if (data != null && !java.nio.file.Files.isRegularFile(data)) throw new IllegalArgumentException("--data " + data + ": no such file");
                new org.jprune.yolo.train.SeedStudy(new org.jprune.yolo.train.SeedStudy.Options(out == null ? java.nio.file.Path.of("runs/study-seed") : out, quick,
                        budget == null ? Double.NaN : budget, data, baseline, t.seed, t.workers, java.util.Set.copyOf(sections)), System.out).run();
                return 0;
            }
            if (quick || budget != null || !sections.isEmpty()) throw new IllegalArgumentException("--quick, --budget and --sections go with --preset seed");
            if (data == null) throw new CommandLine.ParameterException(spec.commandLine(), "Missing required option: '--data=<data>'");
            new org.jprune.yolo.train.Study(new org.jprune.yolo.train.Study.Options(t.model, data, t.img, t.batch, t.nbs, t.epochs, finetune,
                    levels, !p.uniform, t.seed, out == null ? java.nio.file.Path.of("runs/study") : out, t.workers, t.hyperparameters(), t.optimizer, t.anchors,
                    p.methodKind() == org.jprune.yolo.train.PruneRun.Method.UNSTRUCTURED && p.gradual() ? "gmp" : p.method, p.reg, p.regAlpha, p.regEpochs,
                    baseline, p.target(), p.finetune(), new org.jprune.yolo.train.PruneRun.Tuning(p.finetuneHyp, p.distill)), System.out).run();
            return 0;
        }
    }

    @Command(name = "prune", mixinStandardHelpOptions = true, description = "Prune a trained checkpoint in steps (to each of --levels, fine-tuning after each) and write "
            + "the compact model (pruned channels removed: smaller file, faster) after every step: OUT/step-N/model.safetensors, which val, "
            + "detect, the Detector and train --weights load like any checkpoint.")
    static final class PruneCmd implements Callable<Integer> {
        @Option(names = {"-w", "--weights"}, required = true, description = "The checkpoint to prune (from train, or an earlier prune's model).")
        java.nio.file.Path weights;
        @Option(names = "--data", required = true, description = "Data YAML for fine-tuning and validation.")
        java.nio.file.Path data;
        @Option(names = "--levels", defaultValue = "0.5", split = ",", description = "Cumulative fractions of the original network (of --target) "
                + "to remove, one pruning step each, increasing. Default: ${DEFAULT-VALUE}.")
        double[] levels;
        @CommandLine.Mixin PruningOptions p;
        @Option(names = "--finetune-epochs", defaultValue = "2", split = ",", description = "Fine-tuning epochs after each step: one number "
                + "for every step, or one per step. 0: none. Default: ${DEFAULT-VALUE}.")
        int[] epochs;
        @Option(names = "--importance-reduce", defaultValue = "sum", description = "How coupled layers' scores combine (magnitude, slimming): sum, mean or max. Default: ${DEFAULT-VALUE}.")
        String reduce;
        @Option(names = "--round-to", defaultValue = "8", description = "Each layer keeps a multiple of this many channels (at least this many). Default: ${DEFAULT-VALUE}.")
        int roundTo;
        @Option(names = "--max-layer-ratio", defaultValue = "1.0", description = "At most this fraction of a layer's channels is removed. Default: ${DEFAULT-VALUE}.")
        double maxLayerRatio;
        @Option(names = "--ignore", split = ",", description = "Conv layers (node names, e.g. model.0.conv) that keep every channel.")
        java.util.List<String> ignored = new java.util.ArrayList<>();
        @Option(names = "--img", description = "Input size (default: the checkpoint's).")
        Integer img;
        @Option(names = "--batch", defaultValue = "16", description = "Batch size. Default: ${DEFAULT-VALUE}.")
        int batch;
        @Option(names = "--nbs", defaultValue = "64", description = "Nominal batch. Default: ${DEFAULT-VALUE}.")
        int nbs;
        @Option(names = "--seed", defaultValue = "0", description = "Seed. Default: ${DEFAULT-VALUE}.")
        long seed;
        @Option(names = "--workers", defaultValue = "2", description = "Image decoding threads. Default: ${DEFAULT-VALUE}.")
        int workers;
        @Option(names = "--optimizer", defaultValue = "SGD", description = "SGD or AdamW. Default: ${DEFAULT-VALUE}.")
        String optimizer;
        @Option(names = "--hyp", split = ",", description = "Overrides of hyp.scratch-low, e.g. --hyp lr0=0.003.")
        java.util.List<String> hyp = new java.util.ArrayList<>();
        @Option(names = {"-o", "--out"}, defaultValue = "runs/prune", description = "Output directory. Default: ${DEFAULT-VALUE}.")
        java.nio.file.Path out;
        @Option(names = "--auto", description = "Automatic mode: prune towards the one --levels value in steps (--first-step, halved after each "
                + "step that does not recover), fine-tuning --finetune-epochs after each step once per --lrs rate and keeping the best, as long as mAP50 "
                + "stays within --max-drop of the starting model (or above --min-map50); writes OUT/auto.md with the path taken.")
        boolean auto;
        @Option(names = "--max-drop", defaultValue = "0.02", description = "--auto: allowed mAP50 drop. Default: ${DEFAULT-VALUE}.")
        double maxDrop;
        @Option(names = "--min-map50", description = "--auto: an absolute mAP50 floor instead of --max-drop.")
        Double minMap50;
        @Option(names = "--lrs", defaultValue = "0.003,0.001", split = ",", description = "--auto: lr0 values tried after each step. Default: ${DEFAULT-VALUE}.")
        double[] lrs;
        @Option(names = "--first-step", defaultValue = "0.2", description = "--auto: the first step (fraction of the original). Default: ${DEFAULT-VALUE}.")
        double firstStep;
        @Option(names = "--min-step", defaultValue = "0.025", description = "--auto: stop when a halved step is smaller. Default: ${DEFAULT-VALUE}.")
        double minStep;
        @Option(names = "--layer-ratios", description = "A JSON map from conv layer to the fraction of its channels to remove (what `jprune sensitivity` "
                + "writes as layer-ratios.json): one step that prunes each layer by its own ratio instead of --levels.")
        java.nio.file.Path layerRatios;

        @Override
        public Integer call() throws Exception {
            if (!java.nio.file.Files.isRegularFile(weights)) throw new IllegalArgumentException("--weights " + weights + ": no such file");
            var ckpt = org.jprune.yolo.train.Checkpoint.read(weights);
            int size = img != null ? img : ckpt.imageSize();
            var schedule = org.jprune.engine.prune.Schedule.of(p.target(), levels, epochs);
            var strategy = new org.jprune.yolo.train.PruneRun.Strategy(p.methodKind(), org.jprune.engine.prune.Importance.Reduce.parse(reduce), !p.uniform, roundTo,
                    maxLayerRatio, java.util.Set.copyOf(ignored), p.reg, p.regAlpha, p.regEpochs, p.gradual());
            var train = new org.jprune.yolo.train.PruneRun.Tuning(p.finetuneHyp, p.distill).apply(data, size, batch, nbs, seed, workers,
                    org.jprune.yolo.loss.Hyp.SCRATCH_LOW.with(hyp), optimizer);
            if (auto) {
                if (levels.length != 1) throw new IllegalArgumentException("--auto takes one --levels value: the target, got " + levels.length);
                var r = new org.jprune.yolo.train.AutoPrune(new org.jprune.yolo.train.AutoPrune.Options(weights, out, p.target(), levels[0], Math.min(firstStep, levels[0]), Math.min(minStep, Math.min(firstStep,
                        levels[0])), maxDrop, minMap50 == null ? Double.NaN : minMap50, lrs, epochs[0], strategy, p.finetune(), train), System.out).run();
                System.out.printf(java.util.Locale.ROOT, "reached %.1f%% of %s with %d back-off(s); model %s%n", r.reached() * 100, p.target().label(), r.backoffs(),
                        r.model());
                return 0;
            }
            java.util.Map<String, Double> ratios = null;
            if (layerRatios != null) {
                ratios = org.jprune.yolo.train.Sensitivity.readLayerRatios(layerRatios);
                if (levels.length != 1) throw new IllegalArgumentException("--layer-ratios makes one step: give one --levels value (it is not used) or none");
            }
            var steps = new org.jprune.yolo.train.PruneRun(new org.jprune.yolo.train.PruneRun.Options(weights, out, schedule, strategy, p.finetune(), train, ratios),
                    System.out).run();
            System.out.printf("%n| Step | Channels pruned | Params removed | FLOPs removed | mAP50 | mAP50-95 | Parameters | GFLOPs | Model |%n|---|---|---|---|---|---|---|---|---|%n");
            for (var s : steps)
                System.out.printf(java.util.Locale.ROOT, "| %d | %.1f%% | %.1f%% | %.1f%% | %.3f | %.3f | %.3f M | %.3f | %s |%n", s.index(), s.channels() * 100,
                        s.paramsRemoved() * 100, s.flopsRemoved() * 100, s.map50(), s.map5095(), s.params() / 1e6, s.gflops(), s.model());
            return 0;
        }
    }

    @Command(name = "sensitivity", mixinStandardHelpOptions = true, description = "Sensitivity analysis: prune each prunable layer alone at each "
            + "ratio, evaluate mAP50 on part of the validation split without training, and write OUT/sensitivity.csv, .md, a heat map "
            + "OUT/sensitivity.png and OUT/layer-ratios.json (per layer, the largest ratio whose loss stays within --max-drop) for `prune --layer-ratios`.")
    static final class SensitivityCmd implements Callable<Integer> {
        @Option(names = {"-w", "--weights"}, required = true, description = "A trained checkpoint (unpruned or compact).")
        java.nio.file.Path weights;
        @Option(names = "--data", required = true, description = "Data YAML.")
        java.nio.file.Path data;
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
        java.nio.file.Path out;

        @Override
        public Integer call() throws Exception {
            if (!java.nio.file.Files.isRegularFile(weights)) throw new IllegalArgumentException("--weights " + weights + ": no such file");
            if (!(maxDrop >= 0 && maxDrop < 1)) throw new IllegalArgumentException("--max-drop must be in [0, 1), got " + maxDrop);
            int size = img != null ? img : org.jprune.yolo.train.Checkpoint.read(weights).imageSize();
            var r = new org.jprune.yolo.train.Sensitivity(new org.jprune.yolo.train.Sensitivity.Options(weights, data, size, batch, fraction, ratios, roundTo, out,
                    workers), System.out).run();
            org.jprune.yolo.train.Sensitivity.writeLayerRatios(out.resolve("layer-ratios.json"), org.jprune.yolo.train.Sensitivity.layerRatios(r, maxDrop));
            System.out.printf(java.util.Locale.ROOT, "baseline mAP50 %.3f on %.0f%% of the validation split; %d layers x %d ratios, %d evaluations, %.0f s; "
                    + "wrote %s/sensitivity.{csv,md,png} and layer-ratios.json (max drop %.3f per layer)%n", r.baseline(), fraction * 100, r.layers().size(),
                    ratios.length, r.evaluations(), r.seconds(), out, maxDrop);
            return 0;
        }
    }

    @Command(name = "export", mixinStandardHelpOptions = true, description = "Export a checkpoint (dense or compact) as ONNX, as Ultralytics exports "
            + "YOLOv5: input images [batch, 3, img, img] (batch dynamic), output output0 [batch, anchors, 5 + classes] with the Detect decode inside "
            + "(boxes in input pixels, probabilities after the sigmoid), weights inside.")
    static final class Export implements Callable<Integer> {
        @Option(names = {"-w", "--weights"}, required = true, description = "The checkpoint (from train, prune or study).")
        java.nio.file.Path weights;
        @Option(names = "--format", defaultValue = "onnx", description = "Output format: onnx. Default: ${DEFAULT-VALUE}.")
        String format;
        @Option(names = "--img", description = "Input size, a multiple of 32 (default: the checkpoint's).")
        Integer img;
        @Option(names = "--opset", defaultValue = "13", description = "ONNX opset, 11 to 21. Default: ${DEFAULT-VALUE}.")
        int opset;
        @Option(names = "--fuse", description = "Fold every batch norm into its convolution.")
        boolean fuse;
        @Option(names = {"-o", "--out"}, description = "Output file (default: the checkpoint's path with .onnx); an existing file is not overwritten.")
        java.nio.file.Path out;

        @Override
        public Integer call() throws Exception {
            if (!format.strip().equalsIgnoreCase("onnx")) throw new IllegalArgumentException("--format must be onnx, got '" + format + "'");
            if (!java.nio.file.Files.isRegularFile(weights)) throw new IllegalArgumentException("--weights " + weights + ": no such file");
            var ckpt = org.jprune.yolo.train.Checkpoint.read(weights);
            var options = new org.jprune.yolo.export.OnnxExport.Options(img != null ? img : ckpt.imageSize(), opset, fuse);
            java.nio.file.Path file = out != null ? out : weights.resolveSibling(weights.getFileName().toString().replaceFirst("\\.safetensors$", "") + ".onnx");
            if (java.nio.file.Files.exists(file)) throw new IllegalArgumentException("--out " + file + " exists: give another file or remove it");
            try (var m = ckpt.buildModel()) {
                org.jprune.yolo.export.OnnxExport.write(m, ckpt.names(), options, file);
                System.out.printf(java.util.Locale.ROOT, "wrote %s (%.2f MB): %s, %.3f M parameters, %dx%d, opset %d%s%n", file, java.nio.file.Files.size(file) / 1e6,
                        ckpt.model(), m.parameterCount() / 1e6, options.imageSize(), options.imageSize(), opset, fuse ? ", batch norms folded" : "");
            }
            return 0;
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true, description = "Show the native backends this machine can use, and why not where one is missing.")
    static final class Info implements Callable<Integer> {
        @Override
        public Integer call() {
            System.out.println("native libraries: " + NativeLibrary.directory());
            NativeLibrary.backendFiles().forEach((k, v) -> System.out.printf("  %-9s %s%n", k, v));
            System.out.println("cpu device: " + Device.cpu().describe());
            for (DeviceKind k : new DeviceKind[] {DeviceKind.CUDA, DeviceKind.CUDA_EMU}) {
                try (Device d = Device.open(k, 0)) {
                    System.out.println(k + " device: " + d.describe());
                } catch (BackendUnavailableException e) {
                    System.out.println(k + ": unavailable (" + e.getMessage() + ")");
                }
            }
            return 0;
        }
    }

    @Command(name = "data", mixinStandardHelpOptions = true, description = "Datasets.", subcommands = {DataCmd.Synth.class, DataCmd.Check.class})
    static final class DataCmd implements Runnable {
        @CommandLine.Spec CommandLine.Model.CommandSpec spec;

        @Override
        public void run() { spec.commandLine().usage(System.out); }

        @Command(name = "check", mixinStandardHelpOptions = true, description = "Read every label and image of a dataset and report each problem with file and line "
                + "(malformed lines, unknown classes, boxes outside the image, unreadable or empty images). Exit code 2 if any.")
        static final class Check implements Callable<Integer> {
            @Option(names = "--data", required = true, description = "Data YAML (YOLO txt layout).")
            java.nio.file.Path data;

            @Override
            public Integer call() throws Exception {
                var cfg = org.jprune.yolo.data.YoloDataset.readConfig(data);
                int problems = 0;
                for (String split : new String[] {"train", "val"}) {
                    var ds = org.jprune.yolo.data.YoloDataset.load(cfg, split, true);
                    long objects = ds.samples().stream().mapToLong(x -> x.labels().size()).sum();
                    long background = ds.samples().stream().filter(x -> x.labels().isEmpty()).count();
                    System.out.printf("%s: %d images, %d objects, %d without objects, %d problems%n", split, ds.samples().size(), objects, background,
                            ds.problems().size());
                    for (var p : ds.problems()) System.out.println("  " + p);
                    problems += ds.problems().size();
                }
                return problems == 0 ? 0 : 2;
            }
        }

        @Command(name = "synth", mixinStandardHelpOptions = true, description = "Write the built-in synthetic shapes dataset (PNG + YOLO txt + data.yaml); "
                + "see the README for its definition.")
        static final class Synth implements Callable<Integer> {
            @Option(names = {"-o", "--out"}, required = true, description = "Output directory.")
            java.nio.file.Path out;

            @Option(names = "--train", defaultValue = "2000", description = "Training images. Default: ${DEFAULT-VALUE}.")
            int train;

            @Option(names = "--val", defaultValue = "300", description = "Validation images (drawn with seed + 1000003). Default: ${DEFAULT-VALUE}.")
            int val;

            @Option(names = "--img", defaultValue = "256", description = "Image side in pixels. Default: ${DEFAULT-VALUE}.")
            int img;

            @Option(names = "--seed", defaultValue = "0", description = "Seed; the same seed writes the same files. Default: ${DEFAULT-VALUE}.")
            long seed;

            @Option(names = "--difficulty", defaultValue = "HARD", description = "HARD (the benchmark) or EASY (1-3 large objects, no clutter; "
                    + "for tests and smoke runs). Default: ${DEFAULT-VALUE}.")
            org.jprune.yolo.data.SynthDataset.Difficulty difficulty;

            @Option(names = "--kind", defaultValue = "SHAPES", description = "SHAPES (the 8-class benchmark) or FACES (one class, WIDER Face's "
                    + "character: many small faces, crowds, blur, occlusion; see the README). Default: ${DEFAULT-VALUE}.")
            org.jprune.yolo.data.SynthDataset.Kind kind;

            @Override
            public Integer call() throws Exception {
                long t0 = System.nanoTime();
                java.nio.file.Path yaml = org.jprune.yolo.data.SynthDataset.write(out, new org.jprune.yolo.data.SynthDataset.Spec(train, val, img, seed, difficulty, kind));
                System.out.printf("wrote %d train + %d val images (%dx%d, %d classes) and %s in %.1f s%n", train, val, img, img,
                        kind == org.jprune.yolo.data.SynthDataset.Kind.FACES ? 1 : org.jprune.yolo.data.SynthDataset.CLASSES.size(), yaml, (System.nanoTime() - t0) / 1e9);
                return 0;
            }
        }
    }

    @Command(name = "model", mixinStandardHelpOptions = true, description = "Inspect model architectures.", subcommands = {ModelCmd.Summary.class})
    static final class ModelCmd implements Runnable {
        @CommandLine.Spec CommandLine.Model.CommandSpec spec;

        @Override
        public void run() { spec.commandLine().usage(System.out); }

        @Command(name = "summary", mixinStandardHelpOptions = true, description = "Per-layer table (index, from, n, params, module, arguments, output shape) and totals: "
                + "parameters (with BN, and fused) and GFLOPs at an image size.")
        static final class Summary implements Callable<Integer> {
            @Option(names = {"-m", "--model"}, defaultValue = "yolov5s",
                    description = "Built-in name (yolov5n, yolov5s, yolov5m) or an Ultralytics model YAML file. Default: ${DEFAULT-VALUE}.")
            String model;

            @Option(names = "--nc", description = "Number of classes (default: the YAML's nc).")
            Integer nc;

            @Option(names = "--img", defaultValue = "640", description = "Square input size for shapes and GFLOPs. Default: ${DEFAULT-VALUE}.")
            int img;

            @Option(names = {"-w", "--weights"}, description = "Summarise this checkpoint's network instead (a compact model from `jprune prune` "
                    + "shows its pruned widths; -m and --nc are then taken from it).")
            java.nio.file.Path weights;

            @Override
            public Integer call() throws Exception {
                if (img <= 0 || img % 32 != 0) throw new IllegalArgumentException("--img must be a positive multiple of 32, got " + img);
                if (weights != null) {
                    if (!java.nio.file.Files.isRegularFile(weights)) throw new IllegalArgumentException("--weights " + weights + ": no such file");
                    try (YoloModel m = org.jprune.yolo.train.Checkpoint.read(weights).buildModel()) {
                        System.out.print(m.summary(img));
                        if (m.widths() != null) System.out.println("compact model: pruned channels removed (widths in the checkpoint's metadata)");
                        if (m.plan() != null) System.out.println("masked model: " + m.plan());
                    }
                    return 0;
                }
                ModelConfig cfg = ModelConfig.load(model);
                if (nc != null) cfg = cfg.withClasses(nc);
                try (YoloModel m = YoloModel.build(cfg, Device.cpu(), 0)) {
                    System.out.print(m.summary(img));
                }
                return 0;
            }
        }
    }
}
