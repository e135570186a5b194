package org.jprune.yolo;

/**
 * The limits input is checked against before anything is allocated, in one place. Two can be
 * raised for one run with a system property: the model's parameters ({@code -Djprune.maxParams=N})
 * and an image's pixels ({@code -Djprune.maxImagePixels=N}).
 */
public final class Limits {
    private Limits() {}

    /** Most classes a model may have (LVIS has 1203, Objects365 365). */
    public static final int MAX_CLASSES = 100_000;
    /** Largest depth_multiple / width_multiple (Ultralytics' largest model uses 1.33 / 1.25). */
    public static final double MAX_MULTIPLE = 10;
    /** Most channels of one layer and most repeats of one model row. */
    public static final int MAX_CHANNELS = 16384, MAX_REPEATS = 100;
    public static final long DEFAULT_MAX_PARAMS = 300_000_000L;
    /** Largest network input side (a multiple of 32). */
    public static final int MAX_IMAGE_SIZE = 8192;
    /** 100 MP: a 10000 x 10000 photo. */
    public static final long DEFAULT_MAX_IMAGE_PIXELS = 100_000_000L;

    /** The parameter limit checked while a model is built. */
    public static long maxParameters() { return positive("jprune.maxParams", DEFAULT_MAX_PARAMS); }

    /** Most pixels an image may have, checked from its header before decoding. */
    public static long maxImagePixels() { return positive("jprune.maxImagePixels", DEFAULT_MAX_IMAGE_PIXELS); }

    private static long positive(String property, long dflt) {
        String v = System.getProperty(property);
        if (v == null) return dflt;
        try {
            long n = Long.parseLong(v.strip());
            if (n > 0) return n;
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("-D" + property + " must be a positive integer, got '" + v + "'");
    }
}
