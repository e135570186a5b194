package org.jprune.engine;

/** A native call failed: carries the C function's name, its jp_status and jp_last_error()'s message. */
public class NativeException extends RuntimeException {
    private final String function;
    private final int status;

    public NativeException(String function, int status, String message) {
        super(function + " failed (status " + status + " " + statusName(status) + "): " + message);
        this.function = function;
        this.status = status;
    }

    public String function() { return function; }
    public int status() { return status; }

    public static String statusName(int status) {
        return switch (status) {
            case 1 -> "JP_ERR_INVALID";
            case 2 -> "JP_ERR_NO_MEMORY";
            case 3 -> "JP_ERR_UNSUPPORTED";
            case 4 -> "JP_ERR_BACKEND";
            case 5 -> "JP_ERR_INTERNAL";
            default -> "JP_ERR_" + status;
        };
    }
}
