package dev.sidecar.l7;

import dev.sidecar.bench.BenchmarkBase;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.proxy.ConfigLoader;
import dev.sidecar.upstream.ClusterManager;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * One route lookup per operation in a compiled table: {@code hosts} virtual hosts (exact domains
 * plus a wildcard), each with four routes (two prefixes, one behind a header match, an exact
 * path), the request for the last route of a host picked in turn. {@code -prof gc} shows the
 * lookup allocates nothing; the time shows it does not grow with the number of hosts.
 * {@code lastOfRoutes} is the other axis: one host with {@code hosts} prefix routes, matching the
 * last (routes are tried in order, as in Envoy).
 */
@State(Scope.Benchmark)
public class RouteLookupBenchmark extends BenchmarkBase {
    @Param({"10", "1000", "5000"})
    public int hosts;

    private RouteTable manyHosts;
    private RouteTable manyRoutes;
    private String[] authorities;
    private final HttpHeaders headers = new DefaultHttpHeaders().add("x-canary", "1").add("user-agent", "bench");
    private int next;
    private String lastPath;

    @Setup
    public void setUp() {
        StringBuilder y = new StringBuilder("""
                listeners:
                  - name: web
                    address: 127.0.0.1:1
                    protocol: http
                    route_config:
                      virtual_hosts:
                """);
        authorities = new String[Math.min(hosts, 1024)];
        for (int i = 0; i < hosts; i++) {
            y.append("        - name: h").append(i).append('\n')
                    .append("          domains: [\"svc-").append(i).append(".ns.svc.cluster.local\", \"*.svc-").append(i).append(".local\"]\n")
                    .append("          routes:\n")
                    .append("            - { match: { path: /healthz }, route: { cluster: app } }\n")
                    .append("            - { match: { prefix: /api/v1/ }, route: { cluster: app } }\n")
                    .append("            - { match: { prefix: /api/v2/, headers: [{ name: x-canary, exact: \"2\" }] }, route: { cluster: app } }\n")
                    .append("            - { match: { prefix: /api/v2/ }, route: { cluster: app } }\n");
        }
        for (int i = 0; i < authorities.length; i++) {
            authorities[i] = "svc-" + (int) ((long) i * hosts / authorities.length) + ".ns.svc.cluster.local:8080";
        }
        y.append("  - name: flat\n    address: 127.0.0.1:2\n    protocol: http\n    route_config:\n      virtual_hosts:\n")
                .append("        - name: all\n          domains: [\"*\"]\n          routes:\n");
        for (int i = 0; i < hosts; i++) {
            y.append("            - { match: { prefix: /p").append(i).append("/ }, route: { cluster: app } }\n");
        }
        y.append("clusters: [{ name: app, endpoints: [{ address: 127.0.0.1:9 }] }]\n");
        ProxyConfig config = ConfigLoader.parse(y.toString());
        ClusterManager clusters = new ClusterManager(config.clusters());
        ListenerConfig web = config.listeners().get(0);
        ListenerConfig flat = config.listeners().get(1);
        manyHosts = RouteTable.compile(web.routes(), clusters, System::nanoTime);
        manyRoutes = RouteTable.compile(flat.routes(), clusters, System::nanoTime);
        lastPath = "/p" + (hosts - 1) + "/items";
        if (manyHosts.find(authorities[0], "/api/v2/items?id=7", headers) == null
                || manyRoutes.find("x", lastPath, headers) == null) {
            throw new IllegalStateException("the benchmark's requests must match a route");
        }
    }

    @Benchmark
    public Object lookupAmongHosts() {
        String authority = authorities[next];
        next = next + 1 == authorities.length ? 0 : next + 1;
        return manyHosts.find(authority, "/api/v2/items?id=7", headers);
    }

    @Benchmark
    public Object lastOfRoutes() {
        return manyRoutes.find("any.local", lastPath, headers);
    }
}
