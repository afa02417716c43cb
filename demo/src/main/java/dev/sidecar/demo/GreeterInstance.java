package dev.sidecar.demo;

import com.google.protobuf.StringValue;
import io.grpc.InsecureServerCredentials;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.okhttp.OkHttpServerBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ServerCalls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * One example gRPC upstream: {@code sidecar.demo.Greeter/Hello} answers with the instance that
 * took the call, so calls on one HTTP/2 connection to the proxy show per-request balancing.
 * Request and response are {@code google.protobuf.StringValue}, so the service needs no
 * generated code and a client needs no .proto of ours. grpc-java on the OkHttp server
 * transport: grpc-netty would bring a second Netty.
 */
final class GreeterInstance implements AutoCloseable {
    static final String SERVICE = "sidecar.demo.Greeter";

    /** {@code rpc Hello(google.protobuf.StringValue) returns (google.protobuf.StringValue)} */
    static final MethodDescriptor<StringValue, StringValue> HELLO = MethodDescriptor.<StringValue, StringValue>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Hello"))
            .setRequestMarshaller(ProtoUtils.marshaller(StringValue.getDefaultInstance()))
            .setResponseMarshaller(ProtoUtils.marshaller(StringValue.getDefaultInstance()))
            .build();

    private final Server server;

    GreeterInstance(int instance, int port) throws IOException {
        ServerServiceDefinition greeter = ServerServiceDefinition.builder(SERVICE)
                .addMethod(HELLO, ServerCalls.asyncUnaryCall((request, response) -> {
                    String who = request.getValue().isEmpty() ? "" : " " + request.getValue();
                    response.onNext(StringValue.of("hello" + who + " from instance " + instance + " (127.0.0.1:" + port() + ")"));
                    response.onCompleted();
                }))
                .build();
        server = OkHttpServerBuilder.forPort(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), InsecureServerCredentials.create())
                .directExecutor() // the handler never blocks; no thread pool to stop
                .addService(greeter)
                .build()
                .start();
    }

    int port() {
        return server.getPort();
    }

    @Override
    public void close() {
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
