package dev.sidecar.bench.upstream;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.sidecar.bench.BenchmarkBase;
import dev.sidecar.config.HostPort;
import dev.sidecar.upstream.Endpoint;
import dev.sidecar.upstream.HashBalancers;
import dev.sidecar.upstream.LoadBalancer;
import dev.sidecar.upstream.PickContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import net.openhft.hashing.LongHashFunction;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Consistent-hash picks with the key already hashed, as the data path has it: one pick per
 * operation, cycling through 1024 precomputed contexts so neither hashing nor a context
 * allocation is measured. {@code ring_hash_bounded} has bounded loads at 150 % with a seeded
 * spread of active requests, so each pick pays the O(n) sum of loads; Maglev and plain ring hash
 * never read a counter. {@link Build} measures what a snapshot update pays instead.
 */
@State(Scope.Thread)
public class HashBalancerBenchmark extends BenchmarkBase {
    private static final int KEYS = 1024;

    @Param({"maglev", "ring_hash", "ring_hash_bounded"})
    public String policy;

    @Param({"10", "100", "1000"})
    public int endpoints;

    private LoadBalancer balancer;
    private PickContext[] keys;
    private int next;

    @Setup
    public void setUp() {
        SplittableRandom random = new SplittableRandom(42);
        List<Endpoint> list = endpoints(endpoints);
        int[] weights = new int[endpoints];
        Arrays.fill(weights, 1);
        balancer = switch (policy) {
            case "maglev" -> HashBalancers.maglev(list, weights, 65537);
            case "ring_hash" -> HashBalancers.ringHash(list, weights, 1024, 8_388_608, 0);
            case "ring_hash_bounded" -> {
                for (Endpoint e : list) {
                    int active = random.nextInt(50);
                    for (int k = 0; k < active; k++) {
                        e.requestStarted();
                    }
                }
                yield HashBalancers.ringHash(list, weights, 1024, 8_388_608, 150);
            }
            default -> throw new IllegalArgumentException(policy);
        };
        LongHashFunction xx = LongHashFunction.xx();
        keys = new PickContext[KEYS];
        for (int i = 0; i < KEYS; i++) {
            keys[i] = PickContext.ofHash(xx.hashBytes(("key-" + i).getBytes(UTF_8)));
        }
    }

    static List<Endpoint> endpoints(int n) {
        List<Endpoint> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(Endpoint.of(new HostPort("10." + (i / 62_500) + "." + (i / 250 % 250) + "." + (i % 250 + 1), 8080)));
        }
        return list;
    }

    @Benchmark
    public Endpoint pick() {
        PickContext key = keys[next];
        next = (next + 1) & (KEYS - 1);
        return balancer.pick(key);
    }

    /**
     * Building the structure a snapshot carries: a 65537-slot Maglev table, or a ring of at
     * least 1024 and at most 8M virtual nodes (Envoy's defaults; with equal weights that is
     * max(1024, n) rounded up to a multiple of n).
     */
    @State(Scope.Benchmark)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public static class Build extends BenchmarkBase {
        @Param({"maglev", "ring_hash"})
        public String policy;

        @Param({"100", "1000", "10000"})
        public int endpoints;

        private List<Endpoint> list;
        private int[] weights;

        @Setup
        public void setUp() {
            list = HashBalancerBenchmark.endpoints(endpoints);
            weights = new int[endpoints];
            Arrays.fill(weights, 1);
        }

        @Benchmark
        public LoadBalancer build() {
            return policy.equals("maglev")
                    ? HashBalancers.maglev(list, weights, 65537)
                    : HashBalancers.ringHash(list, weights, 1024, 8_388_608, 0);
        }
    }
}
