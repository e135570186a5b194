package org.jprune.yolo.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * A dataset in YOLO txt format described by a data YAML (path, train, val, nc, names), Ultralytics'
 * layout: images under .../images/..., labels under the parallel .../labels/... with the same stem
 * and .txt, one object per line "class cx cy w h" normalised to [0, 1]. An image without a label
 * file is a background image. Problems are collected with file and line, never silently dropped.
 */
public final class YoloDataset {
    /** One object: class and normalised centre/size. */
    public record Label(int cls, float cx, float cy, float w, float h) {}

    /** One image and its labels. */
    public record Sample(Path image, Path labelFile, List<Label> labels) {}

    /** A problem found while reading, with where it is. */
    public record Problem(Path file, int line, String message) {
        @Override public String toString() { return file + (line > 0 ? ":" + line : "") + ": " + message; }
    }

    /**
     * A data YAML. format: yolo (train/val are image directories, text files listing images, or lists
     * of either, as Ultralytics reads them), voc (train/val are ImageSets files
     * or lists of them, relative to path = the VOCdevkit folder, e.g. VOC2007/ImageSets/Main/trainval.txt),
     * coco (train/val are instances JSON files, train_images/val_images their image folders) or wider
     * (train/val are wider_face_*_bbx_gt.txt files, train_images/val_images the WIDER_*\/images folders).
     */
    public record DataConfig(Path yaml, Path root, Path train, Path val, int nc, List<String> names, String format,
                             List<Path> trainFiles, List<Path> valFiles, Path trainImages, Path valImages) {
        public static final List<String> FORMATS = List.of("yolo", "voc", "coco", "wider");
    }

    /**
     * Image files as Ultralytics lists them (its IMG_FORMATS): those ImageIO decodes (PNG, JPEG and MPO,
     * BMP, TIFF) and WebP, DNG and PFM, which it cannot: they are listed all the same, so that a folder
     * holding them is refused naming the file (Images.read) instead of silently shrinking.
     */
    private static final List<String> IMAGE_EXT = List.of(".png", ".jpg", ".jpeg", ".mpo", ".bmp", ".tif", ".tiff", ".webp", ".dng", ".pfm");

    private final DataConfig config;
    private final String split;
    private final List<Sample> samples;
    private final List<Problem> problems;

    private YoloDataset(DataConfig config, String split, List<Sample> samples, List<Problem> problems) {
        this.config = config;
        this.split = split;
        this.samples = samples;
        this.problems = problems;
    }

    public DataConfig config() { return config; }
    public String split() { return split; }
    public List<Sample> samples() { return samples; }
    /** Every problem found: samples with problems are still listed, with the valid labels only. */
    public List<Problem> problems() { return problems; }

    public static DataConfig readConfig(Path yaml) throws IOException {
        Object o;
        try {
            o = new Yaml(new SafeConstructor(new LoaderOptions())).load(Files.readString(yaml));
        } catch (MarkedYAMLException e) {
            throw new IllegalArgumentException(yaml + ":" + (e.getProblemMark().getLine() + 1) + ": " + e.getProblem(), e);
        }
        if (!(o instanceof Map<?, ?> m)) throw new IllegalArgumentException(yaml + ":1: a data YAML must be a mapping");
        Path base = yaml.toAbsolutePath().getParent();
        Path root = (m.get("path") == null ? base : base.resolve(String.valueOf(m.get("path")))).normalize();
        String format = m.get("format") == null ? "yolo" : String.valueOf(m.get("format")).toLowerCase(Locale.ROOT);
        if (!DataConfig.FORMATS.contains(format)) throw new IllegalArgumentException(yaml + ": format must be one of " + DataConfig.FORMATS + ", got " + format);
        for (String k : List.of("train", "val"))
            if (m.get(k) == null) throw new IllegalArgumentException(yaml + ": missing '" + k + "'");
        List<Path> trainFiles = files(root, m.get("train")), valFiles = files(root, m.get("val"));
        Path trainImages = m.get("train_images") == null ? null : root.resolve(String.valueOf(m.get("train_images")));
        Path valImages = m.get("val_images") == null ? null : root.resolve(String.valueOf(m.get("val_images")));
        if ((format.equals("coco") || format.equals("wider")) && (trainImages == null || valImages == null))
            throw new IllegalArgumentException(yaml + ": format " + format + " needs train_images and val_images (the image folders)");
        if (m.get("names") == null && format.equals("wider")) m = withNames(m, List.of("face"));
        if (m.get("names") == null && format.equals("coco")) {
            List<YoloDataset.Problem> ignored = new ArrayList<>();
            m = withNames(m, Annotations.readCoco(trainFiles.get(0), trainImages, ignored).names());
        }
        if (m.get("names") == null) throw new IllegalArgumentException(yaml + ": missing 'names'");
        List<String> names = new ArrayList<>();
        if (m.get("names") instanceof List<?> l) for (Object n : l) names.add(String.valueOf(n));
        else if (m.get("names") instanceof Map<?, ?> nm) for (int i = 0; i < nm.size(); i++) {
            Object n = nm.get(i);
            if (n == null) throw new IllegalArgumentException(yaml + ": names must map 0.." + (nm.size() - 1) + " to names");
            names.add(String.valueOf(n));
        }
        else throw new IllegalArgumentException(yaml + ": names must be a list or a map");
        int nc = m.get("nc") instanceof Integer i ? i : names.size();
        if (nc != names.size()) throw new IllegalArgumentException(yaml + ": nc is " + nc + " but " + names.size() + " names are given");
        return new DataConfig(yaml, root, trainFiles.get(0), valFiles.get(0), nc, List.copyOf(names), format, trainFiles, valFiles, trainImages, valImages);
    }

    private static List<Path> files(Path root, Object spec) {
        List<Path> out = new ArrayList<>();
        if (spec instanceof List<?> l) for (Object o : l) out.add(root.resolve(String.valueOf(o)).normalize());
        else out.add(root.resolve(String.valueOf(spec)).normalize());
        if (out.isEmpty()) throw new IllegalArgumentException("empty train/val list");
        return out;
    }

    private static Map<?, ?> withNames(Map<?, ?> m, List<String> names) {
        Map<Object, Object> copy = new java.util.LinkedHashMap<>(m);
        copy.put("names", names);
        return copy;
    }

    /** Reads the split ("train" or "val"); checkImages also decodes every image (slower, for data check). */
    public static YoloDataset load(DataConfig cfg, String split, boolean checkImages) throws IOException {
        if (!cfg.format().equals("yolo")) {
            List<Problem> problems = new ArrayList<>();
            List<Annotations.Image> images = annotations(cfg, split, problems);
            if (checkImages) for (Annotations.Image im : images) checkImage(im.path(), problems);
            if (images.isEmpty()) problems.add(new Problem(split.equals("train") ? cfg.train() : cfg.val(), 0, "no images"));
            return new YoloDataset(cfg, split, Annotations.toSamples(images, cfg.format().equals("voc")), List.copyOf(problems));
        }
        List<Sample> samples = new ArrayList<>();
        List<Problem> problems = new ArrayList<>();
        List<Path> images = new ArrayList<>();
        for (Path entry : split.equals("train") ? cfg.trainFiles() : cfg.valFiles()) images.addAll(imagesOf(cfg, split, entry, problems));
        if (images.isEmpty()) problems.add(new Problem(split.equals("train") ? cfg.train() : cfg.val(), 0, "no images (" + String.join(", ", IMAGE_EXT) + ")"));
        for (Path img : images) {
            Path label = labelPath(img);
            List<Label> labels = new ArrayList<>();
            if (Files.isRegularFile(label)) labels = parseLabels(label, cfg.nc(), problems);
            if (checkImages) checkImage(img, problems);
            samples.add(new Sample(img, label, List.copyOf(labels)));
        }
        return new YoloDataset(cfg, split, List.copyOf(samples), List.copyOf(problems));
    }

    /**
     * The images of one train/val entry of a YOLO data YAML, as Ultralytics reads it: a directory (its
     * images, recursively), a text file listing images one per line (a line "./x" is relative to the
     * list's folder, any other line taken as it is, or, where that names no file, relative to the
     * list's folder too; blank lines skipped; a listed file that is missing or not an image is a
     * problem naming the list and line, and is left out), or one image file.
     */
    static List<Path> imagesOf(DataConfig cfg, String split, Path entry, List<Problem> problems) throws IOException {
        if (Files.isDirectory(entry)) return listImages(entry);
        if (!Files.isRegularFile(entry)) throw new IOException(cfg.yaml() + ": " + split + " path " + entry + " does not exist");
        if (isImage(entry)) return List.of(entry);
        List<String> lines;
        try {
            lines = Files.readAllLines(entry, java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.nio.charset.MalformedInputException e) {
            throw new IOException(cfg.yaml() + ": " + split + " path " + entry + " is neither a directory, an image nor a text list of images", e);
        }
        Path parent = entry.toAbsolutePath().getParent();
        List<Path> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i).strip();
            if (l.isEmpty()) continue;
            Path p;
            try {
                p = l.startsWith("./") ? parent.resolve(l.substring(2)) : Path.of(l);
                if (!p.isAbsolute() && !Files.exists(p)) p = parent.resolve(l);
                p = p.normalize();
            } catch (java.nio.file.InvalidPathException e) {
                problems.add(new Problem(entry, i + 1, "not a path: '" + l + "'"));
                continue;
            }
            if (!isImage(p)) problems.add(new Problem(entry, i + 1, "not an image file name (" + String.join(", ", IMAGE_EXT) + "): '" + l + "'"));
            else if (!Files.isRegularFile(p)) problems.add(new Problem(entry, i + 1, "image " + p + " not found"));
            else out.add(p);
        }
        return out;
    }

    /** The split's annotated images (pixel boxes, difficult/crowd kept), for any format. */
    public static List<Annotations.Image> annotations(DataConfig cfg, String split, List<Problem> problems) throws IOException {
        return annotations(cfg, split, problems, null);
    }

    /**
     * The split's ground truth as a set: images, class names and, for COCO data, each class's COCO
     * category id (so a COCO results JSON, which names categories by id, is scored against the right class).
     */
    public static Annotations.Set annotationSet(DataConfig cfg, String split, List<Problem> problems) throws IOException {
        List<Long> ids = new ArrayList<>();
        List<Annotations.Image> images = annotations(cfg, split, problems, ids);
        return ids.size() == cfg.names().size() ? new Annotations.Set(images, cfg.names(), List.copyOf(ids)) : new Annotations.Set(images, cfg.names());
    }

    private static List<Annotations.Image> annotations(DataConfig cfg, String split, List<Problem> problems, List<Long> categoryIds) throws IOException {
        List<Path> files = split.equals("train") ? cfg.trainFiles() : cfg.valFiles();
        Path images = split.equals("train") ? cfg.trainImages() : cfg.valImages();
        List<Annotations.Image> out = new ArrayList<>();
        switch (cfg.format()) {
            case "voc" -> {
                for (Path set : files) {
                    if (!Files.isRegularFile(set)) throw new IOException(cfg.yaml() + ": " + split + " image set " + set + " does not exist");
                    // VOCdevkit/VOC2007/ImageSets/Main/trainval.txt -> VOCdevkit/VOC2007/Annotations/<id>.xml
                    Path abs = set.toAbsolutePath().normalize();
                    if (abs.getNameCount() < 4)
                        throw new IOException(cfg.yaml() + ": " + split + " image set " + set + " is not in VOCdevkit/VOCyyyy/ImageSets/Main/");
                    Path year = abs.getParent().getParent().getParent();
                    List<Path> xmls = new ArrayList<>();
                    List<String> ids = Files.readAllLines(set);
                    for (int i = 0; i < ids.size(); i++) {
                        String id = ids.get(i).strip().split("\\s+")[0];
                        if (id.isEmpty()) continue;
                        Path xml = year.resolve("Annotations").resolve(id + ".xml");
                        if (Files.isRegularFile(xml)) xmls.add(xml);
                        else problems.add(new Problem(set, i + 1, "no annotation " + xml));
                    }
                    out.addAll(Annotations.readVoc(xmls, cfg.names(), problems));
                }
            }
            case "coco" -> {
                for (Path f : files) {
                    Annotations.Set s = Annotations.readCoco(f, images, problems);
                    out.addAll(s.images());
                    if (categoryIds != null && categoryIds.isEmpty()) categoryIds.addAll(s.categoryIds());
                }
            }
            case "wider" -> { for (Path f : files) out.addAll(Annotations.readWider(f, images, problems).images()); }
            default -> {
                List<Path> imgs = new ArrayList<>();
                for (Path entry : files) imgs.addAll(imagesOf(cfg, split, entry, problems));
                out.addAll(Annotations.readYolo(imgs, cfg.nc(), problems));
            }
        }
        return out;
    }

    /** Whether the file name has one of the image extensions (IMAGE_EXT). */
    public static boolean isImage(Path p) { return hasImageExtension(p.getFileName().toString()); }

    /** Whether a file name ends in one of the image extensions (case-insensitive). */
    public static boolean hasImageExtension(String name) {
        String n = name.strip().toLowerCase(Locale.ROOT);
        return IMAGE_EXT.stream().anyMatch(n::endsWith);
    }

    /** The images under dir (recursively), sorted. */
    public static List<Path> listImages(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(YoloDataset::isImage).sorted().toList();
        }
    }

    /** Ultralytics' rule: the last /images/ in the path becomes /labels/, the extension .txt. */
    public static Path labelPath(Path image) {
        String s = image.toAbsolutePath().normalize().toString(); // "images/a.png" (relative) has no "/images/" to replace
        int i = s.lastIndexOf("/images/");
        String stem = s.substring(0, s.lastIndexOf('.'));
        if (i >= 0) stem = stem.substring(0, i) + "/labels/" + stem.substring(i + "/images/".length());
        return Path.of(stem + ".txt");
    }

    /** Parses a label file; malformed lines are reported (file:line) and skipped, valid ones kept. */
    public static List<Label> parseLabels(Path file, int nc, List<Problem> problems) throws IOException {
        List<Label> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(file);
        Map<Label, Integer> seen = new java.util.HashMap<>();
        for (int ln = 1; ln <= lines.size(); ln++) {
            String line = lines.get(ln - 1).strip();
            if (line.isEmpty()) continue;
            String[] f = line.split("\\s+");
            // a box, or a polygon (segmentation labels: class and 3 or more x y points) read as its bounding box, as Ultralytics does
            boolean polygon = f.length >= 7 && f.length % 2 == 1;
            if (f.length != 5 && !polygon) {
                problems.add(new Problem(file, ln, "expected 'class cx cy w h' (or a polygon 'class x1 y1 x2 y2 x3 y3 ...'), got " + f.length
                        + " fields: '" + line + "'"));
                continue;
            }
            double c;
            float[] v = new float[4];
            try {
                c = Double.parseDouble(f[0]);  // "3" or "3.0", as Ultralytics reads the class column as a float
                if (!polygon) {
                    for (int i = 0; i < 4; i++) v[i] = Float.parseFloat(f[i + 1]);
                } else {
                    float x0 = Float.POSITIVE_INFINITY, y0 = Float.POSITIVE_INFINITY, x1 = Float.NEGATIVE_INFINITY, y1 = Float.NEGATIVE_INFINITY;
                    for (int i = 1; i < f.length; i += 2) {
                        float x = Float.parseFloat(f[i]), y = Float.parseFloat(f[i + 1]);
                        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
                        if (Float.isNaN(x) || Float.isNaN(y)) x0 = Float.NaN;
                    }
                    v = new float[] {(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0};
                }
            } catch (NumberFormatException e) {
                problems.add(new Problem(file, ln, "not a number in '" + line + "'"));
                continue;
            }
            if (c != Math.rint(c) || c < 0 || c >= nc) {
                problems.add(new Problem(file, ln, "class " + f[0] + (c != Math.rint(c) ? " is not a whole number" : " outside [0, " + nc + ")")));
                continue;
            }
            int cls = (int) c;
            boolean finite = true;
            for (float x : v) finite &= Float.isFinite(x);
            if (!finite || v[2] <= 0 || v[3] <= 0 || v[0] - v[2] / 2 < -1e-3 || v[0] + v[2] / 2 > 1 + 1e-3 || v[1] - v[3] / 2 < -1e-3
                    || v[1] + v[3] / 2 > 1 + 1e-3) {
                problems.add(new Problem(file, ln, "box " + line.substring(f[0].length()).strip() + " is empty or outside the image (normalised [0, 1])"));
                continue;
            }
            Label l = new Label(cls, v[0], v[1], v[2], v[3]);
            Integer first = seen.putIfAbsent(l, ln);
            if (first != null) { // an exact duplicate is one object, not two (Ultralytics drops them too)
                problems.add(new Problem(file, ln, "duplicate of line " + first + " (dropped)"));
                continue;
            }
            out.add(l);
        }
        return out;
    }

    private static void checkImage(Path img, List<Problem> problems) {
        try {
            if (Files.size(img) == 0) {
                problems.add(new Problem(img, 0, "empty file"));
                return;
            }
            BufferedImage im = Images.read(img);
            if (im.getWidth() < 2 || im.getHeight() < 2) problems.add(new Problem(img, 0, "image is " + im.getWidth() + "x" + im.getHeight()));
        } catch (IOException e) {
            String m = e.getMessage() == null ? e.toString() : e.getMessage();
            problems.add(new Problem(img, 0, m.startsWith(img.toString() + ": ") ? m.substring(img.toString().length() + 2) : m));
        } catch (RuntimeException e) {
            problems.add(new Problem(img, 0, "unreadable image: " + e));
        }
    }

}
