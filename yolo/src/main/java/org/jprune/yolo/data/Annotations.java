package org.jprune.yolo.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import javax.xml.parsers.SAXParserFactory;
import org.xml.sax.Attributes;
import org.xml.sax.Locator;
import org.xml.sax.SAXParseException;
import org.xml.sax.helpers.DefaultHandler;

/**
 * Readers for the annotation formats detectors are trained and evaluated on, into one in-memory form
 * (pixel boxes per image, with VOC's difficult and COCO's iscrowd/area kept for evaluation): YOLO txt,
 * Pascal VOC XML (VOCdevkit layout), COCO JSON (instances), WIDER Face (wider_face_*_bbx_gt.txt).
 * Every problem is reported with its file and line, and the object or image it concerns is skipped,
 * never silently dropped.
 */
public final class Annotations {
    private Annotations() {}

    /** An object: class, pixel box (x1, y1, x2, y2), VOC difficult, COCO iscrowd, COCO area (w*h if absent), source line. */
    public record Obj(int cls, double x1, double y1, double x2, double y2, boolean difficult, boolean crowd, double area, int line) {}

    /** An annotated image: the image file, its size, its objects, and the annotation file they came from. */
    public record Image(String id, Path path, int width, int height, List<Obj> objects, Path source) {}

    /** Images and class names read from one source; categoryIds: COCO's category id of each class (else 0..n-1). */
    public record Set(List<Image> images, List<String> names, List<Long> categoryIds) {
        public Set(List<Image> images, List<String> names) { this(images, names, java.util.stream.LongStream.range(0, names.size()).boxed().toList()); }
    }


    /** Ground truth read by {@link #readGroundTruth}; vocPixels: VOC's 1-based pixel convention applies when evaluating. */
    public record GroundTruth(Set set, boolean vocPixels) {}

    /**
     * Ground truth from a file or folder: a COCO instances JSON, a folder of VOC XML files, or images with
     * YOLO labels. format: coco, voc or yolo; null chooses from the path (.json: coco, a folder holding
     * .xml files: voc, else yolo). names: the class names in index order (needed for voc and yolo).
     */
    public static GroundTruth readGroundTruth(Path gt, String format, List<String> names, List<YoloDataset.Problem> problems) throws IOException {
        String f = format != null ? format.strip().toLowerCase(Locale.ROOT) : gt.toString().endsWith(".json") ? "coco" : Files.isDirectory(gt) && hasXml(gt) ? "voc" : "yolo";
        switch (f) {
            case "coco" -> {
                return new GroundTruth(readCoco(gt, gt.toAbsolutePath().getParent(), problems), false);
            }
            case "voc", "yolo" -> {
                if (names == null || names.isEmpty()) throw new IllegalArgumentException("ground truth format " + f + " needs the class names");
                if (f.equals("yolo")) return new GroundTruth(new Set(readYolo(YoloDataset.listImages(gt), names.size(), problems), names), false);
                List<Path> xmls;
                try (var s = Files.walk(gt)) {
                    xmls = s.filter(p -> p.toString().endsWith(".xml")).sorted().toList();
                }
                return new GroundTruth(new Set(readVoc(xmls, names, problems), names), true);
            }
            default -> throw new IllegalArgumentException("ground truth format must be yolo, voc or coco, got '" + format + "'");
        }
    }

    private static boolean hasXml(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            return s.anyMatch(p -> p.toString().endsWith(".xml"));
        }
    }

    // ------------------------------------------------------------------ YOLO txt

    /** YOLO txt labels of these images (label path by Ultralytics' images/ -> labels/ rule), boxes in pixels. */
    public static List<Image> readYolo(List<Path> images, int nc, List<YoloDataset.Problem> problems) throws IOException {
        List<Image> out = new ArrayList<>();
        for (Path img : images) {
            int[] wh;
            try {
                wh = Images.size(img);
            } catch (IOException e) {
                problems.add(new YoloDataset.Problem(img, 0, e.getMessage()));
                continue;
            }
            Path label = YoloDataset.labelPath(img);
            List<Obj> objs = new ArrayList<>();
            if (Files.isRegularFile(label))
                for (YoloDataset.Label l : YoloDataset.parseLabels(label, nc, problems))
                    objs.add(obj(l.cls(), (l.cx() - l.w() / 2) * wh[0], (l.cy() - l.h() / 2) * wh[1], (l.cx() + l.w() / 2) * wh[0],
                            (l.cy() + l.h() / 2) * wh[1], false, false, -1, 0));
            out.add(new Image(stem(img), img, wh[0], wh[1], List.copyOf(objs), label));
        }
        if (!images.isEmpty() && out.stream().noneMatch(im -> Files.isRegularFile(im.source())))
            problems.add(new YoloDataset.Problem(images.get(0), 0, "no label file for any of the " + images.size() + " images (expected e.g. "
                    + YoloDataset.labelPath(images.get(0)) + ": labels/ beside images/, as Ultralytics lays them out)"));
        return out;
    }

    static Obj obj(int cls, double x1, double y1, double x2, double y2, boolean difficult, boolean crowd, double area, int line) {
        return new Obj(cls, x1, y1, x2, y2, difficult, crowd, area >= 0 ? area : (x2 - x1) * (y2 - y1), line);
    }

    public static String stem(Path p) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    // ------------------------------------------------------------------ Pascal VOC

    /**
     * VOC XML files (VOCdevkit layout: the image is ../JPEGImages/&lt;filename&gt; next to Annotations/).
     * Class names are matched against names (unknown names are problems); boxes are the XML's 1-based
     * inclusive pixel coordinates, as the devkit evaluates them.
     */
    public static List<Image> readVoc(List<Path> xmls, List<String> names, List<YoloDataset.Problem> problems) throws IOException {
        List<Image> out = new ArrayList<>();
        SAXParserFactory f = SAXParserFactory.newInstance();
        for (Path xml : xmls) {
            VocHandler h = new VocHandler();
            try (InputStream in = Files.newInputStream(xml)) {
                var parser = f.newSAXParser();
                parser.getXMLReader().setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
                parser.parse(in, h);
            } catch (SAXParseException e) {
                problems.add(new YoloDataset.Problem(xml, e.getLineNumber(), "malformed XML: " + e.getMessage()));
                continue;
            } catch (IOException e) {
                problems.add(new YoloDataset.Problem(xml, 0, "unreadable: " + e.getMessage()));
                continue;
            } catch (Exception e) {
                problems.add(new YoloDataset.Problem(xml, 0, "malformed XML: " + e.getMessage()));
                continue;
            }
            String file = h.values.get("filename");
            if (file == null) {
                problems.add(new YoloDataset.Problem(xml, 0, "no <filename>"));
                continue;
            }
            Path img = xml.toAbsolutePath().getParent().resolveSibling("JPEGImages").resolve(file);
            int w = intOr(h.values.get("size/width"), -1), hh = intOr(h.values.get("size/height"), -1);
            if (w <= 0 || hh <= 0) {
                try {
                    int[] wh = Images.size(img);
                    w = wh[0];
                    hh = wh[1];
                } catch (IOException e) {
                    problems.add(new YoloDataset.Problem(xml, h.sizeLine, "no usable <size> and " + e.getMessage()));
                    continue;
                }
            }
            List<Obj> objs = new ArrayList<>();
            for (Map<String, String> o : h.objects) {
                int line = Integer.parseInt(o.get("#line"));
                String name = o.getOrDefault("name", "").strip();
                int cls = names.indexOf(name);
                if (cls < 0) {
                    problems.add(new YoloDataset.Problem(xml, line, "unknown class '" + name + "' (not in names)"));
                    continue;
                }
                double x1, y1, x2, y2;
                try {
                    x1 = Double.parseDouble(o.get("bndbox/xmin").strip());
                    y1 = Double.parseDouble(o.get("bndbox/ymin").strip());
                    x2 = Double.parseDouble(o.get("bndbox/xmax").strip());
                    y2 = Double.parseDouble(o.get("bndbox/ymax").strip());
                } catch (RuntimeException e) {
                    problems.add(new YoloDataset.Problem(xml, line, "object '" + name + "' has no numeric bndbox xmin/ymin/xmax/ymax"));
                    continue;
                }
                if (!(x2 >= x1 && y2 >= y1 && x1 >= 0 && y1 >= 0 && x2 <= w + 1 && y2 <= hh + 1)) {
                    problems.add(new YoloDataset.Problem(xml, line, String.format(Locale.ROOT, "box (%.0f, %.0f, %.0f, %.0f) is empty or outside the %dx%d image",
                            x1, y1, x2, y2, w, hh)));
                    continue;
                }
                boolean difficult = "1".equals(o.getOrDefault("difficult", "0").strip());
                objs.add(obj(cls, x1, y1, x2, y2, difficult, false, -1, line));
            }
            out.add(new Image(stem(Path.of(file)), img, w, hh, List.copyOf(objs), xml));
        }
        return out;
    }

    private static int intOr(String s, int dflt) {
        if (s == null) return dflt;
        try {
            return (int) Math.round(Double.parseDouble(s.strip()));
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    /** Collects top-level values (path "size/width") and each &lt;object&gt;'s values with its line. */
    private static final class VocHandler extends DefaultHandler {
        final Map<String, String> values = new LinkedHashMap<>();
        final List<Map<String, String>> objects = new ArrayList<>();
        private final List<String> path = new ArrayList<>();
        private final StringBuilder text = new StringBuilder();
        private Map<String, String> current;
        private Locator locator;
        int sizeLine;

        @Override public void setDocumentLocator(Locator l) { locator = l; }

        @Override
        public void startElement(String uri, String local, String q, Attributes a) {
            path.add(q);
            text.setLength(0);
            if (path.size() == 2 && q.equals("object")) {
                current = new LinkedHashMap<>();
                current.put("#line", String.valueOf(locator == null ? 0 : locator.getLineNumber()));
            }
            if (path.size() == 2 && q.equals("size")) sizeLine = locator == null ? 0 : locator.getLineNumber();
        }

        @Override public void characters(char[] ch, int start, int len) { text.append(ch, start, len); }

        @Override
        public void endElement(String uri, String local, String q) {
            if (path.size() >= 3 && current != null && path.get(1).equals("object")) {
                String key = String.join("/", path.subList(2, path.size()));
                current.putIfAbsent(key, text.toString());
            } else if (path.size() >= 2 && current == null) {
                values.putIfAbsent(String.join("/", path.subList(1, path.size())), text.toString().strip());
            }
            if (path.size() == 2 && q.equals("object")) {
                objects.add(current);
                current = null;
            }
            path.remove(path.size() - 1);
            text.setLength(0);
        }
    }

    // ------------------------------------------------------------------ COCO JSON

    /**
     * A COCO instances JSON: images (id, file_name under imagesDir, width, height), categories (sorted
     * by id, mapped to classes 0..n-1; the names come from them) and annotations (bbox [x, y, w, h]
     * in pixels, area, iscrowd). Problems name the JSON file and the line where the entry starts.
     */
    public static Set readCoco(Path json, Path imagesDir, List<YoloDataset.Problem> problems) throws IOException {
        Map<Long, JsonNode> images = new LinkedHashMap<>();
        Map<Long, Integer> imageLines = new LinkedHashMap<>();
        TreeMap<Long, String> cats = new TreeMap<>();
        List<JsonNode> anns = new ArrayList<>();
        List<Integer> annLines = new ArrayList<>();
        ObjectMapper mapper = new ObjectMapper();
        try (JsonParser p = mapper.getFactory().createParser(json.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) throw new IOException(json + ":1: a COCO JSON file is an object");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                if (t == JsonToken.START_ARRAY && (field.equals("images") || field.equals("annotations") || field.equals("categories"))) {
                    while (p.nextToken() == JsonToken.START_OBJECT) {
                        int line = p.currentTokenLocation().getLineNr();
                        JsonNode n = mapper.readTree(p);
                        switch (field) {
                            case "images" -> {
                                if (!n.hasNonNull("id") || !n.hasNonNull("file_name")) {
                                    problems.add(new YoloDataset.Problem(json, line, "image entry without id or file_name"));
                                    continue;
                                }
                                images.put(n.get("id").asLong(), n);
                                imageLines.put(n.get("id").asLong(), line);
                            }
                            case "categories" -> {
                                if (!n.hasNonNull("id")) problems.add(new YoloDataset.Problem(json, line, "category without id"));
                                else cats.put(n.get("id").asLong(), n.path("name").asText("class" + n.get("id").asLong()));
                            }
                            default -> {
                                anns.add(n);
                                annLines.add(line);
                            }
                        }
                    }
                } else {
                    p.skipChildren();
                }
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException(json + ":" + e.getLocation().getLineNr() + ": malformed JSON: " + e.getOriginalMessage(), e);
        }
        List<Long> catIds = new ArrayList<>(cats.keySet());
        Map<Long, List<Obj>> perImage = new LinkedHashMap<>();
        for (Long id : images.keySet()) perImage.put(id, new ArrayList<>());
        for (int i = 0; i < anns.size(); i++) {
            JsonNode a = anns.get(i);
            int line = annLines.get(i);
            long imageId = a.path("image_id").asLong(Long.MIN_VALUE);
            JsonNode im = images.get(imageId);
            if (im == null) {
                problems.add(new YoloDataset.Problem(json, line, "annotation for unknown image_id " + a.path("image_id")));
                continue;
            }
            int cls = catIds.indexOf(a.path("category_id").asLong(Long.MIN_VALUE));
            if (cls < 0) {
                problems.add(new YoloDataset.Problem(json, line, "annotation with unknown category_id " + a.path("category_id")));
                continue;
            }
            JsonNode b = a.get("bbox");
            if (b == null || !b.isArray() || b.size() != 4 || !b.get(0).isNumber() || !b.get(1).isNumber() || !b.get(2).isNumber() || !b.get(3).isNumber()) {
                problems.add(new YoloDataset.Problem(json, line, "annotation without a numeric bbox [x, y, w, h]"));
                continue;
            }
            double x = b.get(0).asDouble(), y = b.get(1).asDouble(), w = b.get(2).asDouble(), h = b.get(3).asDouble();
            int iw = im.path("width").asInt(0), ih = im.path("height").asInt(0);
            // pycocotools takes boxes as they are: one that overhangs the image edge (annotation tools
            // write such) is kept; only an empty, non-finite or wholly outside box is refused
            boolean finite = Double.isFinite(x) && Double.isFinite(y) && Double.isFinite(w) && Double.isFinite(h);
            if (!(finite && w > 0 && h > 0 && x + w > 0 && y + h > 0 && (iw <= 0 || x < iw) && (ih <= 0 || y < ih))) {
                problems.add(new YoloDataset.Problem(json, line, String.format(Locale.ROOT, "bbox [%.1f, %.1f, %.1f, %.1f] is empty or outside the %dx%d image",
                        x, y, w, h, iw, ih)));
                continue;
            }
            perImage.get(imageId).add(obj(cls, x, y, x + w, y + h, false, a.path("iscrowd").asInt(0) != 0, a.has("area") ? a.get("area").asDouble() : -1, line));
        }
        List<Image> out = new ArrayList<>();
        for (var e : images.entrySet()) {
            JsonNode im = e.getValue();
            Path path = imagesDir.resolve(im.get("file_name").asText());
            int w = im.path("width").asInt(0), h = im.path("height").asInt(0);
            if (w <= 0 || h <= 0) {
                try {
                    int[] wh = Images.size(path);
                    w = wh[0];
                    h = wh[1];
                } catch (IOException ex) {
                    problems.add(new YoloDataset.Problem(json, imageLines.get(e.getKey()), "image without width/height and " + ex.getMessage()));
                    continue;
                }
            }
            out.add(new Image(String.valueOf(e.getKey()), path, w, h, List.copyOf(perImage.get(e.getKey())), json));
        }
        return new Set(out, List.copyOf(cats.values()), catIds);
    }

    // ------------------------------------------------------------------ WIDER Face

    /**
     * WIDER Face's wider_face_{train,val}_bbx_gt.txt: per image its path (under imagesDir), the face
     * count, then one line per face "x y w h blur expression illumination invalid occlusion pose"
     * (an image with 0 faces has one line of zeros). One class, "face". Faces marked invalid and faces
     * of zero width or height are reported (file:line) and skipped.
     */
    private static boolean looksLikeImage(String line) { return YoloDataset.hasImageExtension(line); }

    public static Set readWider(Path txt, Path imagesDir, List<YoloDataset.Problem> problems) throws IOException {
        List<String> lines = Files.readAllLines(txt);
        List<Image> out = new ArrayList<>();
        int i = 0;
        while (i < lines.size()) {
            String name = lines.get(i).strip();
            int nameLine = ++i;
            if (name.isEmpty()) continue;
            if (i >= lines.size()) {
                problems.add(new YoloDataset.Problem(txt, nameLine, "image '" + name + "' without a face count"));
                break;
            }
            int count;
            try {
                count = Integer.parseInt(lines.get(i).strip());
            } catch (NumberFormatException e) {
                count = -1;
            }
            if (count < 0 || count > 100_000) {
                // resynchronise at the next image name instead of reading this image's boxes as names
                problems.add(new YoloDataset.Problem(txt, i + 1, "expected a face count after '" + name + "', got '" + lines.get(i).strip()
                        + "' (image skipped)"));
                i++;
                while (i < lines.size() && !looksLikeImage(lines.get(i))) i++;
                continue;
            }
            i++;
            int rows = Math.max(count, 1);   // zero faces still have one line of zeros
            if (count < 0 || i + rows > lines.size()) {
                problems.add(new YoloDataset.Problem(txt, i, "face count " + count + " for '" + name + "' but the file ends"));
                break;
            }
            List<Obj> objs = new ArrayList<>();
            for (int k = 0; k < count; k++) {
                int ln = i + k + 1;
                String[] f = lines.get(i + k).strip().split("\\s+");
                if (f.length < 4) {
                    problems.add(new YoloDataset.Problem(txt, ln, "expected 'x y w h ...', got '" + lines.get(i + k).strip() + "'"));
                    continue;
                }
                double x, y, w, h;
                try {
                    x = Double.parseDouble(f[0]);
                    y = Double.parseDouble(f[1]);
                    w = Double.parseDouble(f[2]);
                    h = Double.parseDouble(f[3]);
                } catch (NumberFormatException e) {
                    problems.add(new YoloDataset.Problem(txt, ln, "not a number in '" + lines.get(i + k).strip() + "'"));
                    continue;
                }
                if (w <= 0 || h <= 0) {
                    problems.add(new YoloDataset.Problem(txt, ln, "face of zero width or height (skipped)"));
                    continue;
                }
                // WIDER's own evaluation ignores faces marked invalid: neither a miss nor, for a detection
                // on one, a false positive; kept as ignored truths (like VOC's difficult), not trained on
                boolean invalid = f.length >= 8 && f[7].equals("1");
                objs.add(obj(0, x, y, x + w, y + h, invalid, false, -1, ln));
            }
            i += rows;
            Path img = imagesDir.resolve(name);
            int[] wh;
            try {
                wh = Images.size(img);
            } catch (IOException e) {
                problems.add(new YoloDataset.Problem(txt, nameLine, e.getMessage()));
                continue;
            }
            List<Obj> kept = new ArrayList<>();
            for (Obj o : objs) {
                if (o.x2() > wh[0] + 1 || o.y2() > wh[1] + 1) problems.add(new YoloDataset.Problem(txt, o.line(), "face outside the " + wh[0] + "x" + wh[1] + " image"));
                else kept.add(o);
            }
            out.add(new Image(stem(img), img, wh[0], wh[1], List.copyOf(kept), txt));
        }
        return new Set(out, List.of("face"));
    }

    // ------------------------------------------------------------------ to training samples

    /**
     * Training samples: boxes normalised to the image; VOC boxes move from 1-based inclusive to 0-based
     * (x1 - 1, as Ultralytics' VOC conversion does); difficult and crowd objects are left out of
     * training (evaluation keeps them) and counted in the returned problems as notes only when asked.
     */
    public static List<YoloDataset.Sample> toSamples(List<Image> images, boolean vocPixels) {
        List<YoloDataset.Sample> out = new ArrayList<>();
        for (Image im : images) {
            List<YoloDataset.Label> labels = new ArrayList<>();
            for (Obj o : im.objects()) {
                if (o.difficult() || o.crowd()) continue;
                double x1 = vocPixels ? o.x1() - 1 : o.x1(), y1 = vocPixels ? o.y1() - 1 : o.y1();
                x1 = Math.max(0, x1);
                y1 = Math.max(0, y1);
                double x2 = Math.min(im.width(), o.x2()), y2 = Math.min(im.height(), o.y2());
                if (x2 <= x1 || y2 <= y1) continue;
                labels.add(new YoloDataset.Label(o.cls(), (float) ((x1 + x2) / 2 / im.width()), (float) ((y1 + y2) / 2 / im.height()),
                        (float) ((x2 - x1) / im.width()), (float) ((y2 - y1) / im.height())));
            }
            out.add(new YoloDataset.Sample(im.path(), im.source(), List.copyOf(labels)));
        }
        return out;
    }
}
