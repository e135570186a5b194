package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jprune.engine.BackendUnavailableException;
import org.jprune.engine.Device;
import org.jprune.engine.DeviceKind;
import org.jprune.engine.nn.Parameter;
import org.jprune.yolo.data.Loader;
import org.jprune.yolo.data.SynthDataset;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.loss.Hyp;
import org.jprune.yolo.loss.YoloLoss;
import org.jprune.yolo.model.ModelConfig;
import org.jprune.yolo.model.YoloModel;
import org.jprune.yolo.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One training step of a tiny YOLOv5 (and of yolov4-tiny's route/slice/maxpool graph) on every backend:
 * the loss and every parameter gradient must agree with the double-precision reference backend.
 */
class CrossBackendTest {
    @TempDir Path dir;

    record StepResult(double loss, Map<String, float[]> grads) {}

    static StepResult step(ModelConfig cfg, Device device, Loader.Batch batch) {
        try (YoloModel m = YoloModel.build(cfg, device, 7)) {
            YoloLoss loss = new YoloLoss(cfg.nc(), m.anchorsPx(), m.strides(), Hyp.SCRATCH_LOW.scaled(m.levels(), cfg.nc(), batch.size()));
            double l = Trainer.step(m, loss, batch).total();
            Map<String, float[]> g = new LinkedHashMap<>();
            for (Parameter p : m.graph().parameters()) g.put(p.name(), p.grad().toArray());
            return new StepResult(l, g);
        }
    }

    static List<Device> backends() {
        List<Device> out = new ArrayList<>(List.of(Device.cpu()));
        try {
            out.add(Device.of(DeviceKind.CUDA_EMU));
        } catch (BackendUnavailableException e) {
            System.out.println("[skip] cuda-emu backend: " + e.getMessage());
        }
        return out;
    }

    @Test
    void oneStepAgreesWithTheReference() throws Exception {
        Path data = SynthDataset.write(dir.resolve("data"), new SynthDataset.Spec(4, 1, 64, 21));
        List<YoloDataset.Sample> samples = YoloDataset.load(YoloDataset.readConfig(data), "train", false).samples();
        for (ModelConfig cfg : List.of(ModelConfig.load(TrainerTest.tinyModel(dir).toString()).withClasses(8), tinyV4())) {
            Loader.Batch batch;
            try (Loader l = new Loader(samples, 2, 64, Loader.Augment.NONE, 0, 1)) {
                batch = l.epoch(0, 0).next();
            }
            StepResult ref = step(cfg, Device.reference(), batch);
            for (Device d : backends()) {
                StepResult got = step(cfg, d, batch);
                assertTrue(Math.abs(got.loss() - ref.loss()) <= 1e-4 * Math.abs(ref.loss()), cfg.source() + " on " + d + ": loss " + got.loss() + " vs " + ref.loss());
                for (var e : ref.grads().entrySet()) {
                    float[] want = e.getValue(), have = got.grads().get(e.getKey());
                    double scale = 0;
                    for (float v : want) scale = Math.max(scale, Math.abs(v));
                    for (int i = 0; i < want.length; i++)
                        if (Math.abs(have[i] - want[i]) > 2e-3 * scale + 1e-3 * Math.abs(want[i]) + 1e-7)
                            fail(cfg.source() + " on " + d + ": " + e.getKey() + "[" + i + "] = " + have[i] + ", reference " + want[i] + " (max |g| " + scale + ")");
                }
            }
        }
    }

    /** yolov4-tiny with a quarter of the channels: route groups, darknet maxpool padding, concat, upsample. */
    static ModelConfig tinyV4() throws Exception {
        String cfg = new String(CrossBackendTest.class.getResourceAsStream("/org/jprune/yolo/models/yolov4-tiny.cfg").readAllBytes());
        StringBuilder sb = new StringBuilder();
        for (String line : cfg.split("\n")) {
            if (line.startsWith("filters=") && !line.equals("filters=255")) line = "filters=" + Integer.parseInt(line.substring(8)) / 8;
            sb.append(line).append('\n');
        }
        return org.jprune.yolo.model.DarknetConfig.parse("yolov4-tiny/8.cfg", sb.toString()).withClasses(8);
    }
}
