package dev.sidecar.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.StringValue;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.ProxyProcess;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.okhttp.OkHttpChannelBuilder;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code sidecar demo} as a user runs it, as a child process (ports picked by the system):
 * HTTP and gRPC reach the example instances through the proxy, the control plane's endpoint
 * moves reach traffic, its UNHEALTHY report reaches {@code /clusters}, and SIGTERM ends it all
 * with exit 0 and no leaked buffer.
 */
class DemoTest {
    private static final Pattern ANSWER = Pattern.compile("instance (\\d) \\(127\\.0\\.0\\.1:(\\d+)\\) answered GET /hello");
    private static final Pattern FIRST = Pattern.compile("xds: version 1: endpoints now ([^(]*)\\(");
    private static final Pattern PORT = Pattern.compile(":(\\d+)");
    private static final Duration LIMIT = Duration.ofSeconds(60);

    @Test
    void traffic_follows_the_control_plane_and_ctrl_c_stops_everything_with_exit_0() throws Exception {
        try (ProxyProcess demo = ProxyProcess.startMain(Demo.class.getName(), "--ephemeral-ports", "--interval", "1s")) {
            Await.until("the demo to say it is ready", LIMIT, () -> demo.output().contains("demo: ready") || !demo.isAlive());
            assertTrue(demo.isAlive(), "the demo exited early:\n" + demo.output());
            int port = demo.listenerPort(ControlPlane.LISTENER);
            int admin = demo.adminPort();
            assertTrue(demo.output().contains("curl -s http://127.0.0.1:" + port + "/hello"), "the guide names the listener:\n" + demo.output());
            assertTrue(demo.output().contains("http://127.0.0.1:" + admin + "/clusters"), demo.output());

            // the first assignment has two of the three instances
            Matcher first = FIRST.matcher(demo.output());
            assertTrue(first.find(), demo.output());
            Set<Integer> firstPorts = new HashSet<>();
            for (Matcher m = PORT.matcher(first.group(1)); m.find(); ) {
                firstPorts.add(Integer.parseInt(m.group(1)));
            }
            assertEquals(2, firstPorts.size(), first.group(0));

            // HTTP through the proxy, until an instance that was not in the first assignment answers
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
            Set<Integer> answered = new HashSet<>();
            Await.until("an answer from an instance the first assignment did not have", LIMIT, () -> {
                HttpResponse<String> r = get(http, "http://127.0.0.1:" + port + "/hello");
                assertEquals(200, r.statusCode(), r.body());
                Matcher m = ANSWER.matcher(r.body());
                assertTrue(m.find(), r.body());
                int answeredBy = Integer.parseInt(m.group(2));
                answered.add(answeredBy);
                return !firstPorts.contains(answeredBy);
            });

            // gRPC: calls on one HTTP/2 connection are balanced one by one
            ManagedChannel channel = OkHttpChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
            try {
                Set<String> greeters = new HashSet<>();
                Await.until("gRPC calls on one connection answered by two instances", LIMIT, () -> {
                    StringValue reply = ClientCalls.blockingUnaryCall(channel, GreeterInstance.HELLO,
                            CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), StringValue.of("test"));
                    assertTrue(reply.getValue().startsWith("hello test from instance "), reply.getValue());
                    greeters.add(reply.getValue());
                    return greeters.size() >= 2;
                });
            } finally {
                channel.shutdownNow();
                channel.awaitTermination(10, TimeUnit.SECONDS);
            }

            // once a round, one instance is reported UNHEALTHY: the proxy shows it so
            ObjectMapper json = new ObjectMapper();
            Await.until("/clusters to show an endpoint of 'web' with health_status unhealthy", LIMIT, () -> {
                JsonNode clusters = tree(json, get(http, "http://127.0.0.1:" + admin + "/clusters").body()).get("clusters");
                for (JsonNode c : clusters) {
                    if (c.get("name").asText().equals(ControlPlane.WEB)) {
                        for (JsonNode e : c.get("endpoints")) {
                            if (e.get("health_status").asText().equals("unhealthy")) {
                                assertFalse(e.get("healthy").asBoolean(), e.toString());
                                return true;
                            }
                        }
                    }
                }
                return false;
            });
            assertTrue(demo.output().contains("UNHEALTHY"), demo.output());
            assertTrue(get(http, "http://127.0.0.1:" + admin + "/config_dump").body().contains("\"dynamic\""));

            demo.terminate();
            assertEquals(0, demo.waitForExit(LIMIT), demo.output());
            assertTrue(demo.output().contains("stopped"), demo.output());
        } // close() fails the test if the child reported a leaked buffer
    }

    @Test
    void a_bad_interval_is_refused_before_anything_starts() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream saved = System.err;
        int status;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            status = new CommandLine(new Demo()).execute("--interval", "5");
        } finally {
            System.setErr(saved);
        }
        assertEquals(CommandLine.ExitCode.USAGE, status);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--interval"), err.toString(StandardCharsets.UTF_8));
    }

    private static JsonNode tree(ObjectMapper json, String body) {
        try {
            return json.readTree(body);
        } catch (java.io.IOException e) {
            throw new AssertionError("not JSON: " + body, e);
        }
    }

    private static HttpResponse<String> get(HttpClient http, String url) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
