package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * An active health check of every endpoint of a cluster (Envoy's {@code health_checks} entry).
 *
 * @param initialJitter the first probe of each endpoint waits a random time up to this, so that
 *     proxies started together do not probe in lockstep
 * @param unhealthyInterval the interval while an endpoint is unhealthy (faster, to notice recovery)
 * @param noTrafficInterval the interval while the cluster has carried no traffic (slower: checks
 *     cost clients × endpoints in a mesh)
 * @param initiallyHealthy false (the default): a new endpoint gets no traffic until its first
 *     probe passes; true: it gets traffic at once and is ejected only after failing
 * @param kind what a probe does
 */
public record HealthCheckConfig(
        Duration timeout,
        Duration interval,
        Duration intervalJitter,
        Duration initialJitter,
        Duration unhealthyInterval,
        Duration noTrafficInterval,
        int unhealthyThreshold,
        int healthyThreshold,
        boolean initiallyHealthy,
        Kind kind) {

    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(1);
    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(5);
    public static final Duration DEFAULT_NO_TRAFFIC_INTERVAL = Duration.ofSeconds(60);
    /** Three misses, two passes: one lost probe neither ejects nor flaps an endpoint. */
    public static final int DEFAULT_UNHEALTHY_THRESHOLD = 3;
    public static final int DEFAULT_HEALTHY_THRESHOLD = 2;

    public HealthCheckConfig {
        requireNonNull(timeout, "timeout");
        requireNonNull(interval, "interval");
        requireNonNull(intervalJitter, "intervalJitter");
        requireNonNull(initialJitter, "initialJitter");
        requireNonNull(unhealthyInterval, "unhealthyInterval");
        requireNonNull(noTrafficInterval, "noTrafficInterval");
        requireNonNull(kind, "kind");
    }

    public static Builder builder(Kind kind) {
        return new Builder(kind);
    }

    public static final class Builder {
        private final Kind kind;
        private Duration timeout = DEFAULT_TIMEOUT;
        private Duration interval = DEFAULT_INTERVAL;
        private Duration intervalJitter = Duration.ZERO;
        private Duration initialJitter = Duration.ZERO;
        private Duration unhealthyInterval;
        private Duration noTrafficInterval = DEFAULT_NO_TRAFFIC_INTERVAL;
        private int unhealthyThreshold = DEFAULT_UNHEALTHY_THRESHOLD;
        private int healthyThreshold = DEFAULT_HEALTHY_THRESHOLD;
        private boolean initiallyHealthy;

        private Builder(Kind kind) {
            this.kind = kind;
        }

        public Builder timeout(Duration v) {
            timeout = v;
            return this;
        }

        public Builder interval(Duration v) {
            interval = v;
            return this;
        }

        public Builder intervalJitter(Duration v) {
            intervalJitter = v;
            return this;
        }

        public Builder initialJitter(Duration v) {
            initialJitter = v;
            return this;
        }

        /** Defaults to the interval. */
        public Builder unhealthyInterval(Duration v) {
            unhealthyInterval = v;
            return this;
        }

        public Builder noTrafficInterval(Duration v) {
            noTrafficInterval = v;
            return this;
        }

        public Builder unhealthyThreshold(int v) {
            unhealthyThreshold = v;
            return this;
        }

        public Builder healthyThreshold(int v) {
            healthyThreshold = v;
            return this;
        }

        public Builder initiallyHealthy(boolean v) {
            initiallyHealthy = v;
            return this;
        }

        public HealthCheckConfig build() {
            return new HealthCheckConfig(timeout, interval, intervalJitter, initialJitter,
                    unhealthyInterval == null ? interval : unhealthyInterval, noTrafficInterval,
                    unhealthyThreshold, healthyThreshold, initiallyHealthy, kind);
        }
    }

    /** What a probe does. */
    public sealed interface Kind permits Tcp, Http, Grpc {}

    /** Connect; if {@code send} is not empty, write it and expect a reply starting with {@code expect}. */
    public record Tcp(byte[] send, byte[] expect) implements Kind {
        public Tcp {
            send = send.clone();
            expect = expect.clone();
        }

        public static Tcp connectOnly() {
            return new Tcp(new byte[0], new byte[0]);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tcp t && java.util.Arrays.equals(send, t.send) && java.util.Arrays.equals(expect, t.expect);
        }

        @Override
        public int hashCode() {
            return 31 * java.util.Arrays.hashCode(send) + java.util.Arrays.hashCode(expect);
        }

        @Override
        public String toString() {
            return "Tcp[send=" + send.length + " bytes, expect=" + expect.length + " bytes]";
        }
    }

    /** GET {@code path} with Host {@code host}; a status in one of {@code expectedStatuses} passes. */
    public record Http(String path, String host, java.util.List<StatusRange> expectedStatuses) implements Kind {
        public Http {
            requireNonNull(path, "path");
            requireNonNull(host, "host");
            expectedStatuses = java.util.List.copyOf(expectedStatuses);
        }
    }

    /** grpc.health.v1.Health/Check for {@code serviceName}; SERVING passes. */
    public record Grpc(String serviceName) implements Kind {
        public Grpc {
            requireNonNull(serviceName, "serviceName");
        }
    }

    /** An inclusive range of HTTP statuses, written {@code 200-399} or {@code 204}. */
    public record StatusRange(int from, int to) {
        public boolean contains(int status) {
            return status >= from && status <= to;
        }
    }
}
