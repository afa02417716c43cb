package dev.sidecar.l7;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.RouteConfig;
import dev.sidecar.config.RouteConfig.HeaderMatcher;
import dev.sidecar.config.RouteConfig.PathMatch;
import dev.sidecar.upstream.ClusterManager;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The route index answers exactly what trying every route in order answers. */
class RouteIndexTest {
    private static final String[] SEGMENTS = {"api", "v1", "v2", "users", "items", "a", "b", "healthz", "x.y", "static"};

    private static String randomPath(Random r) {
        StringBuilder p = new StringBuilder();
        int depth = r.nextInt(4);
        for (int i = 0; i < depth; i++) {
            p.append('/').append(SEGMENTS[r.nextInt(SEGMENTS.length)]);
        }
        if (depth == 0 || r.nextBoolean()) {
            p.append('/');
        }
        return p.toString();
    }

    private static RouteConfig.Route route(int i, PathMatch path, List<HeaderMatcher> headers) {
        return new RouteConfig.Route("r" + i, new RouteConfig.Match(path, headers, List.of()), RouteConfig.Forward.to("app"),
                RouteConfig.HeaderMutations.NONE, null);
    }

    @Test
    void indexed_lookups_match_the_linear_scan_over_random_tables_and_paths() {
        ClusterManager clusters = new ClusterManager(List.of(ClusterConfig.builder("app").build()));
        Random r = new Random(11);
        for (int table = 0; table < 200; table++) {
            List<RouteConfig.Route> routes = new ArrayList<>();
            int n = RouteTable.RouteIndex.MIN_ROUTES + r.nextInt(60);
            for (int i = 0; i < n; i++) {
                String base = randomPath(r);
                PathMatch path = switch (r.nextInt(6)) {
                    case 0 -> new PathMatch(PathMatch.Kind.EXACT, base);
                    case 1 -> new PathMatch(PathMatch.Kind.REGEX, base.replace(".", "\\.") + "[a-z0-9/]*");
                    case 2 -> new PathMatch(PathMatch.Kind.REGEX, "/(api|static)/.*");
                    case 3 -> new PathMatch(PathMatch.Kind.REGEX, base + "s?/.*");
                    default -> new PathMatch(PathMatch.Kind.PREFIX, base);
                };
                List<HeaderMatcher> headers = r.nextInt(4) == 0
                        ? List.of(new HeaderMatcher("x-canary", HeaderMatcher.Kind.EXACT, "1", false)) : List.of();
                routes.add(route(i, path, headers));
            }
            RouteConfig config = new RouteConfig(List.of(new RouteConfig.VirtualHost("all", List.of("*"), routes,
                    RouteConfig.HeaderMutations.NONE, null)));
            RouteTable compiled = RouteTable.compile(config, clusters, System::nanoTime);
            for (int q = 0; q < 200; q++) {
                String uri = randomPath(r) + (r.nextBoolean() ? "?k=v" : "");
                HttpHeaders h = new DefaultHttpHeaders();
                if (r.nextBoolean()) {
                    h.add("x-canary", "1");
                }
                RouteTable.Route indexed = compiled.find("host", uri, h);
                String expected = linear(routes, uri, h);
                assertEquals(expected, indexed == null ? null : indexed.name, "table " + table + ", " + uri);
            }
        }
    }

    /** The first route in order whose path and headers match: the definition the index must keep. */
    private static String linear(List<RouteConfig.Route> routes, String uri, HttpHeaders h) {
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        for (RouteConfig.Route route : routes) {
            PathMatch p = route.match().path();
            boolean ok = switch (p.kind()) {
                case PREFIX -> path.startsWith(p.value());
                case EXACT -> path.equals(p.value());
                case REGEX -> path.matches(p.value());
            };
            for (HeaderMatcher m : route.match().headers()) {
                ok &= m.value().equals(h.get(m.name()));
            }
            if (ok) {
                return route.name();
            }
        }
        return null;
    }

    @Test
    void a_table_of_thousands_of_prefix_routes_finds_the_last_one() {
        List<RouteConfig.Route> routes = new ArrayList<>();
        for (int i = 0; i < 5000; i++) {
            routes.add(route(i, new PathMatch(PathMatch.Kind.PREFIX, "/svc" + i + "/"), List.of()));
        }
        RouteConfig config = new RouteConfig(List.of(new RouteConfig.VirtualHost("all", List.of("*"), routes, RouteConfig.HeaderMutations.NONE, null)));
        RouteTable t = RouteTable.compile(config, new ClusterManager(List.of(ClusterConfig.builder("app").build())), System::nanoTime);
        RouteTable.Route found = t.find("h", "/svc4999/x?y=1", new DefaultHttpHeaders());
        assertNotNull(found);
        assertEquals("r4999", found.name);
        assertSame(null, t.find("h", "/svc5000/x", new DefaultHttpHeaders()));
    }
}
