package dev.sidecar.proxy;

import dev.sidecar.config.ProxyConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The training run behind the class-data-sharing archive that the build makes
 * ({@code proxy/target/sidecar.jsa}): the JVM runs this with {@code -XX:DumpLoadedClassList},
 * and a second JVM archives every class on that list, the JDK's own included, so a real start
 * maps them instead of parsing and verifying them again. It parses a command line as
 * {@code sidecar run} does, starts the proxy as that command does, on ports the kernel picks,
 * and sends what a first user sends — HTTP/1.1 and h2c requests, TCP bytes, admin calls — through
 * it to a small upstream of its own, then drains and stops. Everything it touches is loopback.
 *
 * <p>Exits 0 when every exchange got its answer, 1 otherwise (the archive is still usable: it
 * only holds fewer classes).
 */
final class CdsTraining {
    private static final byte[] RESPONSE = ("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok")
            .getBytes(StandardCharsets.US_ASCII);

    private CdsTraining() {
    }

    public static void main(String[] args) throws Exception {
        // the Netty settings of a real start, so that the classes they leave unused stay out
        Main.nettyDefaults();
        // quiet: a warning Netty logs while its io_uring loops stop is not the training's business
        LogFormat.install(java.util.logging.Level.SEVERE, false);
        // the command line as `sidecar run` parses it
        Main.commandLine().parseArgs("run", "--config", "sidecar.yaml", "--log-level", "warn");
        int failures = 0;
        try (ServerSocket upstream = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> serve(upstream), "training-upstream");
            t.setDaemon(true);
            t.start();
            int up = upstream.getLocalPort();
            ProxyConfig config = ConfigLoader.parse("""
                    server: { workers: 1, drain_timeout: 1s }
                    admin: { address: 127.0.0.1:0 }
                    listeners:
                      - { name: web, address: 127.0.0.1:0, protocol: http, cluster: up }
                      - { name: tcp, address: 127.0.0.1:0, protocol: tcp, cluster: up }
                    clusters:
                      - name: up
                        lb_policy: least_request
                        endpoints: [{ address: 127.0.0.1:%d }]
                    """.formatted(up));
            Sidecar sidecar = Sidecar.start(config);
            try {
                int web = sidecar.listenerPort("web");
                for (int i = 0; i < 20; i++) {
                    failures += http1(web, "/training/" + i) ? 0 : 1;
                    failures += h2c(web) ? 0 : 1;
                }
                failures += tcp(sidecar.listenerPort("tcp")) ? 0 : 1;
                // Not the JSON views (/clusters, /config_dump): with the archive mapped at a random
                // address and relocated, every class in it costs resident memory whether a start
                // loads it or not, and Jackson's databind (some 470 classes) serves only those
                // views; their first answer loads it from the jars instead.
                for (String path : new String[] {"/ready", "/stats/prometheus", "/"}) {
                    failures += http1(sidecar.adminPort(), path) ? 0 : 1;
                }
                sidecar.drain(Duration.ofSeconds(1));
            } finally {
                sidecar.close();
            }
        }
        if (failures > 0) {
            System.err.println("cds training: " + failures + " exchanges failed");
        }
        System.exit(failures == 0 ? 0 : 1);
    }

    /** Answers every request head it reads with a fixed 200, keeping the connection. */
    private static void serve(ServerSocket server) {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                Thread t = new Thread(() -> answer(s), "training-upstream-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void answer(Socket s) {
        try (s) {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            int matched = 0;
            for (int b; (b = in.read()) >= 0; ) {
                // the end of a head is CRLF CRLF; the training requests have no body
                matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
                if (matched == 4) {
                    out.write(RESPONSE);
                    out.flush();
                    matched = 0;
                }
            }
        } catch (IOException ignored) {
            // the proxy closed the connection
        }
    }

    private static boolean http1(int port, String path) throws IOException {
        try (Socket s = connect(port)) {
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nhost: training\r\nconnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            return answer.startsWith("HTTP/1.1 200");
        }
    }

    /** One GET with prior knowledge: preface, empty SETTINGS, HEADERS; reads until a HEADERS frame comes back. */
    private static boolean h2c(int port) throws IOException {
        try (Socket s = connect(port)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            frame(out, 0x4, 0, 0, new byte[0]);
            // :method GET, :scheme http, :path /, :authority "training" (literal, indexed name 1)
            byte[] authority = "training".getBytes(StandardCharsets.US_ASCII);
            ByteArrayOutputStream block = new ByteArrayOutputStream();
            block.write(new byte[] {(byte) 0x82, (byte) 0x86, (byte) 0x84, 0x41, (byte) authority.length});
            block.write(authority);
            frame(out, 0x1, 0x5, 1, block.toByteArray());
            s.getOutputStream().write(out.toByteArray());
            InputStream in = s.getInputStream();
            for (int frames = 0; frames < 16; frames++) {
                byte[] head = in.readNBytes(9);
                if (head.length < 9) {
                    return false;
                }
                int length = ((head[0] & 0xff) << 16) | ((head[1] & 0xff) << 8) | (head[2] & 0xff);
                in.readNBytes(length);
                if (head[3] == 0x4 && (head[4] & 0x1) == 0) {
                    frame(s.getOutputStream(), 0x4, 0x1, 0, new byte[0]);
                }
                if (head[3] == 0x1) {
                    return true;
                }
            }
            return false;
        }
    }

    private static boolean tcp(int port) throws IOException {
        try (Socket s = connect(port)) {
            s.getOutputStream().write(("GET / HTTP/1.1\r\nhost: training\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            byte[] answer = s.getInputStream().readNBytes(RESPONSE.length);
            return java.util.Arrays.equals(answer, RESPONSE);
        }
    }

    private static void frame(OutputStream out, int type, int flags, int stream, byte[] payload) throws IOException {
        out.write(new byte[] {(byte) (payload.length >>> 16), (byte) (payload.length >>> 8), (byte) payload.length,
                (byte) type, (byte) flags, (byte) (stream >>> 24), (byte) (stream >>> 16), (byte) (stream >>> 8), (byte) stream});
        out.write(payload);
    }

    private static Socket connect(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2000);
        s.setSoTimeout(5000);
        return s;
    }
}
