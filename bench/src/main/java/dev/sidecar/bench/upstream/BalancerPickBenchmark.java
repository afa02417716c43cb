package dev.sidecar.bench.upstream;

import dev.sidecar.bench.BenchmarkBase;
import dev.sidecar.config.HostPort;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.upstream.Endpoint;
import dev.sidecar.upstream.LoadBalancer;
import dev.sidecar.upstream.PickContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * One pick per operation, per policy and cluster size, with equal and uneven weights. Endpoints
 * carry a fixed, seeded spread of active connections so least_connection has real work to do.
 */
@State(Scope.Benchmark)
public class BalancerPickBenchmark extends BenchmarkBase {
    @Param({"round_robin", "least_connection", "random", "least_request", "peak_ewma"})
    public String policy;

    @Param({"10", "100", "1000"})
    public int endpoints;

    @Param({"equal", "uneven"})
    public String weights;

    private LoadBalancer balancer;

    @Setup
    public void setUp() {
        Random random = new Random(42);
        List<Endpoint> list = new ArrayList<>(endpoints);
        int[] w = new int[endpoints];
        for (int i = 0; i < endpoints; i++) {
            Endpoint e = Endpoint.of(new HostPort("10.0." + (i / 250) + "." + (i % 250), 8080));
            int active = random.nextInt(50);
            for (int k = 0; k < active; k++) {
                e.connectionOpened();
                e.requestStarted();
            }
            e.latency().observe(1_000_000L + random.nextInt(5_000_000), System.nanoTime());
            list.add(e);
            w[i] = weights.equals("equal") ? 1 : 1 + random.nextInt(10);
        }
        LbPolicy p = java.util.Arrays.stream(LbPolicy.values()).filter(v -> v.configName().equals(policy)).findFirst().orElseThrow();
        balancer = LoadBalancer.of(p, list, w);
    }

    @Benchmark
    public Endpoint pick() {
        return balancer.pick(PickContext.NONE);
    }
}
