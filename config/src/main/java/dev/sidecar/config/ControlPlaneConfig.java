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
 */
public record ControlPlaneConfig(HostPort address, Node node, Duration initialFetchTimeout, String cacheFile) {
    public static final Duration DEFAULT_INITIAL_FETCH_TIMEOUT = Duration.ofSeconds(15);

    public ControlPlaneConfig {
        requireNonNull(address, "address");
        requireNonNull(node, "node");
        requireNonNull(initialFetchTimeout, "initialFetchTimeout");
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
