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
 * @param exitWhenIdle zero (off), or: once a first connection has come in, exit 0 when no
 *     downstream connection has been open for this long. For the sidecar of a Kubernetes Job,
 *     whose pod completes only when every container has exited.
 */
public record ServerConfig(int workers, TransportChoice transport, Duration drainTimeout, TlsEngineChoice tlsEngine,
                           Duration exitWhenIdle) {
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);
    public static final ServerConfig DEFAULT = new ServerConfig(0, TransportChoice.AUTO, DEFAULT_DRAIN_TIMEOUT, TlsEngineChoice.AUTO,
            Duration.ZERO);

    public ServerConfig {
        requireNonNull(transport, "transport");
        requireNonNull(drainTimeout, "drainTimeout");
        requireNonNull(tlsEngine, "tlsEngine");
        requireNonNull(exitWhenIdle, "exitWhenIdle");
    }

    public ServerConfig(int workers, TransportChoice transport, Duration drainTimeout, TlsEngineChoice tlsEngine) {
        this(workers, transport, drainTimeout, tlsEngine, Duration.ZERO);
    }

    public ServerConfig withWorkers(int workers) {
        return new ServerConfig(workers, transport, drainTimeout, tlsEngine, exitWhenIdle);
    }

    public ServerConfig withTransport(TransportChoice transport) {
        return new ServerConfig(workers, transport, drainTimeout, tlsEngine, exitWhenIdle);
    }

    public ServerConfig withTlsEngine(TlsEngineChoice tlsEngine) {
        return new ServerConfig(workers, transport, drainTimeout, tlsEngine, exitWhenIdle);
    }
}
