package org.jprune.yolo.eval;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jprune.yolo.data.Annotations;
import org.jprune.yolo.data.YoloDataset;

/**
 * Detections of any detector, for `jprune eval`: a folder of text files, one per image named after
 * the image's stem, lines "class conf x1 y1 x2 y2" in pixels (what `jprune detect` writes), or a COCO
 * results JSON ([{image_id, category_id, bbox: [x, y, w, h], score}]). Results are keyed by the
 * ground truth's image ids; bad lines and entries are reported with file and line.
 */
public final class DetectionFiles {
    private DetectionFiles() {}

    /** Per ground-truth image (same order), its detections. */
    public static List<List<Detection>> read(Path source, Annotations.Set gt, List<YoloDataset.Problem> problems) throws IOException {
        if (Files.isDirectory(source)) return readTxt(source, gt, problems);
        if (source.toString().toLowerCase(Locale.ROOT).endsWith(".json")) return readCocoResults(source, gt, problems);
        throw new IOException(source + ": detections must be a folder of .txt files or a COCO results .json");
    }

    static List<List<Detection>> readTxt(Path dir, Annotations.Set gt, List<YoloDataset.Problem> problems) throws IOException {
        List<List<Detection>> out = new ArrayList<>();
        int nc = gt.names().size();
        for (Annotations.Image im : gt.images()) {
            List<Detection> d = new ArrayList<>();
            Path f = dir.resolve(Annotations.stem(im.path()) + ".txt");
            if (Files.isRegularFile(f)) {
                List<String> lines = Files.readAllLines(f);
                for (int i = 0; i < lines.size(); i++) {
                    String l = lines.get(i).strip();
                    if (l.isEmpty()) continue;
                    String[] p = l.split("\\s+");
                    try {
                        if (p.length != 6) throw new NumberFormatException();
                        int c = Integer.parseInt(p[0]);
                        float conf = Float.parseFloat(p[1]), x1 = Float.parseFloat(p[2]), y1 = Float.parseFloat(p[3]), x2 = Float.parseFloat(p[4]),
                                y2 = Float.parseFloat(p[5]);
                        if (c < 0 || c >= nc) {
                            problems.add(new YoloDataset.Problem(f, i + 1, "class " + c + " outside [0, " + nc + ")"));
                            continue;
                        }
                        if (!(x2 >= x1 && y2 >= y1) || !Float.isFinite(conf)) {
                            problems.add(new YoloDataset.Problem(f, i + 1, "box must have x2 >= x1, y2 >= y1 and a finite confidence: '" + l + "'"));
                            continue;
                        }
                        d.add(new Detection(x1, y1, x2, y2, conf, c));
                    } catch (NumberFormatException e) {
                        problems.add(new YoloDataset.Problem(f, i + 1, "expected 'class conf x1 y1 x2 y2', got '" + l + "'"));
                    }
                }
            }
            out.add(d);
        }
        return out;
    }

    /** Strips leading zeros of a numeric stem ("000123" -> "123"), as Ultralytics' save_json makes image ids. */
    static String key(String id) {
        if (!id.isEmpty() && id.chars().allMatch(Character::isDigit)) {
            String s = id.replaceFirst("^0+(?=.)", "");
            return s;
        }
        return id;
    }

    static List<List<Detection>> readCocoResults(Path json, Annotations.Set gt, List<YoloDataset.Problem> problems) throws IOException {
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < gt.images().size(); i++) index.put(key(gt.images().get(i).id()), i);
        List<List<Detection>> out = new ArrayList<>();
        for (int i = 0; i < gt.images().size(); i++) out.add(new ArrayList<>());
        ObjectMapper mapper = new ObjectMapper();
        try (JsonParser p = mapper.getFactory().createParser(json.toFile())) {
            if (p.nextToken() != JsonToken.START_ARRAY) throw new IOException(json + ":1: COCO results are a JSON array");
            while (p.nextToken() == JsonToken.START_OBJECT) {
                int line = p.currentTokenLocation().getLineNr();
                JsonNode n = mapper.readTree(p);
                Integer im = index.get(key(n.path("image_id").asText()));
                if (im == null) {
                    problems.add(new YoloDataset.Problem(json, line, "image_id " + n.path("image_id") + " is not in the ground truth"));
                    continue;
                }
                int cls = gt.categoryIds().indexOf(n.path("category_id").asLong(Long.MIN_VALUE));
                JsonNode b = n.get("bbox");
                if (cls < 0) {
                    problems.add(new YoloDataset.Problem(json, line, "unknown category_id " + n.path("category_id")));
                    continue;
                }
                if (b == null || !b.isArray() || b.size() != 4 || !n.path("score").isNumber()) {
                    problems.add(new YoloDataset.Problem(json, line, "entry needs bbox [x, y, w, h] and a numeric score"));
                    continue;
                }
                float x = (float) b.get(0).asDouble(), y = (float) b.get(1).asDouble(), w = (float) b.get(2).asDouble(), h = (float) b.get(3).asDouble();
                out.get(im).add(new Detection(x, y, x + w, y + h, (float) n.get("score").asDouble(), cls));
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException(json + ":" + e.getLocation().getLineNr() + ": malformed JSON: " + e.getOriginalMessage(), e);
        }
        return out;
    }

    /** Writes one image's detections as "class conf x1 y1 x2 y2" lines (pixels). */
    public static void writeTxt(Path file, List<Detection> dets) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (Detection d : dets)
            sb.append(String.format(Locale.ROOT, "%d %.5f %.2f %.2f %.2f %.2f%n", d.cls(), d.conf(), d.x1(), d.y1(), d.x2(), d.y2()));
        org.jprune.engine.io.SafeTensors.atomicWrite(file, sb.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
}
