/**
 * The C ABI of {@code native/include/jprune.h} as Panama bindings (generated at build time) and the
 * loader of the native libraries shipped in the jar. Only the engine uses it.
 */
module org.jprune.bindings {
    exports org.jprune.bindings;
}
