package dev.sidecar.bench.e2e;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;

/**
 * Latency at a fixed request rate, below saturation, for HTTP/1.1 keep-alive: one connection per
 * target, one GET every {@code 1/rate} seconds on a schedule that does not wait for slow answers
 * (each latency runs from the request's scheduled send time, so a stall counts against every
 * request it delays). After {@code -Dwarmup=N} unrecorded turns each (1 unless told), targets are
 * measured in turns of one second each, interleaved, so a busy moment of the machine falls on all
 * of them alike; each second starts with the next target in the list, so that none is always
 * measured right after the same other (two proxies interleaved in a fixed order, the second did
 * better in four runs of six, by up to 28 µs at p50). The unrecorded turns are this traffic's
 * warm-up: a proxy warmed by saturating load still compiles the code that paced, one-at-a-time
 * requests take (an idle event loop's wake-up among it) once they begin, on the core it serves
 * from.
 *
 * <pre>
 * java [-Dwarmup=N] -cp bench/target/benchmarks.jar dev.sidecar.bench.e2e.FixedRateLatency RATE SECONDS name=URL...
 * </pre>
 *
 * Prints one line per target: requests, errors, p50, p90, p99, p99.9 and max in microseconds.
 */
public final class FixedRateLatency {
    private FixedRateLatency() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: FixedRateLatency RATE SECONDS name=http://host:port/path ...");
            System.exit(2);
        }
        int rate = Integer.parseInt(args[0]);
        int seconds = Integer.parseInt(args[1]);
        Target[] targets = new Target[args.length - 2];
        for (int i = 0; i < targets.length; i++) {
            String[] kv = args[i + 2].split("=", 2);
            targets[i] = new Target(kv[0], URI.create(kv[1]), rate * seconds);
        }
        long interval = 1_000_000_000L / rate;
        // unrecorded turns: connections open, this client's own code and each target's paced path get compiled
        int warmup = Math.max(1, Integer.getInteger("warmup", 1));
        for (int second = 0; second < warmup; second++) {
            for (Target t : targets) {
                t.run(rate, interval);
                t.count = 0;
                t.errors = 0;
            }
        }
        for (int second = 0; second < seconds; second++) {
            for (int k = 0; k < targets.length; k++) {
                targets[(second + k) % targets.length].run(rate, interval);
            }
        }
        for (Target t : targets) {
            t.report();
        }
        for (Target t : targets) {
            t.close();
        }
    }

    private static final class Target {
        final String name;
        final URI uri;
        final long[] latencies;
        int count;
        int errors;
        Socket socket;
        InputStream in;
        OutputStream out;
        final byte[] request;

        Target(String name, URI uri, int capacity) {
            this.name = name;
            this.uri = uri;
            this.latencies = new long[capacity];
            String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
            this.request = ("GET " + path + " HTTP/1.1\r\nHost: " + uri.getHost() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        }

        void run(int n, long interval) {
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                long due = start + i * interval;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait);
                }
                try {
                    exchange();
                    latencies[count++] = System.nanoTime() - due;
                } catch (IOException e) {
                    errors++;
                    closeQuietly();
                }
            }
        }

        private void exchange() throws IOException {
            if (socket == null) {
                socket = new Socket();
                socket.setTcpNoDelay(true);
                socket.setSoTimeout(5000);
                socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 5000);
                in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
                out = socket.getOutputStream();
            }
            out.write(request);
            out.flush();
            long length = -1;
            boolean ok = false;
            for (String line; !(line = readLine(in)).isEmpty(); ) {
                if (line.startsWith("HTTP/1.1 ")) {
                    ok = line.startsWith("HTTP/1.1 200");
                }
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("content-length")) {
                    length = Long.parseLong(line.substring(colon + 1).trim());
                }
            }
            if (!ok || length < 0) {
                throw new IOException("not a 200 with a content-length");
            }
            in.skipNBytes(length);
        }

        private static String readLine(InputStream in) throws IOException {
            StringBuilder b = new StringBuilder(64);
            for (int c; (c = in.read()) != '\n'; ) {
                if (c < 0) {
                    throw new IOException("closed");
                }
                if (c != '\r') {
                    b.append((char) c);
                }
            }
            return b.toString();
        }

        void report() {
            long[] sorted = Arrays.copyOf(latencies, count);
            Arrays.sort(sorted);
            System.out.printf(Locale.ROOT, "%s: requests %d errors %d p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f us%n", name, count, errors,
                    at(sorted, 0.50), at(sorted, 0.90), at(sorted, 0.99), at(sorted, 0.999), count == 0 ? 0.0 : sorted[count - 1] / 1000.0);
        }

        private static double at(long[] sorted, double q) {
            return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)] / 1000.0;
        }

        private void closeQuietly() {
            try {
                if (socket != null) {
                    socket.close();
                }
            } catch (IOException ignored) {
                // reconnects on the next request
            }
            socket = null;
        }

        void close() {
            closeQuietly();
        }
    }
}
