package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.Map;

/**
 * Where dynamic listeners, routes, clusters and endpoints come from: an xDS control plane
 * (Envoy v3, aggregated discovery over one gRPC stream).
 *
 * @param address the control plane's gRPC endpoint (cleartext HTTP/2)
 * @param node who this proxy is to the control plane; {@code id} is required
 * @param initialFetchTimeout how long a cluster waits for its endpoints (and a listener for its
 *     routes) before it is used anyway; Envoy's default is 15s
 * @param cacheFile where the last accepted resources are kept, so a proxy restarted while the
 *     control plane is unreachable starts with them; null for none
 * @param apiType the xDS variant spoken on the stream: state of the world or incremental (delta)
 * @param tls TLS to the control plane (server verification, optional client certificate); null
 *     for cleartext
 */
public record ControlPlaneConfig(HostPort address, Node node, Duration initialFetchTimeout, String cacheFile, ApiType apiType,
                                 TlsClientConfig tls) {
    public static final Duration DEFAULT_INITIAL_FETCH_TIMEOUT = Duration.ofSeconds(15);

    public ControlPlaneConfig {
        requireNonNull(address, "address");
        requireNonNull(node, "node");
        requireNonNull(initialFetchTimeout, "initialFetchTimeout");
        requireNonNull(apiType, "apiType");
    }

    /** Cleartext. */
    public ControlPlaneConfig(HostPort address, Node node, Duration initialFetchTimeout, String cacheFile, ApiType apiType) {
        this(address, node, initialFetchTimeout, cacheFile, apiType, null);
    }

    /** State of the world, with the default xDS variant. */
    public ControlPlaneConfig(HostPort address, Node node, Duration initialFetchTimeout, String cacheFile) {
        this(address, node, initialFetchTimeout, cacheFile, ApiType.SOTW);
    }

    /**
     * Envoy's {@code api_config_source.api_type}: {@code GRPC} is the state of the world
     * ({@code StreamAggregatedResources}, every response carries a type's whole set or the named
     * resources), {@code DELTA_GRPC} the incremental variant ({@code DeltaAggregatedResources}:
     * a response carries only the resources that changed, each with its own version, and the
     * names of those removed).
     */
    public enum ApiType {
        SOTW("sotw"),
        DELTA("delta");

        private final String configName;

        ApiType(String configName) {
            this.configName = configName;
        }

        public String configName() {
            return configName;
        }
    }

    /** Envoy's {@code node}: the control plane chooses this proxy's resources by it. */
    public record Node(String id, String cluster, Map<String, String> metadata) {
        public Node {
            requireNonNull(id, "id");
            requireNonNull(cluster, "cluster");
            metadata = Map.copyOf(metadata);
        }
    }
}
