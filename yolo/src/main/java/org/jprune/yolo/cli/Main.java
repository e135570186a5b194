package org.jprune.yolo.cli;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Locale;
import org.jprune.engine.BackendUnavailableException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The jprune command line: the root command and its error handling. Each subcommand lives in its own
 * file ({@code *Cmd}); options several commands share are mixins ({@link TrainingOptions},
 * {@link PruningOptions}, {@link DeviceOption}, {@link WeightsOption}). Exit codes: 0 ok, 1 runtime
 * failure, 2 bad usage or input.
 */
@Command(name = "jprune", mixinStandardHelpOptions = true, version = "jprune 0.1.0",
        description = "Train and prune YOLO detectors on native kernels.",
        subcommands = {InfoCmd.class, DataCmd.class, ModelCmd.class, TrainCmd.class, ValCmd.class, EvalCmd.class, DetectCmd.class, StudyCmd.class,
            PruneCmd.class, SensitivityCmd.class, ExportCmd.class, ImportCmd.class, ServeCmd.Serve.class, ServeCmd.Load.class})
public final class Main implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() { spec.commandLine().usage(System.out); }

    public static void main(String[] args) { System.exit(execute(args)); }

    /** Runs the CLI and returns its exit code; bad input prints one line, not a stack trace. */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        // a usage error: one line naming the option and the value, and where the help is
        cl.setParameterExceptionHandler((ex, argv) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("jprune: " + ex.getMessage());
            cmd.getErr().println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for the options.");
            return 2;
        });
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("jprune: " + message(e));
            return isInput(e) ? 2 : 1;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            System.err.println("jprune: out of memory (" + e.getMessage() + "): give the JVM more with -Xmx, or use a smaller --batch or --img");
            return 1;
        }
    }

    /** Bad input rather than a failure of ours: a device this machine cannot run (--device cuda without a GPU) is the user's input too. */
    static boolean isInput(Exception e) {
        return e instanceof IllegalArgumentException || e instanceof IOException || e instanceof BackendUnavailableException;
    }

    /** One line for the user: the file and what is wrong with it, or the message, or the exception for a bug. */
    static String message(Exception e) {
        String m = e.getMessage();
        if (e instanceof NoSuchFileException || e instanceof AccessDeniedException || e instanceof FileAlreadyExistsException
                || e instanceof NotDirectoryException)
            return m + ": " + e.getClass().getSimpleName().replace("Exception", "").replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase(Locale.ROOT);
        if (m == null || !isInput(e))
            return (isInput(e) ? "" : "internal error (please report it with the command): ") + e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
        return m;
    }
}
