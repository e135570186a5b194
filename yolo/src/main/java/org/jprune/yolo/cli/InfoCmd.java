package org.jprune.yolo.cli;

import java.util.concurrent.Callable;
import org.jprune.engine.BackendUnavailableException;
import org.jprune.engine.Backends;
import org.jprune.engine.Device;
import org.jprune.engine.DeviceKind;
import picocli.CommandLine.Command;

@Command(name = "info", mixinStandardHelpOptions = true, description = "Show the native backends this machine can use, and why not where one is missing.")
final class InfoCmd implements Callable<Integer> {
    @Override
    public Integer call() {
        System.out.println("native libraries: " + Backends.directory());
        Backends.files().forEach((k, v) -> System.out.printf("  %-9s %s%n", k, v));
        System.out.println("cpu device: " + Device.cpu().describe());
        System.out.println("  " + capabilities(Device.cpu()));
        for (DeviceKind k : new DeviceKind[] {DeviceKind.CUDA, DeviceKind.CUDA_EMU}) {
            try (Device d = Device.open(k, 0)) {
                System.out.println(k + " device: " + d.describe());
                System.out.println("  " + capabilities(d));
            } catch (BackendUnavailableException e) {
                System.out.println(k + ": unavailable (" + e.getMessage() + ")");
            }
        }
        System.out.println("every device runs train, prune, study, val, detect and serve (--device); sensitivity and export run on the cpu");
        return 0;
    }

    private static String capabilities(Device d) {
        Device.Capabilities c = d.capabilities();
        return "ops: " + (c.missingOps().isEmpty() ? "all" : "missing " + c.missingOps()) + "; conv providers: " + String.join(", ", c.convProviders())
                + "; tf32: " + (c.tf32() ? "yes" : "no");
    }
}
