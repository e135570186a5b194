package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jprune.yolo.report.Plots;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Charts are extras: where AWT cannot draw (a headless machine without fonts throws an Error from its
 * font setup) the failure is an IOException naming the file, which callers report and go on from;
 * the VM's own errors still propagate.
 */
class PlotsTest {
    @TempDir Path dir;

    @Test
    void awtFailuresBecomeAnIoExceptionNamingTheFile() {
        Path png = dir.resolve("results.png");
        for (Throwable t : new Throwable[] {new Error("Probable fatal error:No fonts found."), new java.awt.AWTError("no display"),
                                            new InternalError("font setup"), new NoClassDefFoundError("sun/awt/X11FontManager"), new NullPointerException("fontconfig")}) {
            IOException e = assertThrows(IOException.class, () -> Plots.drawing(png, () -> { throw sneaky(t); }));
            assertTrue(e.getMessage().contains("results.png") && e.getMessage().contains(t.getMessage()), e.getMessage());
            assertEquals(t, e.getCause());
        }
        assertThrows(OutOfMemoryError.class, () -> Plots.drawing(png, () -> { throw new OutOfMemoryError("heap"); }));
        // an optional chart: the failure is one warning line, the run goes on
        var log = new java.io.ByteArrayOutputStream();
        Plots.optional(png, () -> { throw new Error("Probable fatal error:No fonts found."); }, new java.io.PrintStream(log, true));
        assertEquals("warning: results.png not written: cannot draw results.png on this JVM (java.lang.Error: Probable fatal error:No fonts found.)",
                log.toString().strip());
    }

    @Test
    void chartsAreDrawnWhereAwtCan() throws IOException {
        Path csv = dir.resolve("results.csv"), png = dir.resolve("results.png");
        Files.writeString(csv, "epoch,box,obj,cls,mAP50,mAP50-95,lr\n0,1.0,0.5,0.4,0.1,0.05,0.01\n1,0.9,0.4,0.3,0.2,0.1,0.009\n");
        Plots.results(csv, png);
        assertTrue(Files.size(png) > 1000);
        Plots.prCurve(dir.resolve("PR_curve.png"), new double[][] {new double[101]}, new double[] {0.5}, List.of("a"));
        assertTrue(Files.isRegularFile(dir.resolve("PR_curve.png")));
    }

    private static RuntimeException sneaky(Throwable t) {
        if (t instanceof Error e) throw e;
        return (RuntimeException) t;
    }
}
