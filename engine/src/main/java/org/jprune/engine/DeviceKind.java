package org.jprune.engine;

/** Where tensors live and ops run. The code is the ABI's JP_DEVICE_* value (REFERENCE has none). */
public enum DeviceKind {
    CPU(0), CUDA(1), CUDA_EMU(2), REFERENCE(-1);

    public final int code;
    DeviceKind(int code) { this.code = code; }

    public static DeviceKind parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT).replace('_', '-')) {
            case "cpu" -> CPU;
            case "cuda", "gpu" -> CUDA;
            case "cuda-emu", "cudaemu" -> CUDA_EMU;
            case "reference", "ref" -> REFERENCE;
            default -> throw new IllegalArgumentException("unknown device '" + s + "' (cpu, cuda, cuda-emu, reference)");
        };
    }
}
