package dev.sidecar.l7;

import dev.sidecar.config.HashPolicy;
import dev.sidecar.config.RouteConfig;
import dev.sidecar.config.RouteConfig.HeaderMatcher;
import dev.sidecar.config.RouteConfig.PathMatch;
import dev.sidecar.config.RouteConfig.QueryMatcher;
import dev.sidecar.upstream.Cluster;
import dev.sidecar.upstream.ClusterManager;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * A listener's routes, compiled once per config: virtual hosts by domain (exact names in an
 * open-addressed table searched with the request's own characters, then the longest
 * {@code *.suffix}, the longest {@code prefix.*}, then {@code *}, as Envoy orders them), and
 * each host's routes in order, first match wins. Matching allocates nothing unless a route uses
 * a regex.
 */
final class RouteTable {
    private final HostTable exact;
    private final Host[] suffixes; // longest suffix first
    private final Host[] prefixes; // longest prefix first
    private final Host any;

    private RouteTable(HostTable exact, Host[] suffixes, Host[] prefixes, Host any) {
        this.exact = exact;
        this.suffixes = suffixes;
        this.prefixes = prefixes;
        this.any = any;
    }

    static RouteTable compile(RouteConfig config, ClusterManager clusters, LongSupplier nanoClock) {
        List<String> exactNames = new ArrayList<>();
        List<Host> exactHosts = new ArrayList<>();
        List<Host> suffixes = new ArrayList<>();
        List<Host> prefixes = new ArrayList<>();
        Host any = null;
        for (RouteConfig.VirtualHost vh : config.virtualHosts()) {
            TokenBucket hostLimit = vh.rateLimit() == null ? null : new TokenBucket(vh.rateLimit(), nanoClock);
            List<Route> routes = new ArrayList<>();
            for (RouteConfig.Route r : vh.routes()) {
                TokenBucket limit = r.rateLimit() != null ? new TokenBucket(r.rateLimit(), nanoClock) : hostLimit;
                routes.add(new Route(vh.name(), r, compileMatch(r.match()), clusters, limit, vh.headers()));
            }
            Route[] compiled = routes.toArray(new Route[0]);
            for (String d : vh.domains()) {
                String domain = d.toLowerCase(Locale.ROOT);
                if (domain.equals("*")) {
                    any = new Host(domain, compiled);
                } else if (domain.startsWith("*")) {
                    suffixes.add(new Host(domain.substring(1), compiled));
                } else if (domain.endsWith("*")) {
                    prefixes.add(new Host(domain.substring(0, domain.length() - 1), compiled));
                } else {
                    exactNames.add(domain);
                    exactHosts.add(new Host(domain, compiled));
                }
            }
        }
        Comparator<Host> longestFirst = Comparator.comparingInt((Host h) -> h.pattern.length()).reversed();
        suffixes.sort(longestFirst);
        prefixes.sort(longestFirst);
        return new RouteTable(new HostTable(exactNames, exactHosts), suffixes.toArray(new Host[0]), prefixes.toArray(new Host[0]), any);
    }

    private static Matcher compileMatch(RouteConfig.Match m) {
        PathMatch p = m.path();
        Pattern regex = p.kind() == PathMatch.Kind.REGEX ? Pattern.compile(p.value()) : null;
        HeaderCheck[] headers = new HeaderCheck[m.headers().size()];
        for (int i = 0; i < headers.length; i++) {
            HeaderMatcher h = m.headers().get(i);
            headers[i] = new HeaderCheck(AsciiString.cached(h.name().toLowerCase(Locale.ROOT)), h.kind(), h.value(),
                    h.kind() == HeaderMatcher.Kind.REGEX ? Pattern.compile(h.value()) : null, h.invert());
        }
        QueryCheck[] query = new QueryCheck[m.queryParameters().size()];
        for (int i = 0; i < query.length; i++) {
            QueryMatcher q = m.queryParameters().get(i);
            query[i] = new QueryCheck(q.name(), q.kind(), q.value(), q.kind() == HeaderMatcher.Kind.REGEX ? Pattern.compile(q.value()) : null);
        }
        return new Matcher(p.kind(), p.value(), regex, headers, query);
    }

    /**
     * The route for a request, or null when no virtual host or no route matches (404).
     *
     * @param authority the Host header or :authority; a port in it is ignored
     * @param uri the request target in origin form (path and query)
     */
    Route find(CharSequence authority, String uri, HttpHeaders headers) {
        Host host = host(authority);
        if (host == null) {
            return null;
        }
        int queryAt = uri.indexOf('?');
        int pathEnd = queryAt < 0 ? uri.length() : queryAt;
        if (host.index != null) {
            return host.index.find(uri, pathEnd, headers);
        }
        for (Route r : host.routes) {
            if (r.matcher.matches(uri, pathEnd, headers)) {
                return r;
            }
        }
        return null;
    }

    private Host host(CharSequence authority) {
        if (authority == null) {
            return any;
        }
        int end = hostEnd(authority);
        Host h = exact.get(authority, end);
        if (h != null) {
            return h;
        }
        for (Host s : suffixes) {
            if (endsWithIgnoreCase(authority, end, s.pattern)) {
                return s;
            }
        }
        for (Host p : prefixes) {
            if (p.pattern.length() <= end && AsciiString.regionMatches(authority, true, 0, p.pattern, 0, p.pattern.length())) {
                return p;
            }
        }
        return any;
    }

    /** Where the host part of an authority ends: before ":port", keeping an IPv6 literal's brackets. */
    static int hostEnd(CharSequence authority) {
        for (int i = authority.length() - 1; i >= 0; i--) {
            char c = authority.charAt(i);
            if (c == ':') {
                return i;
            }
            if (c < '0' || c > '9') {
                return authority.length();
            }
        }
        return authority.length();
    }

    private static boolean endsWithIgnoreCase(CharSequence s, int end, String suffix) {
        int start = end - suffix.length();
        // "*.example.com" needs at least one character before ".example.com"
        return start > 0 && AsciiString.regionMatches(s, true, start, suffix, 0, suffix.length());
    }

    private record Host(String pattern, Route[] routes, RouteIndex index) {
        Host(String pattern, Route[] routes) {
            this(pattern, routes, routes.length >= RouteIndex.MIN_ROUTES ? new RouteIndex(routes) : null);
        }
    }

    /**
     * First-match routing over many routes without trying each: every route has a literal
     * prefix its path must start with (a prefix or exact path itself, a regex's leading
     * literal characters, else empty), and routes are filed under it. A lookup hashes the
     * request path's own characters at each distinct literal length, so it visits only routes
     * whose literal is a prefix of the path, lowest index first, and allocates nothing. The
     * answer is the one the linear scan gives: the first route in config order that matches.
     */
    static final class RouteIndex {
        /** Below this many routes a linear scan is as fast. */
        static final int MIN_ROUTES = 16;

        private final Route[] routes;
        /** Distinct literal lengths, ascending. */
        private final int[] lengths;
        private final String[] keys;
        private final int[][] lists;
        private final int mask;

        RouteIndex(Route[] routes) {
            this.routes = routes;
            java.util.Map<String, List<Integer>> byLiteral = new java.util.LinkedHashMap<>();
            for (int i = 0; i < routes.length; i++) {
                byLiteral.computeIfAbsent(literal(routes[i].matcher), k -> new ArrayList<>()).add(i);
            }
            lengths = byLiteral.keySet().stream().mapToInt(String::length).distinct().sorted().toArray();
            int size = Integer.highestOneBit(Math.max(2, byLiteral.size() * 2 - 1)) << 1;
            keys = new String[size];
            lists = new int[size][];
            mask = size - 1;
            for (java.util.Map.Entry<String, List<Integer>> e : byLiteral.entrySet()) {
                int slot = e.getKey().hashCode() & mask;
                while (keys[slot] != null) {
                    slot = (slot + 1) & mask;
                }
                keys[slot] = e.getKey();
                lists[slot] = e.getValue().stream().mapToInt(Integer::intValue).toArray();
            }
        }

        /** The characters every path this matcher accepts starts with. */
        static String literal(Matcher m) {
            if (m.kind() != PathMatch.Kind.REGEX) {
                return m.path();
            }
            String re = m.regex().pattern();
            if (re.indexOf('|') >= 0) {
                return ""; // an alternative may start anywhere
            }
            StringBuilder lit = new StringBuilder();
            for (int i = 0; i < re.length(); i++) {
                char c = re.charAt(i);
                if (".[]()*+?{}|^$\\".indexOf(c) >= 0) {
                    // a quantifier applies to the character before it, which then is not certain
                    if ("*+?{".indexOf(c) >= 0 && lit.length() > 0) {
                        lit.setLength(lit.length() - 1);
                    }
                    break;
                }
                lit.append(c);
            }
            return lit.toString();
        }

        Route find(String uri, int pathEnd, HttpHeaders headers) {
            int best = Integer.MAX_VALUE;
            int hash = 0;
            int hashed = 0;
            for (int length : lengths) {
                if (length > pathEnd) {
                    break;
                }
                for (; hashed < length; hashed++) {
                    hash = 31 * hash + uri.charAt(hashed);
                }
                for (int slot = hash & mask; keys[slot] != null; slot = (slot + 1) & mask) {
                    String key = keys[slot];
                    if (key.length() == length && key.hashCode() == hash && uri.regionMatches(0, key, 0, length)) {
                        for (int i : lists[slot]) {
                            if (i >= best) {
                                break;
                            }
                            if (routes[i].matcher.matches(uri, pathEnd, headers)) {
                                best = i;
                                break;
                            }
                        }
                        break;
                    }
                }
            }
            return best == Integer.MAX_VALUE ? null : routes[best];
        }
    }

    /** Exact domains, looked up with the request's characters: no substring, no lowercase copy. */
    private static final class HostTable {
        private final String[] keys;
        private final Host[] values;
        private final int mask;

        HostTable(List<String> names, List<Host> hosts) {
            int size = Integer.highestOneBit(Math.max(4, names.size() * 2 - 1)) << 1;
            keys = new String[size];
            values = new Host[size];
            mask = size - 1;
            for (int i = 0; i < names.size(); i++) {
                String n = names.get(i);
                int slot = hash(n, n.length()) & mask;
                while (keys[slot] != null && !keys[slot].equals(n)) {
                    slot = (slot + 1) & mask;
                }
                keys[slot] = n;
                values[slot] = hosts.get(i);
            }
        }

        Host get(CharSequence s, int end) {
            int slot = hash(s, end) & mask;
            for (String k; (k = keys[slot]) != null; slot = (slot + 1) & mask) {
                if (k.length() == end && AsciiString.regionMatches(s, true, 0, k, 0, end)) {
                    return values[slot];
                }
            }
            return null;
        }

        private static int hash(CharSequence s, int end) {
            int h = 0;
            for (int i = 0; i < end; i++) {
                char c = s.charAt(i);
                h = 31 * h + (c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            return h ^ (h >>> 16);
        }
    }

    private record HeaderCheck(AsciiString name, HeaderMatcher.Kind kind, String value, Pattern regex, boolean invert) {
        boolean matches(HttpHeaders headers) {
            String v = headers.get(name);
            boolean hit = v != null && switch (kind) {
                case PRESENT -> true;
                case EXACT -> v.equals(value);
                case PREFIX -> v.startsWith(value);
                case REGEX -> regex.matcher(v).matches();
            };
            return hit != invert;
        }
    }

    private record QueryCheck(String name, HeaderMatcher.Kind kind, String value, Pattern regex) {
        /** Finds {@code name} among the query's parameters, comparing in place. */
        boolean matches(String uri, int queryAt) {
            int i = queryAt + 1;
            int n = uri.length();
            while (i <= n) {
                int end = uri.indexOf('&', i);
                if (end < 0) {
                    end = n;
                }
                int eq = uri.indexOf('=', i);
                int nameEnd = eq < 0 || eq > end ? end : eq;
                if (nameEnd - i == name.length() && uri.regionMatches(i, name, 0, name.length())) {
                    int vStart = nameEnd == end ? end : nameEnd + 1;
                    return switch (kind) {
                        case PRESENT -> true;
                        case EXACT -> end - vStart == value.length() && uri.regionMatches(vStart, value, 0, value.length());
                        case PREFIX -> uri.regionMatches(vStart, value, 0, value.length()) && end - vStart >= value.length();
                        case REGEX -> regex.matcher(uri).region(vStart, end).matches();
                    };
                }
                i = end + 1;
            }
            return false;
        }
    }

    private record Matcher(PathMatch.Kind kind, String path, Pattern regex, HeaderCheck[] headers, QueryCheck[] query) {
        boolean matches(String uri, int pathEnd, HttpHeaders h) {
            boolean pathOk = switch (kind) {
                case PREFIX -> path.length() <= pathEnd && uri.startsWith(path);
                case EXACT -> path.length() == pathEnd && uri.startsWith(path);
                case REGEX -> regex.matcher(uri).region(0, pathEnd).matches();
            };
            if (!pathOk) {
                return false;
            }
            for (HeaderCheck c : headers) {
                if (!c.matches(h)) {
                    return false;
                }
            }
            for (QueryCheck q : query) {
                if (pathEnd == uri.length() || !q.matches(uri, pathEnd)) {
                    return false;
                }
            }
            return true;
        }
    }

    /** A compiled route: what a matched request gets. */
    static final class Route {
        final String virtualHost;
        final String name;
        final Matcher matcher;
        final RouteConfig.Action action;
        /** Forward only: the clusters and their cumulative weights. */
        final Cluster[] clusters;
        final int[] cumulativeWeights;
        final String prefix; // the matched prefix, for prefix_rewrite
        final String prefixRewrite;
        final String hostRewrite;
        /** -1: the listener's default; 0: none. */
        final long timeoutNanos;
        final RetryRules retry;
        final List<HashPolicy> hashPolicy;
        final TokenBucket rateLimit;
        /** The route's header mutations, then its virtual host's. */
        final RouteConfig.HeaderMutations routeHeaders;
        final RouteConfig.HeaderMutations hostHeaders;

        Route(String virtualHost, RouteConfig.Route r, Matcher matcher, ClusterManager clusterManager, TokenBucket rateLimit,
              RouteConfig.HeaderMutations hostHeaders) {
            this.virtualHost = virtualHost;
            this.name = r.name();
            this.matcher = matcher;
            this.action = r.action();
            this.rateLimit = rateLimit;
            this.routeHeaders = r.headers();
            this.hostHeaders = hostHeaders;
            this.prefix = r.match().path().kind() == PathMatch.Kind.PREFIX ? r.match().path().value() : null;
            if (r.action() instanceof RouteConfig.Forward f) {
                clusters = new Cluster[f.clusters().size()];
                cumulativeWeights = new int[clusters.length];
                int total = 0;
                for (int i = 0; i < clusters.length; i++) {
                    clusters[i] = clusterManager.get(f.clusters().get(i).name());
                    total += f.clusters().get(i).weight();
                    cumulativeWeights[i] = total;
                }
                prefixRewrite = f.prefixRewrite();
                hostRewrite = f.hostRewrite();
                timeoutNanos = f.timeout() == null ? -1 : f.timeout().toNanos();
                retry = f.retryPolicy() == null ? RetryRules.NONE : RetryRules.of(f.retryPolicy());
                hashPolicy = f.hashPolicy();
            } else {
                clusters = new Cluster[0];
                cumulativeWeights = new int[0];
                prefixRewrite = null;
                hostRewrite = null;
                timeoutNanos = -1;
                retry = RetryRules.NONE;
                hashPolicy = List.of();
            }
        }

        /** The cluster for one request: by weight when there are several; null if it no longer exists. */
        Cluster pickCluster() {
            if (clusters.length == 1) {
                return clusters[0];
            }
            int r = ThreadLocalRandom.current().nextInt(cumulativeWeights[cumulativeWeights.length - 1]);
            for (int i = 0; i < cumulativeWeights.length; i++) {
                if (r < cumulativeWeights[i]) {
                    return clusters[i];
                }
            }
            return clusters[clusters.length - 1];
        }
    }
}
