package dev.sidecar.demo;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * One example HTTP/1.1 upstream: every request is answered {@code 200} with a line that names
 * the instance ({@code instance 2 (127.0.0.1:7002) answered GET /hello}) and an
 * {@code x-demo-instance} header, so a client of the proxy sees which endpoint it was given.
 * The JDK's own HTTP server: a demo prop, nothing of the proxy's is in it.
 */
final class HttpInstance implements AutoCloseable {
    private final int instance;
    private final HttpServer server;

    HttpInstance(int instance, int port) throws IOException {
        this.instance = instance;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 64);
        server.createContext("/", this::answer);
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    private void answer(HttpExchange exchange) throws IOException {
        try (exchange; InputStream body = exchange.getRequestBody()) {
            body.transferTo(java.io.OutputStream.nullOutputStream()); // read to the end: the connection carries the next request
            byte[] reply = ("instance " + instance + " (127.0.0.1:" + port() + ") answered " + exchange.getRequestMethod() + " "
                    + exchange.getRequestURI() + "\n").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("content-type", "text/plain; charset=utf-8");
            exchange.getResponseHeaders().set("x-demo-instance", Integer.toString(instance));
            exchange.sendResponseHeaders(200, reply.length);
            exchange.getResponseBody().write(reply);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
