package org.jprune.yolo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jprune.yolo.data.YoloDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * YOLO label lines as Ultralytics reads them: boxes, polygons (segmentation labels) as their bounding
 * boxes, a class written as a float ("2.0"); what it cannot use is reported by file and line.
 */
class LabelLinesTest {
    @TempDir Path dir;

    @Test
    void boxesPolygonsAndFloatClasses() throws Exception {
        Path f = Files.writeString(dir.resolve("a.txt"), String.join("\n",
                "0 0.5 0.5 0.2 0.4",                          // a box
                "1 0.1 0.2 0.3 0.2 0.3 0.6 0.1 0.6",          // a polygon: box x 0.1-0.3, y 0.2-0.6
                "2.0 0.4 0.4 0.1 0.1",                        // a float class
                "1 0.1 0.1 0.2 0.2 0.3",                      // 6 fields: neither
                "2.5 0.4 0.4 0.1 0.1",                        // not a whole class
                "1 0.1 0.2 0.3 0.2 x 0.6",                    // a polygon with a non-number
                "1 0.5 0.5 0.5 0.5 0.5 0.5") + "\n");         // a polygon of one point: an empty box
        List<YoloDataset.Problem> problems = new ArrayList<>();
        List<YoloDataset.Label> l = YoloDataset.parseLabels(f, 3, problems);
        assertEquals(3, l.size(), problems.toString());
        assertEquals(new YoloDataset.Label(0, 0.5f, 0.5f, 0.2f, 0.4f), l.get(0));
        assertEquals(1, l.get(1).cls());
        assertEquals(0.2f, l.get(1).cx(), 1e-6f);
        assertEquals(0.4f, l.get(1).cy(), 1e-6f);
        assertEquals(0.2f, l.get(1).w(), 1e-6f);
        assertEquals(0.4f, l.get(1).h(), 1e-6f);
        assertEquals(2, l.get(2).cls());
        List<String> p = problems.stream().map(x -> x.toString().substring(f.toString().length() + 1)).toList();
        assertEquals(List.of("4: expected 'class cx cy w h' (or a polygon 'class x1 y1 x2 y2 x3 y3 ...'), got 6 fields: '1 0.1 0.1 0.2 0.2 0.3'",
                "5: class 2.5 is not a whole number", "6: not a number in '1 0.1 0.2 0.3 0.2 x 0.6'",
                "7: box 0.5 0.5 0.5 0.5 0.5 0.5 is empty or outside the image (normalised [0, 1])"), p);
    }
}
