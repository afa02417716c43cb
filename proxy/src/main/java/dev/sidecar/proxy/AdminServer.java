package dev.sidecar.proxy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import dev.sidecar.config.ConfigException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The admin API over HTTP/1.1. Separate from the data plane: it reads state the proxy already
 * keeps and never blocks an event loop (a scrape formats counters already in memory).
 *
 * <ul>
 *   <li>{@code GET /ready}: 200 once listeners are bound; 503 while starting, draining, or after
 *       {@code POST /healthcheck/fail}.
 *   <li>{@code GET /healthz}: 200 while the process runs (liveness).
 *   <li>{@code GET /stats/prometheus}: metrics in the Prometheus text format.
 *   <li>{@code GET /clusters}, {@code GET /listeners}, {@code GET /config_dump}: JSON.
 *   <li>{@code POST /healthcheck/fail}, {@code POST /healthcheck/ok}: report not ready (or ready
 *       again) without touching traffic, so a load balancer in front can move clients away first.
 *   <li>{@code POST /drain}, {@code POST /quitquitquit}: what SIGTERM does: drain, then exit 0.
 *       The second name is the one Envoy and Istio's agent answer to, so a Job's container that
 *       already ends with {@code curl -X POST localhost:15000/quitquitquit} works unchanged.
 *   <li>{@code GET /logging}, {@code POST /logging?level=debug}: the log level.
 * </ul>
 */
final class AdminServer {
    /** Admin requests are tiny; anything larger is refused rather than buffered. */
    private static final int MAX_REQUEST_BYTES = 64 * 1024;

    /** Made at the first JSON answer, not at start: an {@code ObjectMapper}'s set-up is costly cold. */
    private static final class Json {
        static final ObjectMapper MAPPER = ConfigJson.mapper().copy().enable(SerializationFeature.INDENT_OUTPUT);
    }

    /** What the admin API shows and controls; the running proxy implements it. */
    interface Backend {
        Readiness readiness();

        String scrape();

        Object clustersView();

        Object listenersView();

        /** Every certificate in use by a listener or a cluster (GET /certs). */
        Object certificatesView();

        Object configDump();

        void healthCheckFailed(boolean failed);

        void requestDrain();

        /** The applied config versions, oldest first. */
        List<ConfigVersions.Entry> configVersions();

        /** Re-applies version {@code version}; empty if it is not kept. Throws ConfigException if it no longer applies. */
        java.util.Optional<ConfigVersions.Entry> rollback(int version);

        /** Re-reads the config file; throws ConfigException with every error (and changes nothing) if it is bad. */
        ConfigVersions.Entry reload();
    }

    enum Readiness {
        STARTING("starting"), READY("ready"), DRAINING("draining"), FAILED("failed by /healthcheck/fail");

        final String text;

        Readiness(String text) {
            this.text = text;
        }
    }

    private static final Map<String, String> LEVELS = new LinkedHashMap<>();

    static {
        LEVELS.put("error", "SEVERE");
        LEVELS.put("warn", "WARNING");
        LEVELS.put("info", "INFO");
        LEVELS.put("debug", "FINE");
        LEVELS.put("trace", "FINEST");
    }

    private final Backend backend;

    /** Admin operations that must not run on an event loop (config apply); one at a time. */
    private static final java.util.concurrent.ExecutorService OPS = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "sidecar-admin");
        t.setDaemon(true);
        return t;
    });

    /** The dashboard page: one self-contained file that polls the JSON endpoints. */
    private static final String DASHBOARD = resource("dashboard.html");

    private static String resource(String name) {
        try (var in = AdminServer.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(name + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    AdminServer(Backend backend) {
        this.backend = backend;
    }

    ChannelInitializer<Channel> initializer() {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(MAX_REQUEST_BYTES), new Handler());
            }
        };
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            if (!request.decoderResult().isSuccess()) {
                FullHttpResponse response = text(HttpResponseStatus.BAD_REQUEST, "bad request: " + request.decoderResult().cause().getMessage() + "\n");
                HttpUtil.setKeepAlive(response, false);
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            boolean head = request.method().equals(HttpMethod.HEAD);
            QueryStringDecoder uri = new QueryStringDecoder(request.uri());
            if (request.method().equals(HttpMethod.POST)
                    && (uri.path().equals("/config/reload") || uri.path().equals("/config/rollback"))) {
                // Applying a config binds sockets and waits on them, and stops health checkers:
                // never on an event loop. Reads pause until the answer is written, so responses
                // stay in request order.
                ctx.channel().config().setAutoRead(false);
                OPS.execute(() -> {
                    FullHttpResponse response = guarded(() -> uri.path().equals("/config/reload") ? reload() : rollback(uri));
                    ctx.executor().execute(() -> {
                        respond(ctx, response, keepAlive, head);
                        ctx.channel().config().setAutoRead(true);
                    });
                });
                return;
            }
            respond(ctx, guarded(() -> route(request)), keepAlive, head);
        }

        private FullHttpResponse guarded(java.util.function.Supplier<FullHttpResponse> handler) {
            try {
                return handler.get();
            } catch (RuntimeException e) {
                return text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "admin error: " + e + "\n");
            }
        }

        private void respond(ChannelHandlerContext ctx, FullHttpResponse response, boolean keepAlive, boolean head) {
            HttpUtil.setKeepAlive(response, keepAlive);
            if (head) {
                FullHttpResponse empty = response.replace(Unpooled.EMPTY_BUFFER);
                response.release();
                response = empty;
            }
            var write = ctx.writeAndFlush(response);
            if (!keepAlive) {
                write.addListener(ChannelFutureListener.CLOSE);
            }
        }

        private FullHttpResponse route(FullHttpRequest request) {
            QueryStringDecoder uri = new QueryStringDecoder(request.uri());
            String path = uri.path();
            HttpMethod m = request.method();
            boolean get = m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD);
            boolean post = m.equals(HttpMethod.POST);
            return switch (path) {
                case "/" -> get ? dashboard() : notAllowed("GET");
                case "/ready" -> get ? ready() : notAllowed("GET");
                case "/healthz" -> get ? text(HttpResponseStatus.OK, "ok\n") : notAllowed("GET");
                case "/stats/prometheus" -> get ? prometheus() : notAllowed("GET");
                case "/clusters" -> get ? json(backend.clustersView()) : notAllowed("GET");
                case "/listeners" -> get ? json(backend.listenersView()) : notAllowed("GET");
                case "/certs" -> get ? json(backend.certificatesView()) : notAllowed("GET");
                case "/config_dump" -> get ? json(backend.configDump()) : notAllowed("GET");
                case "/healthcheck/fail" -> post ? healthCheck(true) : notAllowed("POST");
                case "/healthcheck/ok" -> post ? healthCheck(false) : notAllowed("POST");
                case "/drain", "/quitquitquit" -> post ? drain() : notAllowed("POST");
                case "/logging" -> get ? logging() : post ? setLogging(uri) : notAllowed("GET, POST");
                case "/config/versions" -> get ? json(Map.of("versions", backend.configVersions().stream().map(AdminServer::describe).toList()))
                        : notAllowed("GET");
                case "/config/rollback" -> post ? rollback(uri) : notAllowed("POST");
                case "/config/reload" -> post ? reload() : notAllowed("POST");
                default -> text(HttpResponseStatus.NOT_FOUND, "no admin endpoint " + path + " (try /ready, /healthz, /stats/prometheus, "
                        + "/clusters, /listeners, /config_dump, /logging; POST /healthcheck/fail, /healthcheck/ok, /drain, /quitquitquit)\n");
            };
        }

        private FullHttpResponse dashboard() {
            FullHttpResponse response = text(HttpResponseStatus.OK, DASHBOARD);
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/html; charset=utf-8")
                    .set("content-security-policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'");
            return response;
        }

        private FullHttpResponse ready() {
            Readiness r = backend.readiness();
            return text(r == Readiness.READY ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE, r.text + "\n");
        }

        private FullHttpResponse prometheus() {
            FullHttpResponse response = text(HttpResponseStatus.OK, backend.scrape());
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
            return response;
        }

        private FullHttpResponse healthCheck(boolean failed) {
            backend.healthCheckFailed(failed);
            return text(HttpResponseStatus.OK, failed ? "health check failed: /ready answers 503; traffic is still served\n"
                    : "health check ok\n");
        }

        private FullHttpResponse drain() {
            if (backend.readiness() == Readiness.DRAINING) {
                return text(HttpResponseStatus.CONFLICT, "already draining\n");
            }
            backend.requestDrain();
            return text(HttpResponseStatus.ACCEPTED, "draining: listeners close, open connections finish, then the process exits\n");
        }

        private FullHttpResponse rollback(QueryStringDecoder uri) {
            List<String> values = uri.parameters().get("version");
            int version;
            try {
                version = Integer.parseInt(values == null || values.size() != 1 ? "" : values.get(0));
            } catch (NumberFormatException e) {
                return text(HttpResponseStatus.BAD_REQUEST, "give one version number: POST /config/rollback?version=N (see GET /config/versions)\n");
            }
            try {
                return backend.rollback(version).map(e -> json(describe(e)))
                        .orElseGet(() -> text(HttpResponseStatus.NOT_FOUND, "no kept config version " + version + " (see GET /config/versions)\n"));
            } catch (ConfigException e) {
                return text(HttpResponseStatus.CONFLICT, "version " + version + " cannot be applied now:\n" + e.getMessage() + "\n");
            } catch (Sidecar.StartException e) {
                return text(HttpResponseStatus.CONFLICT, "version " + version + " could not be fully applied: " + e.getMessage() + "\n");
            }
        }

        private FullHttpResponse reload() {
            try {
                return json(describe(backend.reload()));
            } catch (ConfigException e) {
                return text(HttpResponseStatus.BAD_REQUEST, "config not reloaded; nothing changed:\n" + e.getMessage() + "\n");
            } catch (Sidecar.StartException e) {
                return text(HttpResponseStatus.CONFLICT, "config partly applied: " + e.getMessage() + "\n");
            } catch (UnsupportedOperationException e) {
                return text(HttpResponseStatus.CONFLICT, e.getMessage() + "\n");
            }
        }

        private FullHttpResponse logging() {
            return json(Map.of("level", levelName(Logger.getLogger("").getLevel())));
        }

        private FullHttpResponse setLogging(QueryStringDecoder uri) {
            List<String> values = uri.parameters().get("level");
            if (values == null || values.size() != 1) {
                return text(HttpResponseStatus.BAD_REQUEST, "give one level: POST /logging?level=" + String.join("|", LEVELS.keySet()) + "\n");
            }
            String name = values.get(0).toLowerCase(Locale.ROOT);
            String jul = LEVELS.get(name);
            if (jul == null) {
                return text(HttpResponseStatus.BAD_REQUEST, "'" + values.get(0) + "' is not one of " + String.join(", ", LEVELS.keySet()) + "\n");
            }
            Logger.getLogger("").setLevel(Level.parse(jul));
            return json(Map.of("level", name));
        }

        private FullHttpResponse notAllowed(String allow) {
            FullHttpResponse response = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "use " + allow + "\n");
            response.headers().set(HttpHeaderNames.ALLOW, allow.contains("GET") ? allow + ", HEAD" : allow);
            return response;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private static Map<String, Object> describe(ConfigVersions.Entry e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("version", e.version());
        m.put("source", e.source());
        m.put("applied_at", e.appliedAt().toString());
        m.put("changes", e.changes());
        m.put("summary", e.changes().toString());
        return m;
    }

    /** The config's name for a level ({@code debug} for FINE), or the JDK's name in lower case. */
    static String levelName(Level level) {
        if (level == null) {
            return "info";
        }
        for (Map.Entry<String, String> e : LEVELS.entrySet()) {
            if (Level.parse(e.getValue()).equals(level)) {
                return e.getKey();
            }
        }
        return level.getName().toLowerCase(Locale.ROOT);
    }

    private static FullHttpResponse json(Object body) {
        try {
            FullHttpResponse response = text(HttpResponseStatus.OK, Json.MAPPER.writeValueAsString(body) + "\n");
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
            return response;
        } catch (JsonProcessingException e) {
            return text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "cannot render JSON: " + e.getOriginalMessage() + "\n");
        }
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body) {
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN + "; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        return response;
    }
}
