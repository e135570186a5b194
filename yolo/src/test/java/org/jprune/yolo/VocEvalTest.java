package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.jprune.yolo.eval.Detection;
import org.jprune.yolo.eval.VocEval;
import org.junit.jupiter.api.Test;

class VocEvalTest {
    /**
     * Truths A, B and a difficult D; detections by confidence: A (TP), A again (FP, already detected),
     * D (ignored: neither), B (TP). npos = 2; (rec, prec) rows: (.5, 1), (.5, .5), (.5, .5), (1, 2/3).
     * VOC2007: 6 thresholds 0..0.5 take precision 1, 5 thresholds 0.6..1 take 2/3: (6 + 10/3) / 11.
     * VOC2010: envelope 1 up to recall .5, 2/3 up to 1: .5 + .5 * 2/3.
     */
    @Test
    void handComputedDevkitAp() {
        VocEval e = new VocEval(2);
        e.add(List.of(new Detection(10, 10, 50, 50, 0.9f, 0), new Detection(11, 11, 50, 50, 0.8f, 0), new Detection(100, 100, 140, 150, 0.7f, 0)),
              List.of(new VocEval.Truth(10, 10, 50, 50, 0, false), new VocEval.Truth(100, 100, 140, 150, 0, true)));
        e.add(List.of(new Detection(5, 5, 30, 30, 0.6f, 0)), List.of(new VocEval.Truth(5, 5, 30, 30, 0, false)));
        VocEval.Result v07 = e.evaluate(true), v12 = e.evaluate(false);
        assertEquals((6 + 10.0 / 3) / 11, v07.ap()[0], 1e-12);
        assertEquals(0.5 + 0.5 * 2 / 3.0, v12.ap()[0], 1e-12);
        assertTrue(Double.isNaN(v07.ap()[1]), "class without truth is left out");
        assertEquals(v07.ap()[0], v07.map(), 1e-12);
        assertEquals(2, v12.truths()[0], "difficult truths do not count");
    }

    /** The devkit's inclusive pixel boxes: [1, 10] x [1, 10] and [6, 15] x [1, 10] overlap 5 x 10 of 10 x 10 each: 50/150. */
    @Test
    void overlapUsesInclusivePixels() {
        VocEval strict = new VocEval(1, 0.33);
        strict.add(List.of(new Detection(6, 1, 15, 10, 0.5f, 0)), List.of(new VocEval.Truth(1, 1, 10, 10, 0, false)));
        assertEquals(1.0, strict.evaluate(false).map(), 1e-12);   // 1/3 >= 0.33
        VocEval loose = new VocEval(1, 0.34);
        loose.add(List.of(new Detection(6, 1, 15, 10, 0.5f, 0)), List.of(new VocEval.Truth(1, 1, 10, 10, 0, false)));
        assertEquals(0.0, loose.evaluate(false).map(), 1e-12);
    }
}
