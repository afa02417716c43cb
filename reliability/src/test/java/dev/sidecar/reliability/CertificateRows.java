package dev.sidecar.reliability;

import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.TestCertificates;
import dev.sidecar.testkit.TestCertificates.Authority;
import dev.sidecar.testkit.TestCertificates.Issued;
import java.io.InputStream;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * Certificates against the real process: expired, not yet valid and key-mismatched files at
 * config load (a reload refused with the field named, the old certificate kept); upstreams
 * presenting expired, not yet valid, wrong-CA, wrong-SAN and key-mismatched certificates (502
 * or 503, and the proxy keeps serving); the listener's certificate rotated five times under a
 * stream of new handshakes (none may fail).
 */
final class CertificateRows {
    private CertificateRows() {}

    static List<ScorecardTest.Row> run(Path dir) throws Exception {
        List<ScorecardTest.Row> rows = new ArrayList<>();
        Path certs = Files.createDirectories(dir.resolve("certs"));
        Authority ca = TestCertificates.authority("scorecard-ca");
        Authority otherCa = TestCertificates.authority("other-ca");
        Path caFile = ca.write(certs.resolve("ca.pem"));
        Issued serving = ca.issue("proxy").dns("proxy.test").build();
        serving.write(certs, "live", TestCertificates.KeyFormat.PKCS8);

        Map<String, Issued[]> presented = new LinkedHashMap<>(); // {certificate, whose key signs}
        Issued good = ca.issue("up").dns("up.test").build();
        presented.put("good", new Issued[] {good, good});
        Issued expired = ca.issue("up").dns("up.test").expired().build();
        presented.put("expired", new Issued[] {expired, expired});
        Issued future = ca.issue("up").dns("up.test").validFrom(Instant.now().plus(Duration.ofDays(1))).build();
        presented.put("not-yet-valid", new Issued[] {future, future});
        Issued foreign = otherCa.issue("up").dns("up.test").build();
        presented.put("wrong-ca", new Issued[] {foreign, foreign});
        Issued wrongName = ca.issue("up").dns("other.test").build();
        presented.put("wrong-san", new Issued[] {wrongName, wrongName});
        presented.put("key-mismatch", new Issued[] {good, ca.issue("up").dns("up.test").build()});

        List<HttpUpstream> ups = new ArrayList<>();
        StringBuilder clusters = new StringBuilder();
        StringBuilder routes = new StringBuilder();
        List<String> notPresentable = new ArrayList<>();
        for (Map.Entry<String, Issued[]> e : presented.entrySet()) {
            HttpUpstream up;
            try {
                up = HttpUpstream.tls(e.getKey(), e.getValue()[1].keys().getPrivate(), e.getValue()[0].certificate());
            } catch (RuntimeException refused) {
                notPresentable.add(e.getKey()); // the server side's TLS library refuses to use it at all
                continue;
            }
            ups.add(up);
            clusters.append("  - { name: ").append(e.getKey()).append(", endpoints: [{ address: ").append(up.address())
                    .append(" }], tls: { sni: up.test, trusted_ca_file: ").append(caFile).append(" } }\n");
            routes.append("            - { match: { prefix: /").append(e.getKey()).append(" }, route: { cluster: ").append(e.getKey())
                    .append(", timeout: 5s } }\n");
        }
        Path config = dir.resolve("certificates.yaml");
        String template = """
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - name: https
                    address: 127.0.0.1:0
                    protocol: http
                    cluster: good
                    tls: { certificates: [{ cert_chain_file: %s, private_key_file: %s }] }
                  - name: wire
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                %sclusters:
                %s""";
        String liveCert = certs.resolve("live.pem").toString();
        String liveKey = certs.resolve("live.key").toString();
        Files.writeString(config, template.formatted(liveCert, liveKey, routes, clusters));
        try (ProxyProcess proxy = Probes.start(config, "listener wire listening on")) {
            Await.until("ready", Duration.ofSeconds(30), () -> proxy.output().contains(" ready"));
            SSLContext client = ca.clientContext(null);
            int https = proxy.listenerPort("https");

            // at config load: a reload with bad files is refused, naming the field; the old certificate stays
            Map<String, Issued[]> bad = new LinkedHashMap<>();
            bad.put("expired", new Issued[] {ca.issue("proxy").dns("proxy.test").expired().build(), null});
            bad.put("not yet valid", new Issued[] {ca.issue("proxy").dns("proxy.test").validFrom(Instant.now().plus(Duration.ofDays(1))).build(), null});
            Issued mismatchCert = ca.issue("proxy").dns("proxy.test").build();
            bad.put("key mismatch", new Issued[] {mismatchCert, ca.issue("proxy").dns("proxy.test").build()});
            List<String> loadWrong = new ArrayList<>();
            for (Map.Entry<String, Issued[]> e : bad.entrySet()) {
                String name = e.getKey().replace(' ', '-');
                Path cert = e.getValue()[0].writeChain(certs.resolve("bad-" + name + ".pem"));
                Path key = (e.getValue()[1] != null ? e.getValue()[1] : e.getValue()[0]).writeKey(certs.resolve("bad-" + name + ".key"),
                        TestCertificates.KeyFormat.PKCS8);
                Files.writeString(config, template.formatted(cert, key, routes, clusters));
                HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + proxy.adminPort() + "/config/reload")).POST(HttpRequest.BodyPublishers.noBody())
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                BigInteger servedSerial = serverSerial(client, https);
                boolean named = r.statusCode() >= 400 && r.body().contains("listeners[0].tls.certificates[0]");
                boolean kept = serving.certificate().getSerialNumber().equals(servedSerial);
                if (!named || !kept) {
                    loadWrong.add(e.getKey() + ": " + r.statusCode() + " " + r.body().strip() + (kept ? "" : ", old certificate not kept"));
                } else {
                    System.out.println("  certificate at load, " + e.getKey() + ": " + r.body().strip().lines().filter(l -> l.contains("listeners[0]"))
                            .findFirst().orElse(""));
                }
            }
            Files.writeString(config, template.formatted(liveCert, liveKey, routes, clusters));
            loadWrong.forEach(w -> System.out.println("  certificate at load " + w));
            rows.add(new ScorecardTest.Row("certificates at config load (expired, not yet valid, key mismatch): reload refused naming the field, old kept",
                    (bad.size() - loadWrong.size()) + "/" + bad.size(), "all", loadWrong.isEmpty()));

            // on the wire: what an upstream presents
            int wire = proxy.listenerPort("wire");
            List<String> wireWrong = new ArrayList<>();
            int refused = 0;
            for (String name : presented.keySet()) {
                if (notPresentable.contains(name)) {
                    continue;
                }
                int status = Probes.get("http://127.0.0.1:" + wire + "/" + name).statusCode();
                boolean ok = name.equals("good") ? status == 200 : status == 502 || status == 503;
                if (!ok) {
                    wireWrong.add(name + " -> " + status);
                } else if (!name.equals("good")) {
                    refused++;
                }
            }
            boolean serves = Probes.get("http://127.0.0.1:" + wire + "/good").statusCode() == 200;
            wireWrong.forEach(w -> System.out.println("  certificate on the wire " + w));
            rows.add(new ScorecardTest.Row("upstream presents an expired, not-yet-valid, wrong-CA, wrong-SAN, key-mismatched certificate: 502/503",
                    refused + "/" + (presented.size() - 1 - notPresentable.size()) + (notPresentable.isEmpty() ? "" : " (" + notPresentable
                    + " refused by the upstream's own TLS library)") + (serves ? ", good upstream still served" : ", good upstream NOT served"),
                    "all, and still serving", wireWrong.isEmpty() && serves));

            // rotation under load: new handshakes all the time while the files change five times
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicInteger handshakes = new AtomicInteger();
            AtomicInteger failures = new AtomicInteger();
            List<String> failureSamples = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Thread t = new Thread(() -> {
                    while (running.get()) {
                        try {
                            int status = httpsStatus(client, https);
                            if (status != 200) {
                                throw new IllegalStateException("status " + status);
                            }
                            handshakes.incrementAndGet();
                        } catch (Exception e) {
                            failures.incrementAndGet();
                            if (failureSamples.size() < 5) {
                                failureSamples.add(String.valueOf(e));
                            }
                        }
                        java.util.concurrent.locks.LockSupport.parkNanos(10_000_000); // about 100 handshakes a second in all
                    }
                }, "rotation-client-" + i);
                t.setDaemon(true);
                t.start();
                clients.add(t);
            }
            Issued last = serving;
            for (int i = 0; i < 5; i++) {
                java.util.concurrent.locks.LockSupport.parkNanos(2_000_000_000L);
                last = ca.issue("proxy").dns("proxy.test").build();
                // each file replaced whole (rename), the certificate first, the key after it: for a
                // moment the two do not match, and the proxy must keep what it has until they do
                Path tmpCert = last.writeChain(certs.resolve("next.pem"));
                Path tmpKey = last.writeKey(certs.resolve("next.key"), TestCertificates.KeyFormat.PKCS8);
                Files.move(tmpCert, Path.of(liveCert), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                Files.move(tmpKey, Path.of(liveKey), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            BigInteger lastSerial = last.certificate().getSerialNumber();
            boolean rotated;
            try {
                Await.until("the last certificate served", Duration.ofSeconds(30), () -> {
                    try {
                        return lastSerial.equals(serverSerial(client, https));
                    } catch (Exception e) {
                        return false;
                    }
                });
                rotated = true;
            } catch (AssertionError e) {
                rotated = false;
            }
            running.set(false);
            for (Thread t : clients) {
                t.join(20_000);
            }
            failureSamples.forEach(f -> System.out.println("  rotation failure " + f));
            rows.add(new ScorecardTest.Row("certificate rotated 5 times under load: failed handshakes", failures.get() + " of "
                    + (handshakes.get() + failures.get()) + (rotated ? ", the last certificate served" : ", the last certificate NOT served"),
                    "0, and rotated", failures.get() == 0 && handshakes.get() > 0 && rotated));
            rows.add(new ScorecardTest.Row("certificates: proxy alive afterwards", proxy.isAlive() ? "yes" : "no", "yes", proxy.isAlive()));
        } finally {
            ups.forEach(HttpUpstream::close);
        }
        return rows;
    }

    private static SSLSocket handshake(SSLContext client, int port) throws Exception {
        SSLSocket s = (SSLSocket) client.getSocketFactory().createSocket("127.0.0.1", port);
        s.setSoTimeout(10_000);
        javax.net.ssl.SSLParameters p = s.getSSLParameters();
        p.setServerNames(List.of(new javax.net.ssl.SNIHostName("proxy.test")));
        p.setEndpointIdentificationAlgorithm("HTTPS");
        s.setSSLParameters(p);
        s.startHandshake();
        return s;
    }

    private static BigInteger serverSerial(SSLContext client, int port) throws Exception {
        try (SSLSocket s = handshake(client, port)) {
            return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }

    /** One request on a new connection (a full handshake each time); the status. */
    private static int httpsStatus(SSLContext client, int port) throws Exception {
        try (SSLSocket s = handshake(client, port)) {
            s.getOutputStream().write("GET /rot HTTP/1.1\r\nHost: proxy.test\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            InputStream in = s.getInputStream();
            String head = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            return head.startsWith("HTTP/1.1 ") ? Integer.parseInt(head.substring(9, 12)) : 0;
        }
    }
}
