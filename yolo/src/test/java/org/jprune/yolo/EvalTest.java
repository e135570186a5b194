package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.jprune.yolo.eval.CocoEval;
import org.jprune.yolo.eval.Detection;
import org.jprune.yolo.eval.Postprocess;
import org.junit.jupiter.api.Test;

class EvalTest {
    @Test
    void handComputedAveragePrecision() {
        // 2 truths; detections by score: TP (0.9), FP (0.8), TP (0.7) -> recall .5 .5 1, precision 1 .5 .667
        // envelope 1 .667 .667; 51 recall points <= .5 sample 1, 50 points sample 2/3: AP = (51 + 50*2/3) / 101
        CocoEval e = new CocoEval(1);
        e.add(List.of(new Detection(0, 0, 10, 10, 0.9f, 0), new Detection(50, 50, 60, 60, 0.8f, 0)),
              List.of(new CocoEval.Truth(0, 0, 10, 10, 0)));
        e.add(List.of(new Detection(20, 20, 30, 31, 0.7f, 0)), List.of(new CocoEval.Truth(20, 20, 30, 30, 0)));
        CocoEval.Result r = e.evaluate();
        assertEquals((51 + 50 * 2.0 / 3) / 101, r.map50(), 1e-9);
        // IoU of the third box is 100/110 = 0.909: a true positive up to threshold 0.9, not at 0.95
        assertTrue(r.map5095() < r.map50() && r.map5095() > 0.7, "" + r.map5095());
    }

    @Test
    void perfectAndEmpty() {
        CocoEval e = new CocoEval(3);
        e.add(List.of(new Detection(1, 2, 30, 40, 0.5f, 2), new Detection(5, 5, 9, 9, 0.4f, 0)),
              List.of(new CocoEval.Truth(1, 2, 30, 40, 2), new CocoEval.Truth(5, 5, 9, 9, 0)));
        CocoEval.Result r = e.evaluate();
        assertEquals(1.0, r.map50(), 1e-12);
        assertEquals(1.0, r.map5095(), 1e-12);
        assertTrue(Double.isNaN(r.ap50()[1]), "class without truth is left out");
        CocoEval none = new CocoEval(1);
        none.add(List.of(), List.of(new CocoEval.Truth(0, 0, 5, 5, 0)));
        assertEquals(0.0, none.evaluate().map50(), 1e-12);
    }

    @Test
    void nmsIsClassAware() {
        List<Detection> in = List.of(new Detection(0, 0, 10, 10, 0.9f, 0), new Detection(1, 1, 11, 11, 0.8f, 0),
                new Detection(1, 1, 11, 11, 0.7f, 1), new Detection(30, 30, 40, 40, 0.6f, 0));
        List<Detection> out = Postprocess.nms(in, 0.45f, 300);
        assertEquals(3, out.size());
        assertEquals(0.9f, out.get(0).conf());
        assertEquals(1, out.get(1).cls(), "another class is not suppressed");
        assertEquals(2, Postprocess.nms(in, 0.45f, 2).size(), "maxDet");
    }
}
