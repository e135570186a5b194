package org.jprune.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.training.GradientCollector;
import org.jprune.engine.ops.Conv2dDesc;

/**
 * PyTorch CPU (libtorch 2.7.1 through DJL, offline) as the conv baseline: forward, then autograd
 * backward for input, weight and bias, like ours. Built only with the Maven profile "torch".
 */
public final class TorchConv implements ConvBaseline {
    private final NDManager manager;
    private final Engine engine;
    private NDArray x, w, b;
    private Conv2dDesc d;

    public TorchConv(int threads) {
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("ai.djl.pytorch.num_threads", String.valueOf(threads));
        System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        engine = Engine.getEngine("PyTorch");
        manager = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch");
    }

    @Override
    public String describe() {
        return "PyTorch " + engine.getVersion() + " CPU through DJL (" + System.getProperty("ai.djl.pytorch.num_threads") + " threads), autograd backward";
    }

    @Override
    public void prepare(Conv2dDesc desc) {
        if (x != null) { x.close(); w.close(); b.close(); }
        d = desc;
        x = manager.randomNormal(new Shape(d.n(), d.c(), d.h(), d.w()));
        w = manager.randomNormal(0f, 0.1f, new Shape(d.k(), d.c() / d.groups(), d.r(), d.s()), ai.djl.ndarray.types.DataType.FLOAT32);
        b = manager.zeros(new Shape(d.k()));
        x.setRequiresGradient(true);
        w.setRequiresGradient(true);
        b.setRequiresGradient(true);
    }

    @Override
    public void run() {
        try (GradientCollector gc = engine.newGradientCollector()) {
            NDArray y = Conv2d.conv2d(x, w, b, new Shape(d.strideH(), d.strideW()), new Shape(d.padH(), d.padW()),
                    new Shape(d.dilH(), d.dilW()), d.groups()).singletonOrThrow();
            gc.backward(y);
            y.close();
        }
    }

    @Override
    public void close() { manager.close(); }
}
