package dev.sidecar.tls;

import static java.util.Objects.requireNonNull;

/**
 * TLS files that cannot be used. {@link #field()} is the config field at fault, relative to the
 * {@code tls} section ({@code certificates[1].private_key_file}), so the caller can prefix the
 * section's own path ({@code listeners[0].tls}) and report it like any other config error.
 */
public final class TlsMaterialException extends Exception {
    private final String field;
    private final String reason;

    public TlsMaterialException(String field, String reason) {
        super(field + ": " + reason);
        this.field = requireNonNull(field, "field");
        this.reason = requireNonNull(reason, "reason");
    }

    public String field() {
        return field;
    }

    public String reason() {
        return reason;
    }
}
