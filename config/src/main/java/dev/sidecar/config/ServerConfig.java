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
 * @param overload when the process sheds new requests because memory runs short
 */
public record ServerConfig(int workers, TransportChoice transport, Duration drainTimeout, TlsEngineChoice tlsEngine,
                           Duration exitWhenIdle, OverloadConfig overload) {
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);
    public static final ServerConfig DEFAULT = new ServerConfig(0, TransportChoice.AUTO, DEFAULT_DRAIN_TIMEOUT, TlsEngineChoice.AUTO,
            Duration.ZERO, OverloadConfig.DEFAULT);

    public ServerConfig {
        requireNonNull(transport, "transport");
        requireNonNull(drainTimeout, "drainTimeout");
        requireNonNull(tlsEngine, "tlsEngine");
        requireNonNull(exitWhenIdle, "exitWhenIdle");
        requireNonNull(overload, "overload");
    }

    public ServerConfig(int workers, TransportChoice transport, Duration drainTimeout, TlsEngineChoice tlsEngine, Duration exitWhenIdle) {
        this(workers, transport, drainTimeout, tlsEngine, exitWhenIdle, OverloadConfig.DEFAULT);
    }

    public ServerConfig(int workers, TransportChoice transport, Duration drainTimeout, TlsEngineChoice tlsEngine) {
        this(workers, transport, drainTimeout, tlsEngine, Duration.ZERO, OverloadConfig.DEFAULT);
    }

    public ServerConfig withWorkers(int workers) {
        return new ServerConfig(workers, transport, drainTimeout, tlsEngine, exitWhenIdle, overload);
    }

    public ServerConfig withTransport(TransportChoice transport) {
        return new ServerConfig(workers, transport, drainTimeout, tlsEngine, exitWhenIdle, overload);
    }

    public ServerConfig withTlsEngine(TlsEngineChoice tlsEngine) {
        return new ServerConfig(workers, transport, drainTimeout, tlsEngine, exitWhenIdle, overload);
    }

    public ServerConfig withOverload(OverloadConfig overload) {
        return new ServerConfig(workers, transport, drainTimeout, tlsEngine, exitWhenIdle, overload);
    }
}
