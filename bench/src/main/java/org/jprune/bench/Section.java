package org.jprune.bench;

import org.jprune.engine.Device;

/** A section of the CPU summary kept in its own class: where it writes, the device, and whether sizes are the smoke test's. */
abstract class Section {
    final Report report;
    final Device cpu;
    final boolean smoke;

    Section(Report report, Device cpu, boolean smoke) {
        this.report = report;
        this.cpu = cpu;
        this.smoke = smoke;
    }

    abstract void run() throws Exception;
}
