package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * Process-wide settings.
 *
 * @param workers event-loop threads; 0 means one per available core
 * @param transport the socket transport
 * @param drainTimeout how long open connections may keep going after SIGTERM before they are closed
 * @param tlsEngine the TLS implementation of every listener and cluster
 */
public record ServerConfig(int workers, TransportChoice transport, Duration drainTimeout, TlsEngineChoice tlsEngine) {
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);
    public static final ServerConfig DEFAULT = new ServerConfig(0, TransportChoice.AUTO, DEFAULT_DRAIN_TIMEOUT, TlsEngineChoice.AUTO);

    public ServerConfig {
        requireNonNull(transport, "transport");
        requireNonNull(drainTimeout, "drainTimeout");
        requireNonNull(tlsEngine, "tlsEngine");
    }

    public ServerConfig withWorkers(int workers) {
        return new ServerConfig(workers, transport, drainTimeout, tlsEngine);
    }

    public ServerConfig withTransport(TransportChoice transport) {
        return new ServerConfig(workers, transport, drainTimeout, tlsEngine);
    }

    public ServerConfig withTlsEngine(TlsEngineChoice tlsEngine) {
        return new ServerConfig(workers, transport, drainTimeout, tlsEngine);
    }
}
