package org.jprune.engine;

import static org.jprune.engine.TestSupport.assertClose;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import org.jprune.engine.TestSupport.Backend;
import org.jprune.engine.ops.Conv2d;
import org.jprune.engine.ops.Conv2dDesc;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend on a real GPU at real sizes (skipped, with the reason, where no GPU is): every
 * distinct convolution of YOLOv5s at 640 x 640 (batch 2) on cuda against the CPU backend, forward,
 * backward-data and backward-filter; then the same through the TF32 tensor-core kernels and
 * through cuDNN (FP32 and TF32) where libcudnn.so.9 loads. Run by `mvn verify` (failsafe) and by
 * scripts/device/gpu-suite.sh on the GPU machine. The op suite (KernelsTest) and MemoryTest run
 * against cuda as well whenever a GPU is present.
 */
class CudaIT {
    /** cin, cout, kernel, stride, input side at 640: YOLOv5s v6.0 (bench/YoloShapes lists the same layers with names). */
    static final int[][] YOLOV5S_640 = {
        {3, 32, 6, 2, 640}, {32, 64, 3, 2, 320}, {64, 32, 1, 1, 160}, {32, 32, 3, 1, 160}, {64, 64, 1, 1, 160}, {64, 128, 3, 2, 160},
        {128, 64, 1, 1, 80}, {64, 64, 3, 1, 80}, {128, 128, 1, 1, 80}, {128, 256, 3, 2, 80}, {256, 128, 1, 1, 40}, {128, 128, 3, 1, 40},
        {256, 256, 1, 1, 40}, {256, 512, 3, 2, 40}, {512, 256, 1, 1, 20}, {256, 256, 3, 1, 20}, {512, 512, 1, 1, 20}, {1024, 512, 1, 1, 20},
        {512, 128, 1, 1, 40}, {256, 64, 1, 1, 80}, {128, 128, 3, 2, 80}, {256, 256, 3, 2, 40}, {128, 255, 1, 1, 80}, {256, 255, 1, 1, 40},
        {512, 255, 1, 1, 20},
    };

    static Conv2dDesc desc(int[] l, int batch) {
        int pad = l[2] == 6 ? 2 : l[2] / 2;
        return new Conv2dDesc(batch, l[0], l[4], l[4], l[1], l[2], l[2], l[3], l[3], pad, pad, 1, 1, 1);
    }

    static List<float[]> run(Device dev, Conv2dDesc d) {
        try (Tensor x = KernelsTest.t(dev, 1, d.n(), d.c(), d.h(), d.w()); Tensor w = KernelsTest.t(dev, 2, d.k(), d.c(), d.r(), d.s());
             Tensor b = KernelsTest.t(dev, 3, d.k()); Tensor y = Tensor.empty(dev, d.n(), d.k(), d.outH(), d.outW());
             Tensor dy = KernelsTest.t(dev, 4, d.n(), d.k(), d.outH(), d.outW()); Tensor dx = Tensor.empty(dev, x.shape());
             Tensor dw = Tensor.empty(dev, w.shape()); Tensor db = Tensor.empty(dev, d.k())) {
            Conv2d.forward(d, y, x, w, b);
            Conv2d.backwardData(d, dx, dy, w);
            Conv2d.backwardFilter(d, dw, db, dy, x);
            List<float[]> out = new ArrayList<>();
            for (Tensor t : List.of(y, dx, dw, db)) out.add(t.toArray());
            return out;
        }
    }

    /** compares every YOLOv5s layer on the GPU (under the given options) with the CPU backend */
    static void compareLayers(String label, Device gpu, double abs, double rel) {
        String[] names = {"y", "dx", "dw", "db"};
        for (int[] l : YOLOV5S_640) {
            Conv2dDesc d = desc(l, 2);
            List<float[]> want = run(Device.cpu(), d), got = run(gpu, d);
            // reductions run over up to c*r*s = 4608 (forward) and n*p*q = 204800 (filter) terms: the
            // tolerance scales with the largest value of each output
            for (int i = 0; i < 4; i++) {
                double scale = 0;
                for (float v : want.get(i)) scale = Math.max(scale, Math.abs(v));
                assertClose(label + " " + d + " " + names[i], want.get(i), got.get(i), abs * Math.max(1, scale), rel);
            }
        }
    }

    static Device gpu() {
        var gpu = TestSupport.cuda();
        assumeTrue(gpu.isPresent(), "no CUDA GPU here (see the [skip] line for the reason)");
        return gpu.get();
    }

    @Test
    void yolov5sLayersFp32MatchTheCpu() {
        Device gpu = gpu();
        gpu.setOption("conv", "native");
        gpu.setOption("tf32", "0");
        compareLayers("cuda fp32", gpu, 2e-5, 1e-3);
    }

    /** The other FP32 kernels (conv2d.cu v5: pipeline=1, v7: pipeline=2) on the same layers. */
    @Test
    void yolov5sLayersFp32PipelinedKernelsMatchTheCpu() {
        Device gpu = gpu();
        gpu.setOption("conv", "native");
        gpu.setOption("tf32", "0");
        for (String p : new String[] {"1", "2"}) {
            Backend b = new Backend("cuda fp32 pipeline=" + p, gpu, -1, "pipeline=" + p);
            b.activate();
            try (b) {
                compareLayers(b.name(), gpu, 2e-5, 1e-3);
            }
        }
    }

    @Test
    void yolov5sLayersTf32MatchTheCpuToTf32Precision() {
        Device gpu = gpu();
        gpu.setOption("conv", "native");
        Backend b = new Backend("cuda tf32", gpu, -1, "tf32=1");
        b.activate();
        try (b) {
            compareLayers(b.name(), gpu, 5e-3, 2e-2); // 10-bit mantissa inputs, FP32 accumulation
        }
    }

    @Test
    void cudnnBaselineMatchesTheCpu() {
        Device gpu = gpu();
        try {
            gpu.setOption("conv", "cudnn");
        } catch (IllegalArgumentException e) {
            assumeTrue(false, "cuDNN not loadable here: " + e.getMessage());
        }
        try {
            gpu.setOption("tf32", "0");
            compareLayers("cudnn fp32", gpu, 2e-5, 1e-3);
        } finally {
            gpu.setOption("conv", "native");
        }
    }
}
