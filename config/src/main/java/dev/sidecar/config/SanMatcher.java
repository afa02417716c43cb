package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

/**
 * A rule for a peer certificate's subject alternative names (DNS names and URIs, e.g. a SPIFFE
 * ID): a certificate passes when one of its SANs is {@code value} (EXACT) or starts with it
 * (PREFIX). Envoy's {@code match_subject_alt_names} entries, limited to these two kinds.
 */
public record SanMatcher(Kind kind, String value) {
    public enum Kind {
        EXACT("exact"),
        PREFIX("prefix");

        private final String configName;

        Kind(String configName) {
            this.configName = configName;
        }

        public String configName() {
            return configName;
        }
    }

    public SanMatcher {
        requireNonNull(kind, "kind");
        requireNonNull(value, "value");
    }

    public static SanMatcher exact(String value) {
        return new SanMatcher(Kind.EXACT, value);
    }

    public static SanMatcher prefix(String value) {
        return new SanMatcher(Kind.PREFIX, value);
    }

    public boolean matches(String san) {
        return kind == Kind.EXACT ? san.equals(value) : san.startsWith(value);
    }

    @Override
    public String toString() {
        return kind.configName + ": " + value;
    }
}
