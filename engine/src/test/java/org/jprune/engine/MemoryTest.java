package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.jprune.engine.TestSupport.Backend;
import org.jprune.engine.ops.BatchNorm;
import org.jprune.engine.ops.BnDesc;
import org.jprune.engine.ops.Conv2d;
import org.jprune.engine.ops.Conv2dDesc;
import org.jprune.engine.ops.CsrMatrix;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * No leaks: after a loop of ops (convolutions with their split-K scratch, batch norm, reductions,
 * CSR conversion) and closing every tensor, the backend's own count of live memory returns to its
 * starting level, and a second loop reserves nothing new (the caches are reused, not grown).
 */
class MemoryTest {
    static Stream<Backend> backends() {
        // one entry per device (the ISA variants share the CPU device)
        return TestSupport.nativeBackends().filter(b -> !b.name().startsWith("cpu-") || b.isa() == org.jprune.bindings.jprune_h.jp_cpu_isa_supported());
    }

    static void loop(Device dev) {
        Conv2dDesc d = new Conv2dDesc(2, 16, 20, 20, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        for (int i = 0; i < 3; i++) {
            try (Tensor x = KernelsTest.t(dev, 1, 2, 16, 20, 20); Tensor w = KernelsTest.t(dev, 2, 24, 16, 3, 3); Tensor b = KernelsTest.t(dev, 3, 24);
                 Tensor y = Tensor.empty(dev, 2, 24, 20, 20); Tensor dx = Tensor.empty(dev, x.shape()); Tensor dw = Tensor.empty(dev, w.shape());
                 Tensor db = Tensor.empty(dev, 24); Tensor mean = Tensor.empty(dev, 24); Tensor inv = Tensor.empty(dev, 24);
                 Tensor rm = Tensor.zeros(dev, 24); Tensor rv = Tensor.full(dev, 1f, 24); Tensor g = Tensor.full(dev, 1f, 24); Tensor be = Tensor.zeros(dev, 24);
                 Tensor z = Tensor.empty(dev, y.shape()); CsrMatrix csr = CsrMatrix.fromDense(w, 24, 0.5f)) {
                Conv2d.forward(d, y, x, w, b);
                Conv2d.backwardData(d, dx, y, w);
                Conv2d.backwardFilter(d, dw, db, y, x);
                BnDesc bd = BatchNorm.desc(y, 1e-3f, 0.03f);
                BatchNorm.forwardTrain(bd, z, mean, inv, rm, rv, y, g, be);
                Conv2d.forwardCsr(d, y, x, csr, b);
                assertTrue(Float.isFinite(z.sum() + y.sumSquares() + dw.absMax()));
            }
        }
        dev.emptyCache();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void memoryReturnsToItsStartingLevel(Backend be) {
        Device dev = be.device();
        dev.emptyCache();
        Device.NativeMemory start = dev.nativeMemory();
        long javaStart = dev.memoryStats().inUseBytes();
        loop(dev);
        Device.NativeMemory afterFirst = dev.nativeMemory();
        assertEquals(start.inUse(), afterFirst.inUse(), be + ": live backend memory after the loop vs before (" + start + " -> " + afterFirst + ")");
        loop(dev);
        Device.NativeMemory afterSecond = dev.nativeMemory();
        assertEquals(start.inUse(), afterSecond.inUse(), be + ": live backend memory after a second loop");
        assertEquals(afterFirst.reserved(), afterSecond.reserved(), be + ": a second loop must reuse the cached blocks, not reserve more");
        assertEquals(javaStart, dev.memoryStats().inUseBytes(), be + ": the Java allocator's live bytes");
    }
}
