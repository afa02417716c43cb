package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A named set of upstream endpoints and how to balance, check and reach them.
 *
 * @param outlierDetection null when passive outlier detection is off
 * @param upstreamProtocol what the endpoints speak when HTTP listeners route to the cluster
 * @param httpPool the upstream connection pools of HTTP traffic
 * @param tls TLS to the endpoints; null for plaintext
 * @param dnsRefreshRate how often the endpoints' host names are resolved again (STRICT_DNS: each
 *     name stands for one endpoint per address it resolves to); null when they are not (a name
 *     is then resolved at connect time)
 * @param proxyProtocol the PROXY protocol header written first on every new connection to an
 *     endpoint, carrying the downstream client's address; null when none is sent (the default)
 * @param type where the endpoints come from: the list ({@code static}), or each connection's
 *     original destination ({@code original_dst})
 */
public record ClusterConfig(
        String name,
        LbPolicy lbPolicy,
        Duration connectTimeout,
        List<EndpointConfig> endpoints,
        LbSettings lbSettings,
        List<HealthCheckConfig> healthChecks,
        OutlierDetectionConfig outlierDetection,
        CircuitBreakersConfig circuitBreakers,
        UpstreamProtocol upstreamProtocol,
        HttpPoolConfig httpPool,
        TlsClientConfig tls,
        Duration dnsRefreshRate,
        ProxyProtocolVersion proxyProtocol,
        ClusterType type) {

    public static final LbPolicy DEFAULT_LB_POLICY = LbPolicy.ROUND_ROBIN;
    /** Envoy's default; long enough for a loaded host, short enough to fail over quickly. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** Envoy's default {@code dns_refresh_rate}. */
    public static final Duration DEFAULT_DNS_REFRESH_RATE = Duration.ofSeconds(5);

    public ClusterConfig {
        requireNonNull(name, "name");
        requireNonNull(lbPolicy, "lbPolicy");
        requireNonNull(connectTimeout, "connectTimeout");
        endpoints = List.copyOf(endpoints);
        requireNonNull(lbSettings, "lbSettings");
        healthChecks = List.copyOf(healthChecks);
        requireNonNull(circuitBreakers, "circuitBreakers");
        requireNonNull(upstreamProtocol, "upstreamProtocol");
        requireNonNull(httpPool, "httpPool");
        requireNonNull(type, "type");
    }

    /** A cluster with defaults for everything but these. */
    public static ClusterConfig of(String name, LbPolicy lbPolicy, Duration connectTimeout, List<EndpointConfig> endpoints) {
        return builder(name).lbPolicy(lbPolicy).connectTimeout(connectTimeout).endpoints(endpoints).build();
    }

    public Optional<OutlierDetectionConfig> outlierDetectionIfEnabled() {
        return Optional.ofNullable(outlierDetection);
    }

    public ClusterConfig withEndpoints(List<EndpointConfig> endpoints) {
        return toBuilder().endpoints(endpoints).build();
    }

    public static Builder builder(String name) {
        return new Builder(name);
    }

    public Builder toBuilder() {
        return new Builder(name).lbPolicy(lbPolicy).connectTimeout(connectTimeout).endpoints(endpoints)
                .lbSettings(lbSettings).healthChecks(healthChecks).outlierDetection(outlierDetection)
                .circuitBreakers(circuitBreakers).upstreamProtocol(upstreamProtocol).httpPool(httpPool).tls(tls).dnsRefreshRate(dnsRefreshRate)
                .proxyProtocol(proxyProtocol).type(type);
    }

    public static final class Builder {
        private final String name;
        private LbPolicy lbPolicy = DEFAULT_LB_POLICY;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private List<EndpointConfig> endpoints = List.of();
        private LbSettings lbSettings = LbSettings.DEFAULT;
        private List<HealthCheckConfig> healthChecks = List.of();
        private OutlierDetectionConfig outlierDetection;
        private CircuitBreakersConfig circuitBreakers = CircuitBreakersConfig.DEFAULT;
        private UpstreamProtocol upstreamProtocol = UpstreamProtocol.HTTP1;
        private HttpPoolConfig httpPool = HttpPoolConfig.DEFAULT;
        private TlsClientConfig tls;
        private Duration dnsRefreshRate;
        private ProxyProtocolVersion proxyProtocol;
        private ClusterType type = ClusterType.STATIC;

        private Builder(String name) {
            this.name = name;
        }

        public Builder lbPolicy(LbPolicy v) {
            lbPolicy = v;
            return this;
        }

        public Builder connectTimeout(Duration v) {
            connectTimeout = v;
            return this;
        }

        public Builder endpoints(List<EndpointConfig> v) {
            endpoints = v;
            return this;
        }

        public Builder lbSettings(LbSettings v) {
            lbSettings = v;
            return this;
        }

        public Builder healthChecks(List<HealthCheckConfig> v) {
            healthChecks = v;
            return this;
        }

        public Builder outlierDetection(OutlierDetectionConfig v) {
            outlierDetection = v;
            return this;
        }

        public Builder circuitBreakers(CircuitBreakersConfig v) {
            circuitBreakers = v;
            return this;
        }

        public Builder upstreamProtocol(UpstreamProtocol v) {
            upstreamProtocol = v;
            return this;
        }

        public Builder httpPool(HttpPoolConfig v) {
            httpPool = v;
            return this;
        }

        public Builder tls(TlsClientConfig v) {
            tls = v;
            return this;
        }

        public Builder dnsRefreshRate(Duration v) {
            dnsRefreshRate = v;
            return this;
        }

        public Builder proxyProtocol(ProxyProtocolVersion v) {
            proxyProtocol = v;
            return this;
        }

        public Builder type(ClusterType v) {
            type = v;
            return this;
        }

        public ClusterConfig build() {
            return new ClusterConfig(name, lbPolicy, connectTimeout, endpoints, lbSettings, healthChecks, outlierDetection, circuitBreakers,
                    upstreamProtocol, httpPool, tls, dnsRefreshRate, proxyProtocol, type);
        }
    }
}
