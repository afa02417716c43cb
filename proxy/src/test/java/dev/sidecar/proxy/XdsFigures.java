package dev.sidecar.proxy;

import static dev.sidecar.testkit.EnvoyResources.edsCluster;
import static dev.sidecar.testkit.EnvoyResources.endpoints;
import static dev.sidecar.testkit.EnvoyResources.httpListener;
import static dev.sidecar.testkit.EnvoyResources.largeAssignment;
import static dev.sidecar.testkit.EnvoyResources.routes;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.XdsServer;
import dev.sidecar.upstream.ClusterManager;
import dev.sidecar.xds.translate.Translator;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * The figures of the xDS closing note, run by hand (not a test: it measures wall-clock time on
 * whatever machine it runs on):
 *
 * <pre>
 * ./mvnw -o -q -pl control-client,proxy -am test-compile dependency:build-classpath \
 *     -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test
 * java -Xmx1g -cp "$(cat proxy/target/cp.txt):proxy/target/test-classes:proxy/target/classes" dev.sidecar.proxy.XdsFigures 100
 * </pre>
 *
 * Results: {@code bench/results/xds-2026-11-22.md}.
 *
 * <ol>
 *   <li>Update-to-traffic latency: a real xDS server (java-control-plane) pushes an EDS update
 *   whose only endpoint is one the cluster did not have; the time from the push to the first
 *   request that endpoint receives, with requests flowing back to back through the proxy. 100
 *   updates, p50/p99/max.
 *   <li>A 10,000-endpoint update: the time from the push to the 10,001-endpoint snapshot in
 *   force, and the heap it keeps (used heap after a full GC, before and after).
 *   <li>The parts in process, without gRPC: translating the ClusterLoadAssignment, and
 *   {@link ClusterManager#update} for 1k, 10k and 50k endpoints (new, then all kept), to show how
 *   the cost grows.
 * </ol>
 */
public final class XdsFigures {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final Duration LIMIT = Duration.ofSeconds(60);

    public static void main(String[] args) throws Exception {
        System.setProperty("java.util.logging.config.file", "/dev/null");
        java.util.logging.LogManager.getLogManager().reset();
        int updates = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        System.out.println("JDK " + System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version") + ", "
                + Runtime.getRuntime().availableProcessors() + " CPUs, max heap " + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB");
        inProcess();
        endToEnd(updates);
    }

    private static void inProcess() {
        for (int n : new int[] {1_000, 10_000, 50_000}) {
            ClusterLoadAssignment cla = largeAssignment("app", n - 1, 0, 8080);
            ClusterLoadAssignment shifted = largeAssignment("app", n - 1, n / 20, 8080);
            long[] translate = new long[7];
            long[] fresh = new long[7];
            long[] kept = new long[7];
            long[] validate = new long[7];
            for (int round = 0; round < translate.length; round++) {
                long t0 = System.nanoTime();
                List<EndpointConfig> eps = Translator.endpoints(cla);
                long t1 = System.nanoTime();
                ClusterConfig c = ClusterConfig.of("app", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(1), eps);
                ClusterConfig c2 = c.withEndpoints(Translator.endpoints(shifted));
                long t2 = System.nanoTime();
                ClusterManager clusters = new ClusterManager(List.of(c));
                long t3 = System.nanoTime();
                clusters.update(List.of(c2));
                long t4 = System.nanoTime();
                var errors = ConfigLoader.parse("admin: { address: 127.0.0.1:0 }\n").withResources(List.of(), List.of(c2)).validate();
                long t5 = System.nanoTime();
                if (!errors.isEmpty() || clusters.get("app").snapshot().endpoints().size() != n) {
                    throw new AssertionError(errors);
                }
                translate[round] = t1 - t0;
                fresh[round] = t3 - t2;
                kept[round] = t4 - t3;
                validate[round] = t5 - t4;
            }
            System.out.printf("in process, %,d endpoints (median of the last 5 of 7): translate %s, validate %s, ClusterManager new %s, "
                    + "update keeping 95%% %s%n", n, ms(median(translate)), ms(median(validate)), ms(median(fresh)), ms(median(kept)));
        }
    }

    private static void endToEnd(int updates) throws Exception {
        HttpUpstream[] upstreams = {new HttpUpstream("u0"), new HttpUpstream("u1")};
        XdsServer xds = new XdsServer();
        var listeners = List.of(httpListener("in", "r"));
        var routeConfigs = List.of(routes("r", "app", null, null));
        xds.set("0", List.of(edsCluster("app")), List.of(endpoints("app", upstreams[0].port())), listeners, routeConfigs);
        Sidecar proxy = Sidecar.start(ConfigLoader.parse("server: { drain_timeout: 1s }\nadmin: { address: 127.0.0.1:0 }\n"
                + "control_plane: { address: " + xds.address() + ", node: { id: figures }, initial_fetch_timeout: 5s }\n"));
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> load = new ArrayList<>();
        try {
            Await.until("the listener", LIMIT, () -> proxy.config().listeners().stream().anyMatch(l -> l.name().equals("in")));
            int port = proxy.listenerPort("in");
            for (int t = 0; t < 2; t++) {
                Thread th = new Thread(() -> {
                    HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/")).build();
                    while (!stop.get()) {
                        try {
                            HTTP.send(req, HttpResponse.BodyHandlers.discarding());
                        } catch (Exception e) {
                            // counted by nobody: the figure is the latency, the tests check failures
                        }
                    }
                }, "load-" + t);
                th.start();
                load.add(th);
            }
            Await.until("traffic", LIMIT, () -> upstreams[0].requestCount() > 100);
            long[] latency = new long[updates];
            for (int k = 1; k <= updates; k++) {
                HttpUpstream next = upstreams[k % 2];
                int before = next.requestCount();
                long t0 = System.nanoTime();
                xds.set(Integer.toString(k), List.of(edsCluster("app")), List.of(endpoints("app", next.port())), listeners, routeConfigs);
                long deadline = t0 + LIMIT.toNanos();
                while (next.requestCount() == before) {
                    if (System.nanoTime() - deadline > 0) {
                        throw new AssertionError("update " + k + " never reached its endpoint");
                    }
                    LockSupport.parkNanos(20_000);
                }
                latency[k - 1] = System.nanoTime() - t0;
            }
            long[] sorted = latency.clone();
            Arrays.sort(sorted);
            System.out.printf("update-to-traffic over %d EDS updates: p50 %s, p99 %s, max %s, min %s%n", updates,
                    ms(percentile(sorted, 50)), ms(percentile(sorted, 99)), ms(sorted[sorted.length - 1]), ms(sorted[0]));

            MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
            int last = updates % 2;
            for (int round = 0; round < 3; round++) {
                long heapBefore = usedAfterGc(memory);
                long t0 = System.nanoTime();
                xds.set("big-" + round, List.of(edsCluster("app")), List.of(largeAssignment("app", 10_000, 0, upstreams[last].port())),
                        listeners, routeConfigs);
                Await.until("10,001 endpoints", LIMIT, () -> proxy.clusters().get("app").snapshot().endpoints().size() == 10_001);
                long applied = System.nanoTime() - t0;
                long heapAfter = usedAfterGc(memory);
                System.out.printf("10,000-endpoint EDS update, round %d: push to snapshot in force %s; heap kept %+.1f MiB%n", round + 1,
                        ms(applied), (heapAfter - heapBefore) / 1048576.0);
                xds.set("small-" + round, List.of(edsCluster("app")), List.of(endpoints("app", upstreams[last].port())), listeners,
                        routeConfigs);
                Await.until("one endpoint", LIMIT, () -> proxy.clusters().get("app").snapshot().endpoints().size() == 1);
            }
        } finally {
            stop.set(true);
            for (Thread t : load) {
                t.join(5_000);
            }
            proxy.close();
            xds.close();
            for (HttpUpstream u : upstreams) {
                u.close();
            }
        }
    }

    private static long usedAfterGc(MemoryMXBean memory) {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return memory.getHeapMemoryUsage().getUsed();
    }

    private static long median(long[] samples) {
        long[] last = Arrays.copyOfRange(samples, 2, samples.length);
        Arrays.sort(last);
        return last[last.length / 2];
    }

    private static long percentile(long[] sorted, int p) {
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private static String ms(long nanos) {
        return String.format("%.2f ms", nanos / 1e6);
    }
}
