package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * An HTTP listener's routing, in Envoy's vocabulary: virtual hosts chosen by the request's
 * authority, then the first route of that host whose match accepts the request, then the route's
 * action. Compiled into a route table when the config is applied.
 */
public record RouteConfig(List<VirtualHost> virtualHosts) {
    public RouteConfig {
        virtualHosts = List.copyOf(virtualHosts);
    }

    /** The route table of a listener that sends every request to one cluster. */
    public static RouteConfig toCluster(String cluster) {
        return new RouteConfig(List.of(new VirtualHost("default", List.of("*"),
                List.of(new Route("default", Match.ANY, Forward.to(cluster), HeaderMutations.NONE, null)),
                HeaderMutations.NONE, null)));
    }

    /**
     * @param domains exact host names, {@code *.suffix}, {@code prefix.*} or {@code *}; a port in
     *     the request's authority is ignored unless a domain names one
     * @param rateLimit a token bucket shared by the host's routes that set none; null for none
     */
    public record VirtualHost(String name, List<String> domains, List<Route> routes, HeaderMutations headers, RateLimit rateLimit) {
        public VirtualHost {
            requireNonNull(name, "name");
            domains = List.copyOf(domains);
            routes = List.copyOf(routes);
            requireNonNull(headers, "headers");
        }
    }

    /** @param rateLimit this route's own token bucket; null to use the virtual host's */
    public record Route(String name, Match match, Action action, HeaderMutations headers, RateLimit rateLimit) {
        public Route {
            requireNonNull(name, "name");
            requireNonNull(match, "match");
            requireNonNull(action, "action");
            requireNonNull(headers, "headers");
        }
    }

    /** Every condition must hold: the path, each header matcher, each query-parameter matcher. */
    public record Match(PathMatch path, List<HeaderMatcher> headers, List<QueryMatcher> queryParameters) {
        public static final Match ANY = new Match(new PathMatch(PathMatch.Kind.PREFIX, "/"), List.of(), List.of());

        public Match {
            requireNonNull(path, "path");
            headers = List.copyOf(headers);
            queryParameters = List.copyOf(queryParameters);
        }
    }

    /** {@code prefix}, {@code path} (exact) or {@code safe_regex} (the whole path, query excluded). */
    public record PathMatch(Kind kind, String value) {
        public enum Kind { PREFIX, EXACT, REGEX }

        public PathMatch {
            requireNonNull(kind, "kind");
            requireNonNull(value, "value");
        }
    }

    /** A header condition; {@code invert} negates it. For PRESENT the value is unused. */
    public record HeaderMatcher(String name, Kind kind, String value, boolean invert) {
        public enum Kind { EXACT, PREFIX, PRESENT, REGEX }

        public HeaderMatcher {
            requireNonNull(name, "name");
            requireNonNull(kind, "kind");
            requireNonNull(value, "value");
        }
    }

    /** A query-parameter condition: {@code exact} value, {@code regex}, or just {@code present}. */
    public record QueryMatcher(String name, HeaderMatcher.Kind kind, String value) {
        public QueryMatcher {
            requireNonNull(name, "name");
            requireNonNull(kind, "kind");
            requireNonNull(value, "value");
        }
    }

    /** What a route does with a request it matched. */
    public sealed interface Action permits Forward, Redirect, DirectResponse {}

    /**
     * Send the request upstream, to one cluster or split by weight over several.
     *
     * @param timeout the whole request, until the response is complete (0: none; null: the
     *     listener's default)
     * @param retryPolicy null for no retries
     * @param prefixRewrite replaces the matched prefix of the path; null to keep it
     * @param hostRewrite replaces the Host/:authority; null to keep it
     */
    public record Forward(List<WeightedCluster> clusters, Duration timeout, RetryPolicy retryPolicy, List<HashPolicy> hashPolicy,
                          String prefixRewrite, String hostRewrite) implements Action {
        public Forward {
            clusters = List.copyOf(clusters);
            hashPolicy = List.copyOf(hashPolicy);
        }

        public static Forward to(String cluster) {
            return new Forward(List.of(new WeightedCluster(cluster, 1)), null, null, List.of(), null, null);
        }
    }

    public record WeightedCluster(String name, int weight) {
        public WeightedCluster {
            requireNonNull(name, "name");
        }
    }

    /**
     * Answer with a redirect. Unset parts keep the request's own.
     *
     * @param responseCode 301, 302, 303, 307 or 308
     */
    public record Redirect(String scheme, String host, int port, String path, String prefixRewrite, int responseCode,
                           boolean stripQuery) implements Action {}

    /** Answer from the proxy itself, without an upstream. */
    public record DirectResponse(int status, String body) implements Action {
        public DirectResponse {
            requireNonNull(body, "body");
        }
    }

    /** Headers to add and remove, on the request going upstream and on the response coming back. */
    public record HeaderMutations(List<HeaderValue> requestAdd, List<String> requestRemove, List<HeaderValue> responseAdd,
                                  List<String> responseRemove) {
        public static final HeaderMutations NONE = new HeaderMutations(List.of(), List.of(), List.of(), List.of());

        public HeaderMutations {
            requestAdd = List.copyOf(requestAdd);
            requestRemove = List.copyOf(requestRemove);
            responseAdd = List.copyOf(responseAdd);
            responseRemove = List.copyOf(responseRemove);
        }

        public boolean isEmpty() {
            return requestAdd.isEmpty() && requestRemove.isEmpty() && responseAdd.isEmpty() && responseRemove.isEmpty();
        }
    }

    /** @param append add beside existing values rather than replace them */
    public record HeaderValue(String name, String value, boolean append) {
        public HeaderValue {
            requireNonNull(name, "name");
            requireNonNull(value, "value");
        }
    }

    /**
     * Envoy's retry policy.
     *
     * @param perTryTimeout one attempt, until its response headers arrive (0: none)
     * @param baseInterval first backoff; each further retry doubles it, up to {@code maxInterval},
     *     and sleeps a uniformly random time up to that bound (full jitter)
     * @param retriableStatusCodes the statuses {@code retriable-status-codes} retries on
     */
    public record RetryPolicy(Set<RetryOn> retryOn, int numRetries, Duration perTryTimeout, Duration baseInterval,
                              Duration maxInterval, List<Integer> retriableStatusCodes) {
        public static final Duration DEFAULT_BASE_INTERVAL = Duration.ofMillis(25);

        public RetryPolicy {
            retryOn = Set.copyOf(retryOn);
            requireNonNull(perTryTimeout, "perTryTimeout");
            requireNonNull(baseInterval, "baseInterval");
            requireNonNull(maxInterval, "maxInterval");
            retriableStatusCodes = List.copyOf(retriableStatusCodes);
        }
    }

    /** The conditions of {@code retry_on}, with Envoy's names. */
    public enum RetryOn {
        CONNECT_FAILURE("connect-failure"),
        REFUSED_STREAM("refused-stream"),
        RESET("reset"),
        FIVE_XX("5xx"),
        GATEWAY_ERROR("gateway-error"),
        RETRIABLE_STATUS_CODES("retriable-status-codes"),
        /** gRPC statuses, read from {@code grpc-status} in the response headers (trailers-only responses). */
        CANCELLED("cancelled"),
        DEADLINE_EXCEEDED("deadline-exceeded"),
        RESOURCE_EXHAUSTED("resource-exhausted"),
        UNAVAILABLE("unavailable");

        private final String configName;

        RetryOn(String configName) {
            this.configName = configName;
        }

        public String configName() {
            return configName;
        }
    }

    /**
     * A local token bucket: {@code maxTokens} to start, {@code tokensPerFill} added every
     * {@code fillInterval} up to {@code maxTokens}; a request finding it empty gets 429.
     */
    public record RateLimit(int maxTokens, int tokensPerFill, Duration fillInterval) {
        public RateLimit {
            requireNonNull(fillInterval, "fillInterval");
        }
    }
}
