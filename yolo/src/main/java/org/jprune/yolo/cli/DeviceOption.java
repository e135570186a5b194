package org.jprune.yolo.cli;

import org.jprune.engine.Device;
import picocli.CommandLine.Option;

/** {@code --device}, shared by the commands that run a model ({@code @Mixin}). */
final class DeviceOption {
    @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda[:N] or cuda-emu (`jprune info` lists what this machine has). "
            + "Default: ${DEFAULT-VALUE}.")
    String device;

    /** The device named (shared CPU: closing it does nothing; others are new and the caller closes them). */
    Device open() { return Device.parse(device); }
}
