package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.jprune.engine.internal.Buf;
import org.jprune.engine.internal.KernelProfile;
import org.jprune.engine.internal.Kernels;
import org.jprune.engine.ops.Conv2dDesc;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The -Djprune.profile proxy passes calls through unchanged and reports them by op and shape. */
class KernelProfileTest {
    @AfterEach
    void clear() { KernelProfile.reset(); } // nothing left for the exit-time report

    @Test
    void timesEachCallByOpAndShapeAndChangesNothing() {
        KernelProfile.reset();
        Kernels raw = Device.cpu().kernels(), k = KernelProfile.wrap(raw, false);
        Conv2dDesc d = Conv2dDesc.of(2, 3, 9, 9, 4, 3, 2, 1, 1);
        float[] x = Tensor.randnArray(1, 1f, (int) d.inputSize()), w = Tensor.randnArray(2, 1f, (int) d.weightSize());
        float[][] outs = new float[2][(int) d.outputSize()];
        Kernels[] both = {raw, k};
        for (int i = 0; i < 2; i++) {
            Kernels kk = both[i];
            Buf bx = kk.allocFloats(x.length), bw = kk.allocFloats(w.length), by = kk.allocFloats(outs[i].length);
            kk.upload(bx, x, 0, x.length);
            kk.upload(bw, w, 0, w.length);
            kk.conv2dFwd(d, by, bx, bw, null);
            kk.download(by, outs[i], 0, outs[i].length);
            for (Buf b : new Buf[] {bx, bw, by}) kk.free(b);
        }
        assertArrayEquals(outs[0], outs[1], "the proxy only times");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        KernelProfile.print(new PrintStream(buf));
        String report = buf.toString();
        assertTrue(report.contains("conv2dFwd") && report.contains("n2 c3 9x9 -> k4 3x3 s2 g1"), report);
        assertTrue(report.contains("upload") && report.contains("GFLOP/s"), report);
    }
}
