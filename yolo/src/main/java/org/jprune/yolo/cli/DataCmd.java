package org.jprune.yolo.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.data.YoloDataset;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "data", mixinStandardHelpOptions = true, description = "Datasets.", subcommands = {DataCmd.Synth.class, DataCmd.Check.class})
final class DataCmd implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() { spec.commandLine().usage(System.out); }

    @Command(name = "check", mixinStandardHelpOptions = true, description = "Read every label and image of a dataset and report each problem with file and line "
            + "(malformed lines, unknown classes, boxes outside the image, unreadable or empty images). Exit code 2 if any.")
    static final class Check implements Callable<Integer> {
        @Option(names = "--data", required = true, description = "Data YAML (YOLO txt layout).")
        Path data;

        @Override
        public Integer call() throws Exception {
            YoloDataset.DataConfig cfg = YoloDataset.readConfig(data);
            int problems = 0;
            for (String split : new String[] {"train", "val"}) {
                YoloDataset ds = YoloDataset.load(cfg, split, true);
                long objects = ds.samples().stream().mapToLong(x -> x.labels().size()).sum();
                long background = ds.samples().stream().filter(x -> x.labels().isEmpty()).count();
                System.out.printf("%s: %d images, %d objects, %d without objects, %d problems%n", split, ds.samples().size(), objects, background,
                        ds.problems().size());
                for (YoloDataset.Problem p : ds.problems()) System.out.println("  " + p);
                problems += ds.problems().size();
            }
            return problems == 0 ? 0 : 2;
        }
    }

    @Command(name = "synth", mixinStandardHelpOptions = true, description = "Write the built-in synthetic shapes dataset (PNG + YOLO txt + data.yaml); "
            + "see the README for its definition.")
    static final class Synth implements Callable<Integer> {
        @Option(names = {"-o", "--out"}, required = true, description = "Output directory.")
        Path out;
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
        SynthDataset.Difficulty difficulty;
        @Option(names = "--kind", defaultValue = "SHAPES", description = "SHAPES (the 8-class benchmark) or FACES (one class, WIDER Face's "
                + "character: many small faces, crowds, blur, occlusion; see the README). Default: ${DEFAULT-VALUE}.")
        SynthDataset.Kind kind;

        @Override
        public Integer call() throws Exception {
            long t0 = System.nanoTime();
            Path yaml = SynthDataset.write(out, new SynthDataset.Spec(train, val, img, seed, difficulty, kind));
            System.out.printf("wrote %d train + %d val images (%dx%d, %d classes) and %s in %.1f s%n", train, val, img, img,
                    kind == SynthDataset.Kind.FACES ? 1 : SynthDataset.CLASSES.size(), yaml, (System.nanoTime() - t0) / 1e9);
            return 0;
        }
    }
}
