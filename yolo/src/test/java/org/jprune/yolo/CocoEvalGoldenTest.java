package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jprune.yolo.data.Annotations;
import org.jprune.yolo.data.YoloDataset;
import org.jprune.yolo.eval.CocoEval;
import org.jprune.yolo.eval.Detection;
import org.jprune.yolo.eval.DetectionFiles;
import org.junit.jupiter.api.Test;

/**
 * Our COCO evaluation against pycocotools 2.0.11 on a seeded fixture (crowd truths, every area range,
 * duplicates, wrong classes, an image over maxDets): the 12 summary numbers and per-class AP must
 * match. The fixture and the expected numbers come from scripts/golden/coco_eval.py.
 */
class CocoEvalGoldenTest {
    static Path golden(String name) throws Exception {
        return Path.of(CocoEvalGoldenTest.class.getResource("/golden/" + name).toURI());
    }

    @Test
    void matchesPycocotools() throws Exception {
        List<YoloDataset.Problem> problems = new ArrayList<>();
        Annotations.Set gt = Annotations.readCoco(golden("coco_gt.json"), golden("coco_gt.json").getParent(), problems);
        List<List<Detection>> dets = DetectionFiles.read(golden("coco_dets.json"), gt, problems);
        assertTrue(problems.isEmpty(), problems.toString());
        assertEquals(List.of("a", "b", "c"), gt.names());
        CocoEval e = new CocoEval(3);
        for (int i = 0; i < gt.images().size(); i++) {
            List<CocoEval.Truth> t = new ArrayList<>();
            for (Annotations.Obj o : gt.images().get(i).objects())
                t.add(new CocoEval.Truth((float) o.x1(), (float) o.y1(), (float) o.x2(), (float) o.y2(), o.cls(), o.area(), o.crowd()));
            e.add(dets.get(i), t);
        }
        CocoEval.Result r = e.evaluate();
        JsonNode want = new ObjectMapper().readTree(golden("coco_expected.json").toFile());
        for (int i = 0; i < 12; i++) assertEquals(want.get("stats").get(i).asDouble(), r.stats()[i], 1e-6, CocoEval.STAT_NAMES[i]);
        for (int c = 0; c < 3; c++) {
            assertEquals(want.get("per_class").get(c).get("ap50").asDouble(), r.ap50()[c], 1e-6, "AP50 of class " + c);
            assertEquals(want.get("per_class").get(c).get("ap5095").asDouble(), r.ap5095()[c], 1e-6, "AP50-95 of class " + c);
        }
        assertEquals(r.stats()[0], r.map5095(), 1e-12);
        assertEquals(r.stats()[1], r.map50(), 1e-12);
    }
}
