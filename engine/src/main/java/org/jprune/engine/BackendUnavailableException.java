package org.jprune.engine;

/** A device kind cannot be used on this machine; the message says why (no plugin, no driver, no GPU). */
public class BackendUnavailableException extends RuntimeException {
    public BackendUnavailableException(String message, Throwable cause) { super(message, cause); }
}
