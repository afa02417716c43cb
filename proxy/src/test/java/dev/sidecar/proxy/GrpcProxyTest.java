package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.Closer;
import io.grpc.CallOptions;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.okhttp.OkHttpChannelBuilder;
import io.grpc.okhttp.OkHttpServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * grpc-java clients and servers through an HTTP listener: every call is balanced on its own, so
 * one client connection spreads its calls over all servers; streaming in every direction,
 * large messages, deadlines, and an upstream that dies mid-stream.
 */
class GrpcProxyTest {
    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    private static MethodDescriptor<byte[], byte[]> method(String name, MethodDescriptor.MethodType type) {
        return MethodDescriptor.<byte[], byte[]>newBuilder().setType(type).setFullMethodName("test.Echo/" + name)
                .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
    }

    private static final MethodDescriptor<byte[], byte[]> UNARY = method("Unary", MethodDescriptor.MethodType.UNARY);
    private static final MethodDescriptor<byte[], byte[]> SERVER_STREAM = method("ServerStream", MethodDescriptor.MethodType.SERVER_STREAMING);
    private static final MethodDescriptor<byte[], byte[]> CLIENT_STREAM = method("ClientStream", MethodDescriptor.MethodType.CLIENT_STREAMING);
    private static final MethodDescriptor<byte[], byte[]> BIDI = method("Bidi", MethodDescriptor.MethodType.BIDI_STREAMING);

    private final Closer closer = new Closer();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    /** A server answering every method with its name in front: "name:payload". */
    private Server server(String name) throws IOException {
        byte[] prefix = (name + ":").getBytes(StandardCharsets.UTF_8);
        ServerServiceDefinition service = ServerServiceDefinition.builder("test.Echo")
                .addMethod(UNARY, ServerCalls.asyncUnaryCall((req, out) -> {
                    if (new String(req, StandardCharsets.UTF_8).startsWith("sleep")) {
                        try {
                            Thread.sleep(2000);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    out.onNext(concat(prefix, req));
                    out.onCompleted();
                }))
                .addMethod(SERVER_STREAM, ServerCalls.asyncServerStreamingCall((req, out) -> {
                    int n = Integer.parseInt(new String(req, StandardCharsets.UTF_8));
                    for (int i = 0; i < n; i++) {
                        out.onNext(concat(prefix, Integer.toString(i).getBytes(StandardCharsets.UTF_8)));
                    }
                    if (n >= 0) {
                        out.onCompleted();
                    } else {
                        out.onNext(concat(prefix, "start".getBytes(StandardCharsets.UTF_8)));
                    }
                    // a negative count streams one message and never ends: the test kills the server
                }))
                .addMethod(CLIENT_STREAM, ServerCalls.asyncClientStreamingCall((StreamObserver<byte[]> out) -> new StreamObserver<byte[]>() {
                    long total;

                    @Override
                    public void onNext(byte[] value) {
                        total += value.length;
                    }

                    @Override
                    public void onError(Throwable t) {
                    }

                    @Override
                    public void onCompleted() {
                        out.onNext(concat(prefix, Long.toString(total).getBytes(StandardCharsets.UTF_8)));
                        out.onCompleted();
                    }
                }))
                .addMethod(BIDI, ServerCalls.asyncBidiStreamingCall((StreamObserver<byte[]> out) -> new StreamObserver<byte[]>() {
                    @Override
                    public void onNext(byte[] value) {
                        out.onNext(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                    }

                    @Override
                    public void onCompleted() {
                        out.onCompleted();
                    }
                }))
                .build();
        Server s = OkHttpServerBuilder.forPort(new InetSocketAddress("127.0.0.1", 0), InsecureServerCredentials.create())
                .addService(service).maxInboundMessageSize(32 * 1024 * 1024).build().start();
        closer.add(() -> s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
        return s;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static String who(byte[] answer) {
        String s = new String(answer, 0, Math.min(answer.length, 32), StandardCharsets.UTF_8);
        return s.substring(0, s.indexOf(':'));
    }

    private ManagedChannel channel(int port) {
        ManagedChannel ch = OkHttpChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().maxInboundMessageSize(32 * 1024 * 1024).build();
        closer.add(() -> ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
        return ch;
    }

    private Sidecar proxy(String lbPolicy, Server... servers) {
        StringBuilder eps = new StringBuilder();
        for (Server s : servers) {
            eps.append("      - { address: 127.0.0.1:").append(s.getPort()).append(" }\n");
        }
        return closer.add(Sidecar.start(ConfigLoader.parse("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: grpc, address: 127.0.0.1:0, protocol: http, cluster: svc }]
                clusters:
                  - name: svc
                    upstream_protocol: h2c
                """ + (lbPolicy == null ? "" : "    lb_policy: " + lbPolicy + "\n") + "    endpoints:\n" + eps)));
    }

    @Test
    void calls_on_one_client_connection_spread_over_every_server() throws Exception {
        Server a = server("a");
        Server b = server("b");
        Server c = server("c");
        Sidecar p = proxy("round_robin", a, b, c);
        ManagedChannel ch = channel(p.listenerPort("grpc"));
        Map<String, Integer> hits = new HashMap<>();
        for (int i = 0; i < 300; i++) {
            byte[] answer = ClientCalls.blockingUnaryCall(ch, UNARY, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), new byte[] {1});
            hits.merge(who(answer), 1, Integer::sum);
        }
        for (String s : List.of("a", "b", "c")) {
            int n = hits.getOrDefault(s, 0);
            assertTrue(n >= 85 && n <= 115, "server " + s + " got " + n + " of 300: " + hits);
        }
        assertEquals(1, p.httpListenerStats("grpc").accepted(), "all on one client connection");
    }

    @Test
    void least_request_default_also_spreads_concurrent_calls() throws Exception {
        Server a = server("a");
        Server b = server("b");
        Server c = server("c");
        Sidecar p = proxy(null, a, b, c);
        assertEquals("least_request", p.config().cluster("svc").orElseThrow().lbPolicy().configName());
        ManagedChannel ch = channel(p.listenerPort("grpc"));
        Map<String, Integer> hits = new HashMap<>();
        for (int round = 0; round < 30; round++) {
            List<CompletableFuture<byte[]>> batch = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                batch.add(CompletableFuture.supplyAsync(() -> ClientCalls.blockingUnaryCall(ch, UNARY,
                        CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), new byte[] {1})));
            }
            for (CompletableFuture<byte[]> f : batch) {
                hits.merge(who(f.get()), 1, Integer::sum);
            }
        }
        for (String s : List.of("a", "b", "c")) {
            assertTrue(hits.getOrDefault(s, 0) >= 60, "server " + s + ": " + hits); // a fair share is 100
        }
    }

    @Test
    void streaming_both_ways_large_messages_and_deadlines() throws Exception {
        Server a = server("a");
        Sidecar p = proxy(null, a);
        ManagedChannel ch = channel(p.listenerPort("grpc"));
        CallOptions opts = CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS);

        Iterator<byte[]> stream = ClientCalls.blockingServerStreamingCall(ch, SERVER_STREAM, opts, "100".getBytes(StandardCharsets.UTF_8));
        int n = 0;
        while (stream.hasNext()) {
            assertEquals("a:" + n, new String(stream.next(), StandardCharsets.UTF_8));
            n++;
        }
        assertEquals(100, n);

        CompletableFuture<byte[]> sum = new CompletableFuture<>();
        StreamObserver<byte[]> up = ClientCalls.asyncClientStreamingCall(ch.newCall(CLIENT_STREAM, opts), observer(sum, null));
        for (int i = 0; i < 50; i++) {
            up.onNext(new byte[1000]);
        }
        up.onCompleted();
        assertEquals("a:50000", new String(sum.get(20, TimeUnit.SECONDS), StandardCharsets.UTF_8));

        byte[] big = new byte[10 * 1024 * 1024];
        new java.util.Random(7).nextBytes(big);
        List<byte[]> echoed = new ArrayList<>();
        CompletableFuture<byte[]> bidiDone = new CompletableFuture<>();
        StreamObserver<byte[]> bidi = ClientCalls.asyncBidiStreamingCall(ch.newCall(BIDI, opts), observer(bidiDone, echoed));
        bidi.onNext(big);
        bidi.onNext("small".getBytes(StandardCharsets.UTF_8));
        bidi.onCompleted();
        bidiDone.get(30, TimeUnit.SECONDS);
        assertEquals(2, echoed.size());
        assertArrayEquals(big, echoed.get(0), "a 10 MiB message both ways, unchanged");

        StatusRuntimeException late = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(ch, UNARY,
                CallOptions.DEFAULT.withDeadlineAfter(300, TimeUnit.MILLISECONDS), "sleep".getBytes(StandardCharsets.UTF_8)));
        assertEquals(Status.Code.DEADLINE_EXCEEDED, late.getStatus().getCode());
    }

    @Test
    void no_endpoint_is_unavailable_and_a_server_dying_mid_stream_is_unavailable_then_others_serve() throws Exception {
        Server a = server("a");
        Server b = server("b");
        Sidecar p = proxy("round_robin", a, b);
        ManagedChannel ch = channel(p.listenerPort("grpc"));
        CallOptions opts = CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS);
        Iterator<byte[]> open = ClientCalls.blockingServerStreamingCall(ch, SERVER_STREAM, opts, "-1".getBytes(StandardCharsets.UTF_8));
        String streaming = who(open.next()); // the stream has begun; it never ends by itself
        Server victim = streaming.equals("a") ? a : b;
        String next = streaming.equals("a") ? "b" : "a";
        victim.shutdownNow();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, open::hasNext);
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
        for (int i = 0; i < 10; i++) {
            assertEquals(next, who(ClientCalls.blockingUnaryCall(ch, UNARY, opts, new byte[] {1})), "the survivor serves");
        }

        Sidecar empty = closer.add(Sidecar.start(ConfigLoader.parse("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: grpc, address: 127.0.0.1:0, protocol: http, cluster: svc }]
                clusters: [{ name: svc, upstream_protocol: h2c, endpoints: [] }]
                """)));
        ManagedChannel ch2 = channel(empty.listenerPort("grpc"));
        StatusRuntimeException none = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(ch2, UNARY, opts, new byte[] {1}));
        assertEquals(Status.Code.UNAVAILABLE, none.getStatus().getCode(), none.toString());
    }

    private static StreamObserver<byte[]> observer(CompletableFuture<byte[]> done, List<byte[]> all) {
        return new StreamObserver<>() {
            byte[] last;

            @Override
            public void onNext(byte[] value) {
                last = value;
                if (all != null) {
                    all.add(value);
                }
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                done.complete(last);
            }
        };
    }
}
