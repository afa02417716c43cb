package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * An HTTP cluster's upstream connection pools (one per endpoint per event loop).
 *
 * @param idleTimeout a pooled connection unused this long is closed. The default, 4s, sits below
 *     the shortest keep-alive timeouts common servers use (Node.js 5s, Apache httpd 5s), so the
 *     proxy closes an idle connection before the upstream does and seldom reuses one the
 *     upstream is closing at that moment
 * @param maxIdleConnections idle HTTP/1.1 connections kept per endpoint per event loop
 * @param maxRequestsPerConnection a connection is retired after this many requests (0: no limit)
 */
public record HttpPoolConfig(Duration idleTimeout, int maxIdleConnections, int maxRequestsPerConnection) {
    public static final HttpPoolConfig DEFAULT = new HttpPoolConfig(Duration.ofSeconds(4), 64, 0);

    public HttpPoolConfig {
        requireNonNull(idleTimeout, "idleTimeout");
    }
}
