package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

/**
 * One problem with a configuration: the path of the offending field, in the file's own
 * snake_case names ({@code clusters[0].endpoints[1].address}), and why it is wrong.
 */
public record ConfigError(String path, String message) {
    public ConfigError {
        requireNonNull(path, "path");
        requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return path.isEmpty() ? message : path + ": " + message;
    }
}
