package dev.sidecar.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.HostPort;
import dev.sidecar.testkit.Await;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** STRICT_DNS: host names are resolved again on the refresh interval and each answer's addresses become the endpoints. */
class DnsRefreshTest {
    private static final Duration LIMIT = Duration.ofSeconds(10);

    private final Map<String, List<InetAddress>> answers = new ConcurrentHashMap<>();
    private final HostResolver resolver = host -> {
        List<InetAddress> a = answers.get(host);
        if (a == null) {
            throw new UnknownHostException(host);
        }
        return a;
    };

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static Set<String> addresses(Cluster c) {
        return c.snapshot().endpoints().stream().map(e -> e.address().toString()).collect(Collectors.toSet());
    }

    private static ClusterConfig strictDns(Duration rate, String... hostPorts) {
        return ClusterConfig.builder("dns")
                .endpoints(java.util.Arrays.stream(hostPorts).map(h -> EndpointConfig.of(HostPort.parse(h))).toList())
                .dnsRefreshRate(rate).build();
    }

    @Test
    void a_changed_answer_changes_the_endpoints_and_a_failed_lookup_keeps_the_last_one() {
        answers.put("svc.test", List.of(ip("127.0.0.2"), ip("127.0.0.3")));
        ClusterManager manager = new ClusterManager(List.of(strictDns(Duration.ofMillis(20), "svc.test:80", "10.0.0.9:81")),
                System::nanoTime, ControlExecutor.shared(), Duration.ofSeconds(1), resolver);
        try {
            Cluster c = manager.get("dns");
            Await.until("the first answer", LIMIT, () -> addresses(c).equals(Set.of("127.0.0.2:80", "127.0.0.3:80", "10.0.0.9:81")));
            Endpoint kept = c.endpoint(new HostPort("127.0.0.3", 80));

            answers.put("svc.test", List.of(ip("127.0.0.3"), ip("127.0.0.4"), ip("::1")));
            Await.until("the new answer (IPv4 only)", LIMIT, () -> addresses(c).equals(Set.of("127.0.0.3:80", "127.0.0.4:80", "10.0.0.9:81")));
            assertSame(kept, c.endpoint(new HostPort("127.0.0.3", 80)), "a surviving address keeps its endpoint");

            answers.remove("svc.test");
            answers.put("other.test", List.of(ip("127.0.0.5")));
            manager.update(List.of(strictDns(Duration.ofMillis(20), "svc.test:80", "other.test:90")));
            Await.until("the other name's answer", LIMIT, () -> addresses(c).contains("127.0.0.5:90"));
            assertEquals(Set.of("127.0.0.3:80", "127.0.0.4:80", "127.0.0.5:90"), addresses(c), "svc.test's last answer is kept");
        } finally {
            manager.close();
        }
    }

    @Test
    void localhost_resolves_with_the_system_resolver() {
        ClusterManager manager = new ClusterManager(List.of(strictDns(Duration.ofMillis(50), "localhost:8080")));
        try {
            Cluster c = manager.get("dns");
            Await.until("localhost resolved", LIMIT, () -> !addresses(c).contains("localhost:8080"));
            assertEquals(1, c.snapshot().endpoints().size(), addresses(c).toString());
        } finally {
            manager.close();
        }
    }
}
