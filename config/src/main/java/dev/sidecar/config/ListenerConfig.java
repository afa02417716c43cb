package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.List;

/**
 * A listening socket and where its connections go.
 *
 * @param maxConnections connections open at once; the next one is closed as soon as it is accepted
 * @param idleTimeout a connection with no bytes either way for this long is closed
 * @param maxConnectAttempts upstream connects tried for one downstream connection, each to
 *     another endpoint where the cluster has one, before the downstream connection is closed
 * @param accessLog where finished connections are logged; null when off (the default)
 * @param hashPolicy where the hash key for ring_hash and maglev clusters comes from; on L4 only
 *     the source IP
 * @param cluster where a TCP listener's connections go; on an HTTP listener, a shorthand for a
 *     route table that sends every request there ("" when {@code routeConfig} is set)
 * @param routeConfig an HTTP listener's routing; null on TCP listeners and with the shorthand
 * @param http an HTTP listener's limits and timeouts
 * @param tls TLS termination; null for plaintext
 * @param proxyProtocol every connection must start with a PROXY protocol v1 or v2 header (before
 *     any TLS), and the client address it carries stands for the connection's peer address
 * @param originalDestination a TCP listener that receives connections redirected to it (iptables
 *     REDIRECT) recovers each one's original destination (SO_ORIGINAL_DST); an {@code original_dst}
 *     cluster connects there. Envoy's {@code use_original_dst}. Needs the epoll or io_uring transport.
 */
public record ListenerConfig(
        String name,
        HostPort address,
        ListenerProtocol protocol,
        String cluster,
        int maxConnections,
        Duration idleTimeout,
        int maxConnectAttempts,
        List<HashPolicy> hashPolicy,
        AccessLogConfig accessLog,
        RouteConfig routeConfig,
        HttpSettings http,
        TlsServerConfig tls,
        boolean proxyProtocol,
        boolean originalDestination) {

    public static final int DEFAULT_MAX_CONNECTIONS = 10_000;
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofHours(1);
    public static final int DEFAULT_MAX_CONNECT_ATTEMPTS = 3;

    public ListenerConfig {
        requireNonNull(name, "name");
        requireNonNull(address, "address");
        requireNonNull(protocol, "protocol");
        requireNonNull(cluster, "cluster");
        requireNonNull(idleTimeout, "idleTimeout");
        hashPolicy = List.copyOf(hashPolicy);
        requireNonNull(http, "http");
    }

    /** The routing an HTTP listener runs: its route_config, or the one-cluster shorthand. */
    public RouteConfig routes() {
        return routeConfig != null ? routeConfig : RouteConfig.toCluster(cluster);
    }

    public ListenerConfig withTls(TlsServerConfig tls) {
        return new ListenerConfig(name, address, protocol, cluster, maxConnections, idleTimeout, maxConnectAttempts, hashPolicy,
                accessLog, routeConfig, http, tls, proxyProtocol, originalDestination);
    }

    /** An HTTP listener routed by {@code routeConfig} (e.g. routes that arrived over RDS). */
    public ListenerConfig withRouteConfig(RouteConfig routeConfig) {
        return new ListenerConfig(name, address, protocol, "", maxConnections, idleTimeout, maxConnectAttempts, hashPolicy,
                accessLog, routeConfig, http, tls, proxyProtocol, originalDestination);
    }

    public static Builder builder(String name, HostPort address, String cluster) {
        return new Builder(name, address, cluster);
    }

    public static final class Builder {
        private final String name;
        private final HostPort address;
        private final String cluster;
        private ListenerProtocol protocol = ListenerProtocol.TCP;
        private int maxConnections = DEFAULT_MAX_CONNECTIONS;
        private Duration idleTimeout = DEFAULT_IDLE_TIMEOUT;
        private int maxConnectAttempts = DEFAULT_MAX_CONNECT_ATTEMPTS;
        private List<HashPolicy> hashPolicy = List.of();
        private AccessLogConfig accessLog;
        private RouteConfig routeConfig;
        private HttpSettings http = HttpSettings.DEFAULT;
        private TlsServerConfig tls;
        private boolean proxyProtocol;
        private boolean originalDestination;

        private Builder(String name, HostPort address, String cluster) {
            this.name = name;
            this.address = address;
            this.cluster = cluster;
        }

        public Builder protocol(ListenerProtocol protocol) {
            this.protocol = protocol;
            return this;
        }

        public Builder maxConnections(int maxConnections) {
            this.maxConnections = maxConnections;
            return this;
        }

        public Builder idleTimeout(Duration idleTimeout) {
            this.idleTimeout = idleTimeout;
            return this;
        }

        public Builder maxConnectAttempts(int maxConnectAttempts) {
            this.maxConnectAttempts = maxConnectAttempts;
            return this;
        }

        public Builder hashPolicy(List<HashPolicy> hashPolicy) {
            this.hashPolicy = hashPolicy;
            return this;
        }

        public Builder accessLog(AccessLogConfig accessLog) {
            this.accessLog = accessLog;
            return this;
        }

        public Builder routeConfig(RouteConfig routeConfig) {
            this.routeConfig = routeConfig;
            return this;
        }

        public Builder http(HttpSettings http) {
            this.http = http;
            return this;
        }

        public Builder tls(TlsServerConfig tls) {
            this.tls = tls;
            return this;
        }

        public Builder proxyProtocol(boolean proxyProtocol) {
            this.proxyProtocol = proxyProtocol;
            return this;
        }

        public Builder originalDestination(boolean originalDestination) {
            this.originalDestination = originalDestination;
            return this;
        }

        public ListenerConfig build() {
            return new ListenerConfig(name, address, protocol, cluster, maxConnections, idleTimeout, maxConnectAttempts, hashPolicy,
                    accessLog, routeConfig, http, tls, proxyProtocol, originalDestination);
        }
    }
}
