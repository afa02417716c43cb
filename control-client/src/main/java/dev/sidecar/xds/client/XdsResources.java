package dev.sidecar.xds.client;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ListenerConfig;
import java.util.List;
import java.util.Map;

/**
 * The dynamic resources the proxy should run, as one value: warm clusters with their endpoints,
 * listeners with their routes. Published to the {@link XdsClient.Sink} whenever an accepted
 * response changes it.
 *
 * @param versions the accepted version_info of each resource type, by type URL
 * @param resourceVersions for each resource kind ("clusters", "endpoints", "listeners",
 *     "routes"), each resource's name and the version_info of the response that last changed it
 */
public record XdsResources(List<ClusterConfig> clusters, List<ListenerConfig> listeners, Map<String, String> versions,
                           Map<String, Map<String, String>> resourceVersions) {
    public static final XdsResources EMPTY = new XdsResources(List.of(), List.of(), Map.of(), Map.of());

    public XdsResources {
        clusters = List.copyOf(clusters);
        listeners = List.copyOf(listeners);
        versions = Map.copyOf(versions);
        resourceVersions = Map.copyOf(resourceVersions);
    }

    /** Same resources, whatever their versions. */
    boolean sameResources(XdsResources o) {
        return clusters.equals(o.clusters) && listeners.equals(o.listeners);
    }
}
