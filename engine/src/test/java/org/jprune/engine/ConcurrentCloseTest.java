package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.jprune.engine.ops.Eltwise;
import org.junit.jupiter.api.Test;

/**
 * API misuse from several threads: closing a tensor, or a device, while another thread's op uses it
 * must never let the op write into memory a later allocation owns, nor read a freed context; the
 * close waits for the op, and ops that start after it fail with an exception naming the problem.
 */
class ConcurrentCloseTest {
    @Test
    void closingAnOpsOutputMidOpNeverCorruptsALaterAllocation() throws Exception {
        Device cpu = Device.cpu();
        int n = 768;
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            int corrupted = 0;
            for (int round = 0; round < 40; round++) {
                Tensor a = Tensor.randn(cpu, round, 1f, n, n), b = Tensor.randn(cpu, round + 1, 1f, n, n);
                Tensor y = Tensor.empty(cpu, n, n);
                CountDownLatch started = new CountDownLatch(1);
                AtomicReference<Throwable> opError = new AtomicReference<>();
                Thread op = new Thread(() -> {
                    started.countDown();
                    try {
                        Eltwise.matmul(y, a, b, false, false, 1f, 0f); // a few ms: the close below lands inside it
                    } catch (Throwable t) {
                        opError.set(t);
                    }
                });
                op.start();
                started.await();
                Thread.sleep(round % 3); // 0-2 ms: before, during or after the op's start
                y.close();
                try (Tensor z = Tensor.full(cpu, 7f, n, n)) { // the allocator's next block of this size is y's
                    op.join();
                    float[] v = z.toArray();
                    for (float f : v) if (f != 7f) { corrupted++; break; }
                }
                Throwable t = opError.get();
                assertTrue(t == null || t instanceof IllegalStateException, "the op either ran or failed cleanly: " + t);
                a.close();
                b.close();
            }
            assertEquals(0, corrupted, "rounds where a later allocation was overwritten by an op on a closed tensor");
        });
    }

    @Test
    void closingADeviceWaitsForOpsInFlightAndRefusesLaterOnes() throws Exception {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int round = 0; round < 10; round++) {
                Device d = Device.open(DeviceKind.CPU, 0);
                Tensor a = Tensor.randn(d, 1, 1f, 512, 512), b = Tensor.randn(d, 2, 1f, 512, 512), y = Tensor.empty(d, 512, 512);
                AtomicReference<Throwable> err = new AtomicReference<>();
                CountDownLatch started = new CountDownLatch(1);
                Thread op = new Thread(() -> {
                    started.countDown();
                    try {
                        for (int i = 0; i < 20; i++) Eltwise.matmul(y, a, b, false, false, 1f, 0f);
                    } catch (Throwable t) {
                        err.set(t);
                    }
                });
                op.start();
                started.await();
                Thread.sleep(1);
                d.close();
                op.join();
                Throwable t = err.get();
                assertTrue(t == null || t instanceof IllegalStateException, "ops after the close fail cleanly: " + t);
                assertThrows(IllegalStateException.class, () -> Eltwise.matmul(y, a, b, false, false, 1f, 0f));
            }
        });
    }
}
