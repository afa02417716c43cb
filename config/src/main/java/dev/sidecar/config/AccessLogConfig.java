package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

/**
 * A listener's access log: one JSON line per connection, appended to {@code path}
 * ({@code /dev/stdout} works), written off the event loops through a queue of
 * {@code queueSize} entries; when the queue is full, lines are dropped and counted rather than
 * slowing traffic.
 */
public record AccessLogConfig(String path, int queueSize) {
    public static final int DEFAULT_QUEUE_SIZE = 8192;

    public AccessLogConfig {
        requireNonNull(path, "path");
    }
}
