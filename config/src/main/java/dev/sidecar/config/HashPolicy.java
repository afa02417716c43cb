package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * One entry of a {@code hash_policy} list: where a request's hash key comes from. Entries are
 * tried in order; the first that yields a key wins (Envoy's semantics, without terminal flags).
 * L4 listeners can use only {@link SourceIp}; the others are for L7 routes.
 */
public sealed interface HashPolicy {
    record SourceIp() implements HashPolicy {}

    record Header(String name) implements HashPolicy {
        public Header {
            requireNonNull(name, "name");
        }
    }

    /** A cookie; with a {@code ttl}, the proxy sets it when missing, for sticky sessions. */
    record Cookie(String name, Duration ttl, String path) implements HashPolicy {
        public Cookie {
            requireNonNull(name, "name");
        }
    }

    record QueryParameter(String name) implements HashPolicy {
        public QueryParameter {
            requireNonNull(name, "name");
        }
    }

    record Path() implements HashPolicy {}
}
