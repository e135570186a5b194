package org.jprune.yolo.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A darknet .cfg file read into a {@link ModelConfig} whose rows are the cfg's layer sections
 * (convolutional, maxpool, route incl. groups/group_id, shortcut, upsample, yolo), indexed as darknet
 * indexes them ([net] excluded). Each row's single argument is its options (key -> value, as written)
 * and {@code from} holds what it reads: the previous layer, a route's layers or a shortcut's from.
 * The anchors of each [yolo] section are the ones its mask selects, in the order the sections appear.
 * Errors name the file and line.
 */
public final class DarknetConfig {
    public static final List<String> SECTIONS = List.of("convolutional", "maxpool", "route", "shortcut", "upsample", "yolo");

    private DarknetConfig() {}

    /** A section as read: type, options, the line of its header and of each option. */
    private record Section(String type, Map<String, String> options, Map<String, Integer> lines, int line) {}

    public static ModelConfig parse(String source, String text) {
        List<Section> sections = new ArrayList<>();
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String l = lines[i];
            int hash = indexOfComment(l);
            if (hash >= 0) l = l.substring(0, hash);
            l = l.strip();
            if (l.isEmpty()) continue;
            if (l.startsWith("[")) {
                if (!l.endsWith("]")) throw new IllegalArgumentException(source + ":" + (i + 1) + ": section header must look like [name], got '" + l + "'");
                sections.add(new Section(l.substring(1, l.length() - 1).strip().toLowerCase(Locale.ROOT), new LinkedHashMap<>(), new LinkedHashMap<>(), i + 1));
                continue;
            }
            int eq = l.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException(source + ":" + (i + 1) + ": expected key=value, got '" + l + "'");
            if (sections.isEmpty()) throw new IllegalArgumentException(source + ":" + (i + 1) + ": option before the first [section]");
            Section s = sections.get(sections.size() - 1);
            String key = l.substring(0, eq).strip().toLowerCase(Locale.ROOT);
            s.options().put(key, l.substring(eq + 1).strip());
            s.lines().put(key, i + 1);
        }
        if (sections.isEmpty() || !sections.get(0).type().equals("net") && !sections.get(0).type().equals("network"))
            throw new IllegalArgumentException(source + ":1: a darknet cfg starts with a [net] section");
        Section net = sections.get(0);
        int channels = intOpt(source, net, "channels", 3);
        if (channels != 3) throw new IllegalArgumentException(source + ":" + net.lines().get("channels") + ": only 3-channel input is supported, got " + channels);

        List<ModelConfig.Row> rows = new ArrayList<>();
        List<float[]> anchors = new ArrayList<>();
        int nc = -1;
        for (int k = 1; k < sections.size(); k++) {
            Section s = sections.get(k);
            int index = k - 1;
            if (!SECTIONS.contains(s.type()))
                throw new IllegalArgumentException(source + ":" + s.line() + ": unsupported section [" + s.type() + "] (supported: " + String.join(", ", SECTIONS) + ")");
            int[] from = switch (s.type()) {
                case "route" -> layerList(source, s, "layers", index);
                case "shortcut" -> {
                    int[] f = layerList(source, s, "from", index);
                    if (f.length != 1) throw error(source, s, "from", "shortcut takes one 'from' layer");
                    yield new int[] {index - 1, f[0]};
                }
                default -> new int[] {index - 1};
            };
            if (s.type().equals("yolo")) {
                int classes = intOpt(source, s, "classes", 20);
                if (classes <= 0) throw error(source, s, "classes", "classes must be > 0");
                if (nc >= 0 && nc != classes) throw error(source, s, "classes", "every [yolo] must have the same classes (" + nc + " before)");
                nc = classes;
                int[] all = intList(source, s, "anchors");
                if (all.length == 0 || all.length % 2 != 0) throw error(source, s, "anchors", "anchors must be w,h pairs");
                int[] mask = s.options().containsKey("mask") ? intList(source, s, "mask") : range(all.length / 2);
                float[] a = new float[mask.length * 2];
                for (int i = 0; i < mask.length; i++) {
                    if (mask[i] < 0 || mask[i] >= all.length / 2) throw error(source, s, "mask", "mask " + mask[i] + " names no anchor (" + all.length / 2 + " given)");
                    a[2 * i] = all[2 * mask[i]];
                    a[2 * i + 1] = all[2 * mask[i] + 1];
                }
                if (!anchors.isEmpty() && anchors.get(0).length != a.length)
                    throw error(source, s, "mask", "every [yolo] must use the same number of anchors");
                anchors.add(a);
                Section prev = index == 0 ? null : sections.get(k - 1);
                if (prev == null || !prev.type().equals("convolutional"))
                    throw new IllegalArgumentException(source + ":" + s.line() + ": [yolo] must follow the [convolutional] that predicts for it");
                int filters = intOpt(source, prev, "filters", -1), want = mask.length * (classes + 5);
                if (filters != want)
                    throw error(source, prev, "filters", "the convolutional before [yolo] must have filters=" + want + " (" + mask.length + " anchors x (" + classes + " classes + 5)), got " + filters);
            }
            rows.add(new ModelConfig.Row(index, from, 1, s.type(), List.of(Map.copyOf(s.options())), s.line()));
        }
        if (anchors.isEmpty()) throw new IllegalArgumentException(source + ": no [yolo] section");
        return new ModelConfig(source, nc, 1.0, 1.0, List.copyOf(anchors), List.copyOf(rows), ModelConfig.Format.DARKNET);
    }

    private static int indexOfComment(String l) {
        int a = l.indexOf('#'), b = l.indexOf(';');
        return a < 0 ? b : b < 0 ? a : Math.min(a, b);
    }

    private static int[] range(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) r[i] = i;
        return r;
    }

    private static IllegalArgumentException error(String source, Section s, String key, String msg) {
        return new IllegalArgumentException(source + ":" + s.lines().getOrDefault(key, s.line()) + ": [" + s.type() + "] " + msg);
    }

    static int intOpt(String source, Section s, String key, int dflt) {
        String v = s.options().get(key);
        if (v == null) return dflt;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw error(source, s, key, key + " must be an integer, got '" + v + "'");
        }
    }

    private static int[] intList(String source, Section s, String key) {
        String v = s.options().get(key);
        if (v == null || v.isBlank()) throw error(source, s, key, "missing " + key + "=");
        String[] parts = v.split(",");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                out[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException e) {
                throw error(source, s, key, key + " must list integers, got '" + v + "'");
            }
        }
        return out;
    }

    /** Layer references: negative ones are relative to this layer, others absolute; all must be earlier. */
    private static int[] layerList(String source, Section s, String key, int index) {
        int[] l = intList(source, s, key);
        for (int i = 0; i < l.length; i++) {
            int abs = l[i] < 0 ? index + l[i] : l[i];
            if (abs < 0 || abs >= index) throw error(source, s, key, key + " " + l[i] + " does not name an earlier layer (this is layer " + index + ")");
            l[i] = abs;
        }
        return l;
    }
}
