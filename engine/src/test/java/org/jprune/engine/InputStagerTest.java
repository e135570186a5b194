package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * InputStager on every native backend (jp_copy_h2d_async): each staged tensor holds its data, two
 * buffers take turns (the one from the call before last is reused, the last one is left alone), a
 * change of shape gets a new buffer, ops queued on a staged tensor see its data, and misuse throws.
 */
class InputStagerTest {
    static java.util.stream.Stream<TestSupport.Backend> backends() { return TestSupport.nativeBackends(); }

    static float[] data(int seed, int n) { return TestSupport.random(seed, n, -1f, 1f); }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void stagedTensorsHoldTheirDataAndTakeTurns(TestSupport.Backend b) {
        Device dev = b.device();
        try (InputStager s = new InputStager(dev)) {
            Tensor[] got = new Tensor[6];
            float[][] want = new float[6][];
            for (int k = 0; k < 6; k++) {
                int[] shape = k < 4 ? new int[] {2, 3, 5, 7} : new int[] {1, 3, 5, 7};  // the last two: an epoch's short last batch
                want[k] = data(k + 1, (int) Tensor.numel(shape));
                got[k] = s.stage(want[k], shape);
                // the op queued after the copy sees the data (on a GPU it waits for the copy)
                try (Tensor doubled = Tensor.empty(dev, shape)) {
                    org.jprune.engine.ops.Eltwise.add(doubled, got[k], got[k]);
                    float[] d = doubled.toArray(), w = want[k].clone();
                    for (int i = 0; i < w.length; i++) w[i] *= 2;
                    assertArrayEquals(w, d, b + " step " + k);
                }
                if (k >= 1) assertArrayEquals(want[k - 1], got[k - 1].toArray(), b + ": the previous step's input is untouched at step " + k);
                if (k == 2 || k == 3) assertSame(got[k - 2], got[k], b + ": the buffer of the call before last is reused");
            }
            assertTrue(got[4] != got[2], "a new shape gets a new buffer");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void misuseThrows(TestSupport.Backend b) {
        InputStager s = new InputStager(b.device());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.stage(new float[10], 2, 3, 5));
        assertTrue(e.getMessage().contains("shape [2, 3, 5] needs 30 values, got 10"), e.getMessage());
        s.close();
        assertThrows(IllegalStateException.class, () -> s.stage(new float[30], 2, 3, 5));
    }
}
