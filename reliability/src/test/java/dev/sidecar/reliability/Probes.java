package dev.sidecar.reliability;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sidecar.testkit.ProxyProcess;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntPredicate;

/** What the scorecard's rows ask of the running proxy: its admin API, and traffic at a fixed rate. */
final class Probes {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private Probes() {}

    /**
     * Starts the proxy on {@code yaml} and waits until its log says {@code line} (a proxy with a
     * control plane logs "ready once ..." at start, which {@link ProxyProcess#run} does not take
     * for ready).
     */
    static ProxyProcess start(java.nio.file.Path dir, String yaml, String line) throws IOException {
        java.nio.file.Path file = java.nio.file.Files.createTempFile(dir, "sidecar-", ".yaml");
        java.nio.file.Files.writeString(file, yaml);
        return start(file, line);
    }

    /** Starts the proxy on the config file {@code file} and waits until its log says {@code line}. */
    static ProxyProcess start(java.nio.file.Path file, String line) {
        ProxyProcess p = ProxyProcess.start("run", "-c", file.toString());
        try {
            dev.sidecar.testkit.Await.until("the proxy to log '" + line + "'", Duration.ofSeconds(30),
                    () -> p.output().contains(line) || !p.isAlive());
            if (!p.output().contains(line)) {
                throw new AssertionError("the proxy exited before logging '" + line + "'");
            }
        } catch (AssertionError e) {
            p.close();
            throw new AssertionError(e.getMessage() + "\n" + p.output(), e);
        }
        return p;
    }

    static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return CLIENT.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode admin(ProxyProcess p, String path) throws IOException, InterruptedException {
        return JSON.readTree(get("http://127.0.0.1:" + p.adminPort() + path).body());
    }

    /** A cluster's endpoints as /clusters shows them, or an empty list. */
    static List<JsonNode> endpoints(ProxyProcess p, String cluster) throws IOException, InterruptedException {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode c : admin(p, "/clusters").get("clusters")) {
            if (c.get("name").asText().equals(cluster)) {
                c.get("endpoints").forEach(out::add);
            }
        }
        return out;
    }

    /** Requests in flight to every endpoint of every cluster, from /clusters. */
    static int activeRequests(ProxyProcess p) throws IOException, InterruptedException {
        int n = 0;
        for (JsonNode c : admin(p, "/clusters").get("clusters")) {
            for (JsonNode e : c.get("endpoints")) {
                n += e.get("active_requests").asInt();
            }
        }
        return n;
    }

    /** One Prometheus sample ({@code name} may carry its labels), NaN when absent. */
    static double metric(ProxyProcess p, String name) throws IOException, InterruptedException {
        for (String line : get("http://127.0.0.1:" + p.adminPort() + "/stats/prometheus").body().split("\n")) {
            if (line.startsWith(name) && (name.endsWith("}") || line.charAt(name.length()) == ' ' || line.charAt(name.length()) == '{')) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return Double.NaN;
    }

    /** What a stretch of fixed-rate traffic produced: requests sent, those that failed, a few failures described. */
    record Load(int sent, int failed, List<String> samples) {
        String describe() {
            return failed + " of " + sent + (samples.isEmpty() ? "" : " (" + String.join("; ", samples) + ")");
        }
    }

    /**
     * Traffic at a fixed rate: {@code perSecond} GETs of {@code url}, each on its own schedule
     * (a slow answer does not hold the next one back), until {@code running} says stop or
     * {@code limit} passes; a request fails when it gets no answer within 10 s or a status
     * {@code ok} refuses.
     */
    static final class Traffic implements AutoCloseable {
        private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "scorecard-load");
            t.setDaemon(true);
            return t;
        });
        private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        private final ConcurrentLinkedQueue<CompletableFuture<?>> pending = new ConcurrentLinkedQueue<>();
        private final AtomicInteger sent = new AtomicInteger();
        private final AtomicInteger failed = new AtomicInteger();
        private final ConcurrentLinkedQueue<String> samples = new ConcurrentLinkedQueue<>();

        Traffic(String url, int perSecond, IntPredicate ok) {
            URI uri = URI.create(url);
            timer.scheduleAtFixedRate(() -> {
                sent.incrementAndGet();
                pending.add(client.sendAsync(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
                        HttpResponse.BodyHandlers.ofString()).handle((r, e) -> {
                            if (e != null || !ok.test(r.statusCode())) {
                                failed.incrementAndGet();
                                if (samples.size() < 5) {
                                    samples.add(e != null ? String.valueOf(e.getCause() != null ? e.getCause() : e)
                                            : r.statusCode() + " " + r.body().strip());
                                }
                            }
                            return null;
                        }));
            }, 0, 1_000_000 / perSecond, TimeUnit.MICROSECONDS);
        }

        int sent() {
            return sent.get();
        }

        int failed() {
            return failed.get();
        }

        /** Stops sending, waits for the answers still due, and says what happened. */
        Load stop() {
            timer.shutdownNow();
            try {
                timer.awaitTermination(5, TimeUnit.SECONDS);
                CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                samples.add("answers still missing after 30 s");
                failed.incrementAndGet();
            }
            return new Load(sent.get(), failed.get(), List.copyOf(samples));
        }

        @Override
        public void close() {
            timer.shutdownNow();
        }
    }
}
