package dev.sidecar.reliability;

import dev.sidecar.testkit.RawH2;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A well-behaved client at a steady rate, open loop: a request leaves every {@code 1/rate}
 * seconds whether or not the last one has been answered, so a stall of the proxy shows in every
 * request it delays rather than in one (a client that waits for each answer before the next
 * would send fewer requests exactly while the proxy is slow). Its latencies are collected
 * between {@link #start} and {@link #stop}.
 */
abstract class GoodClient implements AutoCloseable {
    /** What a stretch of requests produced: latencies in nanoseconds, sorted; requests sent and failed. */
    record Latencies(long[] sorted, int sent, int failed, java.util.List<String> failures) {
        long p99() {
            return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) Math.ceil(sorted.length * 0.99) - 1)];
        }

        boolean allAnswered() {
            return failed == 0 && sorted.length == sent && sent > 0;
        }

        String describe() {
            return String.format("%.1f ms, %d requests, %s", p99() / 1e6, sent, allAnswered() ? "all answered"
                    : (sent - sorted.length) + " failed" + (failures.isEmpty() ? "" : " " + failures));
        }
    }

    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "good-client");
        t.setDaemon(true);
        return t;
    });
    private final int perSecond;
    private volatile ConcurrentLinkedQueue<Long> latencies;
    private volatile AtomicInteger sent;
    private volatile AtomicInteger failed;
    private volatile ConcurrentLinkedQueue<String> failures;

    GoodClient(int perSecond) {
        this.perSecond = perSecond;
    }

    /** HTTP/1.1 GETs of {@code uri} through the JDK's client, on as many keep-alive connections as it needs. */
    static GoodClient http1(URI uri, int perSecond) {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        return new GoodClient(perSecond) {
            @Override
            CompletableFuture<Integer> send() {
                return client.sendAsync(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString())
                        .thenApply(HttpResponse::statusCode);
            }
        };
    }

    /**
     * HTTP/2 GETs of {@code path} on one connection of its own (prior knowledge), each on a new
     * stream; a reader matches the answers to their streams.
     */
    static GoodClient http2(int port, String path, int perSecond) throws IOException {
        RawH2 c = new RawH2(port);
        Map<Integer, CompletableFuture<Integer>> open = new ConcurrentHashMap<>();
        Thread reader = new Thread(() -> {
            try {
                while (true) {
                    RawH2.Frame f = c.await(x -> x.type() == RawH2.HEADERS || x.type() == RawH2.RST_STREAM || x.type() == RawH2.GOAWAY,
                            Duration.ofSeconds(1));
                    if (f == null) {
                        if (c.awaitClosed(Duration.ZERO)) {
                            open.values().forEach(p -> p.complete(-1));
                            return;
                        }
                        continue;
                    }
                    if (f.type() == RawH2.GOAWAY) {
                        open.values().forEach(p -> p.complete(-1));
                        return;
                    }
                    // every HEADERS block is decoded, in order, to keep the HPACK state in step
                    int status = f.type() == RawH2.HEADERS ? c.status(f) : -1000 - f.errorCode();
                    CompletableFuture<Integer> p = open.remove(f.stream());
                    if (p != null) {
                        p.complete(status);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "good-client-h2-reader");
        reader.setDaemon(true);
        reader.start();
        return new GoodClient(perSecond) {
            private int stream = 1;

            @Override
            CompletableFuture<Integer> send() {
                int id = stream;
                stream += 2;
                CompletableFuture<Integer> p = new CompletableFuture<>();
                open.put(id, p);
                try {
                    c.get(id, path);
                } catch (IOException e) {
                    open.remove(id);
                    p.completeExceptionally(e);
                }
                return p.orTimeout(10, TimeUnit.SECONDS);
            }

            @Override
            public void close() {
                super.close();
                try {
                    c.close();
                } catch (IOException e) {
                    // closing anyway
                }
                reader.interrupt();
            }
        };
    }

    /** One request; completes with its status (-1 when it got none, -1000 - code for an HTTP/2 reset). */
    abstract CompletableFuture<Integer> send();

    /** Starts sending (or starts a new stretch of measurements if already sending). */
    void start() {
        ConcurrentLinkedQueue<Long> l = new ConcurrentLinkedQueue<>();
        AtomicInteger s = new AtomicInteger();
        AtomicInteger f = new AtomicInteger();
        boolean first = latencies == null;
        latencies = l;
        sent = s;
        failed = f;
        failures = new ConcurrentLinkedQueue<>();
        if (first) {
            timer.scheduleAtFixedRate(this::fire, 0, 1_000_000 / perSecond, TimeUnit.MICROSECONDS);
        }
    }

    private void fire() {
        ConcurrentLinkedQueue<Long> l = latencies;
        AtomicInteger s = sent;
        AtomicInteger f = failed;
        ConcurrentLinkedQueue<String> why = failures;
        s.incrementAndGet();
        long t0 = System.nanoTime();
        send().handle((status, e) -> {
            long took = System.nanoTime() - t0;
            if (e != null || status != 200) {
                if (f.incrementAndGet() <= 3) {
                    Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
                    why.add((e != null ? String.valueOf(cause) : status <= -1000 ? "RST_STREAM " + (-1000 - status) : status < 0 ? "GOAWAY or closed" : "status " + status) + " after " + took / 1_000_000 + " ms");
                }
            } else {
                l.add(took);
            }
            return null;
        });
    }

    /** The latencies since {@link #start}, once every request sent meanwhile has been answered or has failed (15 s at most). */
    Latencies measure() {
        ConcurrentLinkedQueue<Long> l = latencies;
        AtomicInteger s = sent;
        AtomicInteger f = failed;
        ConcurrentLinkedQueue<String> why = failures;
        start(); // later requests count towards the next stretch
        // every request this stretch sent is answered, has failed, or has had 15 s (its own
        // timeout is 10 s); what is still missing then counts as failed
        try {
            dev.sidecar.testkit.Await.until("the stretch's answers", java.time.Duration.ofSeconds(15), () -> l.size() + f.get() >= s.get());
        } catch (AssertionError e) {
            why.add((s.get() - l.size() - f.get()) + " unanswered after 15 s");
        }
        long[] sorted = l.stream().mapToLong(Long::longValue).toArray();
        Arrays.sort(sorted);
        return new Latencies(sorted, s.get(), f.get(), java.util.List.copyOf(why));
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
