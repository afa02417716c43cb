package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.sidecar.config.ConfigException;
import dev.sidecar.config.ControlPlaneConfig;
import dev.sidecar.config.HostPort;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The control_plane section of the YAML. */
class ControlPlaneConfigTest {
    @Test
    void a_full_section() {
        ControlPlaneConfig cp = ConfigLoader.parse("""
                control_plane:
                  address: istiod.local:15010
                  node: { id: sidecar~10.0.0.1~app-1.ns~ns.svc.cluster.local, cluster: app, metadata: { zone: a } }
                  initial_fetch_timeout: 5s
                  cache_file: /var/lib/sidecar/xds.pb
                  api_type: delta
                """).controlPlane();
        assertEquals(new HostPort("istiod.local", 15010), cp.address());
        assertEquals(new ControlPlaneConfig.Node("sidecar~10.0.0.1~app-1.ns~ns.svc.cluster.local", "app", Map.of("zone", "a")), cp.node());
        assertEquals(Duration.ofSeconds(5), cp.initialFetchTimeout());
        assertEquals("/var/lib/sidecar/xds.pb", cp.cacheFile());
        assertEquals(ControlPlaneConfig.ApiType.DELTA, cp.apiType());
    }

    @Test
    void defaults_and_absence() {
        ControlPlaneConfig cp = ConfigLoader.parse("control_plane: { address: 127.0.0.1:18000, node: { id: n } }").controlPlane();
        assertEquals(ControlPlaneConfig.DEFAULT_INITIAL_FETCH_TIMEOUT, cp.initialFetchTimeout());
        assertEquals("", cp.node().cluster());
        assertNull(cp.cacheFile());
        assertEquals(ControlPlaneConfig.ApiType.SOTW, cp.apiType());
        assertNull(ConfigLoader.parse("admin: { address: 127.0.0.1:0 }").controlPlane());
    }

    @Test
    void errors_name_their_field() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                "control_plane: { address: 127.0.0.1:0, node: { id: '', zone: x }, initial_fetch_timout: 1s }"));
        assertEquals(java.util.List.of(
                "control_plane.initial_fetch_timout: unknown field; did you mean 'initial_fetch_timeout'? (known: address, node, initial_fetch_timeout, cache_file, api_type, tls)",
                "control_plane.node.zone: unknown field (known: id, cluster, metadata)",
                "control_plane.address: port 0 is out of range 1..65535",
                "control_plane.node.id: is required: the control plane chooses this proxy's resources by it"),
                e.errors().stream().map(Object::toString).toList());
        assertEquals("control_plane.node: is required: at least { id: ... }",
                assertThrows(ConfigException.class, () -> ConfigLoader.parse("control_plane: { address: 127.0.0.1:1 }")).getMessage());
    }
}
