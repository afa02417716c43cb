package dev.sidecar.l7;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.HashPolicy;
import dev.sidecar.config.HttpSettings;
import dev.sidecar.config.RouteConfig;
import dev.sidecar.config.UpstreamProtocol;
import dev.sidecar.upstream.Cluster;
import dev.sidecar.upstream.ClusterSnapshot;
import dev.sidecar.upstream.Endpoint;
import dev.sidecar.upstream.PickContext;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http.cookie.ServerCookieDecoder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
import net.openhft.hashing.LongHashFunction;

/**
 * One request through the proxy: route, pick, acquire an upstream channel, stream the request
 * body up and the response down with backpressure both ways, and retry, time out or answer
 * locally when the upstream fails. Everything runs on the downstream channel's event loop
 * (upstream channels are registered on it), so the state below needs no synchronization.
 *
 * <p>Retries replay the request body from duplicates kept while the body fits the listener's
 * buffer limit; past it the request can no longer be retried and the duplicates are released.
 */
final class Exchange implements UpstreamPools.Acquirer {
    private static final int GRPC_UNIMPLEMENTED = 12;
    private static final int GRPC_UNAVAILABLE = 14;
    private static final int GRPC_DEADLINE_EXCEEDED = 4;
    private static final int GRPC_RESOURCE_EXHAUSTED = 8;

    private final Downstream down;
    private final ConnectionHandler conn;
    private final HttpProxy proxy;
    private final HttpSettings http;
    private HttpRequest head;
    private final long startNanos;
    private boolean grpc;
    private boolean keepAliveDownstream;
    private boolean idempotent;
    private boolean headRequest;
    private boolean chunkedBody;
    private boolean largeBody;
    /** The protocol an HTTP/1.1 client asked to upgrade to (WebSocket), carried to the upstream; else null. */
    private String upgrade;
    private RouteTable.Route route;
    private Cluster cluster;
    private ClusterConfig clusterConfig;
    private PickContext pickContext = PickContext.NONE;

    // request body
    /**
     * Request content that arrived before the upstream stream did: the first part in a field
     * (most requests have one: their end, or a body in one piece), the parts behind it in a
     * queue made on first use. The queue has parts only while the field has one.
     */
    private HttpContent pendingFirst;
    private ArrayDeque<HttpContent> pending;
    private ArrayList<HttpContent> replay;
    private int replayBytes;
    private boolean replayable = true;
    /** The request ended with the shared empty last content, which the replay sends again after {@link #replay}. */
    private boolean replayEndsEmpty;
    private boolean requestComplete;

    // the current attempt
    private Endpoint endpoint;
    private long attemptStart;
    private UpstreamStream up;
    private boolean upReused;
    private boolean wantFresh;
    private boolean transparentRetryUsed;
    private int connectFailovers;
    /** Connect failures tried again on another endpoint before the route's retry policy applies. */
    private static final int MAX_CONNECT_FAILOVERS = 2;
    private int retriesDone;
    private boolean retryCounted;
    private boolean clusterCounted;
    /** This exchange counts in its cluster's pending requests (waiting for a connection or stream). */
    private boolean waiting;
    /** The endpoints attempts went to, up to four: the first in its own field, so a request that is not retried allocates nothing. */
    private Endpoint tried0;
    private Endpoint[] triedMore;
    private int triedCount;
    private boolean upstreamKeepAlive;

    private boolean responseStarted;
    private boolean responseComplete;
    private boolean done;
    private int status;
    /** The route timeout and the stream idle timeout, whichever comes first. */
    /** The route's timeout for the whole exchange (or grpc-timeout, if shorter); 0 for none. */
    private long routeTimeoutNanos;
    private ScheduledFuture<?> perTry;
    /** When a byte of this request last moved either way; the stream idle timeout reads it. */
    private long lastActivity;

    // for the access log
    private long bytesIn;
    private long bytesOut;
    private int attempts;
    private Endpoint lastEndpoint;
    /** Envoy-style response flag of what ended the request early, or null. */
    private String flag;
    private String logMethod;
    private String logAuthority;
    private String logPath;
    /** A sticky-session cookie the response sets, or null. */
    private String setCookie;

    Exchange(Downstream down, HttpRequest request) {
        this.down = down;
        this.conn = down.connection();
        this.proxy = conn.proxy;
        this.http = conn.settings.http();
        this.head = request;
        this.startNanos = proxy.nanoClock().getAsLong();
    }

    boolean requestComplete() {
        return requestComplete;
    }

    void start() {
        conn.requestStarted();
        HttpRequest request = head;
        if (request instanceof FullHttpRequest full) {
            // a request that ended with its headers (HTTP/2 END_STREAM, or an aggregated upgrade)
            head = new DefaultHttpRequest(full.protocolVersion(), full.method(), full.uri(), full.headers());
            head.setDecoderResult(full.decoderResult());
            LastHttpContent last = new DefaultLastHttpContent(full.content());
            last.trailingHeaders().set(full.trailingHeaders());
            onRequestContent(last);
        }
        HttpHeaders h = head.headers();
        if (proxy.requestLog() != null) {
            logMethod = head.method().name();
            logAuthority = h.get(HttpHeaderNames.HOST);
            logPath = head.uri();
        }
        grpc = isGrpc(h);
        keepAliveDownstream = !conn.h2() && head.protocolVersion() == HttpVersion.HTTP_1_1 && HttpUtil.isKeepAlive(head);
        int bad = validate();
        if (bad != 0) {
            keepAliveDownstream = false;
            flag = "DPE";
            localReply(bad, badRequestReason(bad), GRPC_UNAVAILABLE, false);
            return;
        }
        route = proxy.settings().routes().find(h.get(HttpHeaderNames.HOST), head.uri(), h);
        if (route == null) {
            flag = "NR";
            localReply(404, "no route for " + head.uri(), GRPC_UNIMPLEMENTED, false);
            return;
        }
        if (route.rateLimit != null && !route.rateLimit.tryTake()) {
            proxy.stats().rateLimited.increment();
            flag = "RL";
            localReply(429, "rate limited", GRPC_RESOURCE_EXHAUSTED, false);
            return;
        }
        if (route.action instanceof RouteConfig.DirectResponse d) {
            localReply(d.status(), d.body(), -1, false);
            return;
        }
        if (route.action instanceof RouteConfig.Redirect r) {
            redirect(r);
            return;
        }
        cluster = route.pickCluster();
        if (cluster == null) {
            flag = "NC";
            localReply(503, "cluster not found", GRPC_UNAVAILABLE, false);
            return;
        }
        clusterConfig = cluster.snapshot().config();
        if (!cluster.tryRequest(clusterConfig.circuitBreakers().maxRequests())) {
            proxy.stats().shed.increment();
            flag = "UO";
            localReply(503, "overloaded: cluster " + cluster.name() + " is at circuit_breakers.max_requests", GRPC_UNAVAILABLE, true);
            return;
        }
        clusterCounted = true;
        prepareUpstreamHead();
        long t = route.timeoutNanos >= 0 ? route.timeoutNanos : http.routeTimeout().toNanos();
        long grpcTimeout = grpc ? HeaderPolicy.grpcTimeoutNanos(h.get(HeaderPolicy.GRPC_TIMEOUT)) : -1;
        if (grpcTimeout > 0 && (t <= 0 || grpcTimeout < t)) {
            t = grpcTimeout;
        }
        routeTimeoutNanos = Math.max(0, t);
        lastActivity = startNanos;
        armTimer(startNanos);
        attempt();
    }

    private static boolean isGrpc(HttpHeaders h) {
        String ct = h.get(HttpHeaderNames.CONTENT_TYPE);
        return ct != null && ct.regionMatches(true, 0, "application/grpc", 0, 16);
    }

    /** Request checks no codec makes: 0 when the request may go on, else the status to answer. */
    private int validate() {
        DecoderResult result = head.decoderResult();
        if (result.isFailure()) {
            Throwable cause = result.cause();
            if (cause instanceof TooLongHttpLineException) {
                return 414;
            }
            return cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException ? 431 : 400;
        }
        HttpHeaders h = head.headers();
        if (h.size() > http.maxHeaders()) {
            return 431;
        }
        if (head.uri().length() > http.maxUriLength()) {
            return 414;
        }
        if (!conn.h2()) {
            // only HTTP/1.0 and 1.1 speak this syntax (an "HTTP/2.0" or "HTTP/0.9" request line is not one of them)
            HttpVersion v = head.protocolVersion();
            if (v.majorVersion() != 1 || v.minorVersion() > 1) {
                return 505;
            }
            // RFC 9112 3.2: exactly one Host in HTTP/1.1
            int hosts = FlatHttpHeaders.count(h, HttpHeaderNames.HOST);
            if (hosts > 1 || (hosts == 0 && head.protocolVersion() == HttpVersion.HTTP_1_1)) {
                return 400;
            }
            // RFC 9112 6.1: chunked must be the final (here: the only) coding, and not in HTTP/1.0
            java.util.List<String> te = h.getAll(HttpHeaderNames.TRANSFER_ENCODING);
            if (!te.isEmpty() && (te.size() > 1 || !te.get(0).trim().equalsIgnoreCase("chunked")
                    || head.protocolVersion() != HttpVersion.HTTP_1_1)) {
                return 400;
            }
        }
        // HTTP/2: the codec refuses connection-specific headers, and H2Headers a Host that names
        // another authority than :authority (RFC 9113 8.3.1) or a second Host, as stream errors
        if (head.method() == HttpMethod.CONNECT) {
            return 501;
        }
        String uri = head.uri();
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c <= ' ' || c == 0x7f) {
                return 400; // a control character or space in the request target (RFC 3986 has no place for it)
            }
        }
        if (uri.startsWith("http://") || uri.startsWith("https://")) {
            // absolute form: the authority in it wins over Host (RFC 9112 3.2.2)
            int authStart = uri.indexOf("//") + 2;
            int pathStart = uri.indexOf('/', authStart);
            int queryStart = uri.indexOf('?', authStart);
            int end = pathStart < 0 ? (queryStart < 0 ? uri.length() : queryStart) : pathStart;
            h.set(HttpHeaderNames.HOST, uri.substring(authStart, end));
            String rest = uri.substring(end);
            head.setUri(rest.isEmpty() || rest.charAt(0) == '?' ? "/" + rest : rest);
        } else if (!uri.startsWith("/") && !(uri.equals("*") && head.method() == HttpMethod.OPTIONS)) {
            return 400;
        }
        return 0;
    }

    private static String badRequestReason(int status) {
        return switch (status) {
            case 414 -> "request target too long";
            case 431 -> "request header fields too large";
            case 501 -> "method not implemented";
            case 505 -> "HTTP version not supported";
            default -> "bad request";
        };
    }

    /** The request as the upstream sees it: hop-by-hop headers gone, forwarding headers and the route's changes in. */
    private void prepareUpstreamHead() {
        HttpHeaders h = head.headers();
        HttpMethod m = head.method();
        idempotent = m == HttpMethod.GET || m == HttpMethod.HEAD || m == HttpMethod.OPTIONS || m == HttpMethod.PUT
                || m == HttpMethod.DELETE || m == HttpMethod.TRACE;
        headRequest = m == HttpMethod.HEAD;
        chunkedBody = HttpUtil.isTransferEncodingChunked(head);
        largeBody = chunkedBody || HttpUtil.getContentLength(head, 0L) > http.bufferLimit();
        if (!conn.h2() && HttpUtil.is100ContinueExpected(head)) {
            // answered here, as Envoy does: the body is on its way before an upstream is even picked
            down.write(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE, Unpooled.EMPTY_BUFFER));
            down.flush();
        }
        h.remove(HttpHeaderNames.EXPECT);
        upgrade = conn.h2() || clusterConfig.upstreamProtocol() == UpstreamProtocol.H2C ? null : HeaderPolicy.upgradeRequested(h);
        HeaderPolicy.stripHopByHop(h);
        if (upgrade != null) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
            h.set(HttpHeaderNames.UPGRADE, upgrade);
        }
        if (chunkedBody) {
            h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        HeaderPolicy.forwarded(h, conn.clientIp, conn.scheme);
        h.remove(HeaderPolicy.X_FORWARDED_CLIENT_CERT);
        if (conn.clientCert != null) {
            h.set(HeaderPolicy.X_FORWARDED_CLIENT_CERT, conn.clientCert);
        }
        HeaderPolicy.requestIdentity(h, http.generateRequestId());
        HeaderPolicy.applyRequest(h, route.routeHeaders);
        HeaderPolicy.applyRequest(h, route.hostHeaders);
        if (route.hostRewrite != null) {
            h.set(HttpHeaderNames.HOST, route.hostRewrite);
        }
        if (route.prefixRewrite != null) {
            HeaderPolicy.rewritePrefix(head, route.prefix, route.prefixRewrite);
        }
        if (!h.contains(HttpHeaderNames.HOST)) {
            // an HTTP/1.0 request may leave Host out, the HTTP/1.1 request it becomes may not: RFC
            // 9112 section 3.2 has a client with no authority to name send Host with an empty value
            h.set(HttpHeaderNames.HOST, "");
        }
        head.setProtocolVersion(HttpVersion.HTTP_1_1);
        pickContext = hashContext(h);
    }

    /** The first hash policy that yields a key decides; xxHash64 of the key's bytes. */
    private PickContext hashContext(HttpHeaders h) {
        for (HashPolicy p : route.hashPolicy) {
            String key;
            if (p instanceof HashPolicy.Header hp) {
                key = h.get(hp.name());
            } else if (p instanceof HashPolicy.Cookie c) {
                key = cookie(h, c.name());
                if (key == null && c.ttl() != null) {
                    key = stickyCookie(c);
                }
            } else if (p instanceof HashPolicy.SourceIp) {
                key = conn.clientIp.isEmpty() ? null : conn.clientIp;
            } else if (p instanceof HashPolicy.QueryParameter q) {
                key = queryParameter(head.uri(), q.name());
            } else {
                int q = head.uri().indexOf('?');
                key = q < 0 ? head.uri() : head.uri().substring(0, q);
            }
            if (key != null) {
                return PickContext.ofHash(LongHashFunction.xx().hashChars(key));
            }
        }
        return PickContext.NONE;
    }

    /**
     * A cookie hash policy with a ttl and a client without the cookie: the proxy makes the value
     * (from the client's address and port, as Envoy does, so requests racing on one connection
     * get the same one), hashes it for this request, and sets it on the response so the client's
     * next requests carry it and land on the same endpoint.
     */
    private String stickyCookie(HashPolicy.Cookie c) {
        String value = Long.toHexString(LongHashFunction.xx().hashChars(String.valueOf(conn.remoteAddress())));
        StringBuilder set = new StringBuilder(c.name()).append('=').append(value).append("; Max-Age=").append(c.ttl().toSeconds());
        if (c.path() != null) {
            set.append("; Path=").append(c.path());
        }
        setCookie = set.append("; HttpOnly").toString();
        return value;
    }

    private static String cookie(HttpHeaders h, String name) {
        for (String header : h.getAll(HttpHeaderNames.COOKIE)) {
            for (io.netty.handler.codec.http.cookie.Cookie c : ServerCookieDecoder.STRICT.decodeAll(header)) {
                if (c.name().equals(name)) {
                    return c.value();
                }
            }
        }
        return null;
    }

    private static String queryParameter(String uri, String name) {
        int q = uri.indexOf('?');
        if (q < 0) {
            return null;
        }
        for (String part : uri.substring(q + 1).split("&")) {
            int eq = part.indexOf('=');
            if ((eq < 0 ? part : part.substring(0, eq)).equals(name)) {
                return eq < 0 ? "" : part.substring(eq + 1);
            }
        }
        return null;
    }

    // ---- attempts ----

    private void attempt() {
        ClusterSnapshot snapshot = cluster.snapshot();
        clusterConfig = snapshot.config();
        Endpoint e = snapshot.pick(pickContext);
        for (int i = 0; i < 3 && e != null && wasTried(e) && snapshot.endpoints().size() > 1; i++) {
            e = snapshot.pick(pickContext); // a retry goes elsewhere when there is an elsewhere
        }
        if (e == null) {
            flag = "UH";
            localReply(503, "no healthy upstream", GRPC_UNAVAILABLE, false);
            return;
        }
        endpoint = e;
        lastEndpoint = e;
        attempts++;
        cluster.requestStarted(e);
        attemptStart = proxy.nanoClock().getAsLong();
        if (!cluster.tryPending(clusterConfig.circuitBreakers().maxPendingRequests())) {
            endAttempt(true);
            proxy.stats().shed.increment();
            flag = "UO";
            localReply(503, "overloaded: cluster " + cluster.name() + " is at circuit_breakers.max_pending_requests", GRPC_UNAVAILABLE, true);
            return;
        }
        waiting = true;
        UpstreamProtocol p = clusterConfig.upstreamProtocol();
        boolean h2 = upgrade == null && (p == UpstreamProtocol.H2C || (p == UpstreamProtocol.SAME_AS_DOWNSTREAM && conn.h2()));
        proxy.pools().acquire(down.eventLoop(), cluster, clusterConfig, e, h2, conn, this);
    }

    private boolean wasTried(Endpoint e) {
        if (triedCount > 0 && tried0 == e) {
            return true;
        }
        for (int i = 1; i < triedCount; i++) {
            if (triedMore[i - 1] == e) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean wantsFreshConnection() {
        return wantFresh;
    }

    /** The attempt no longer waits for a connection or stream. */
    private void pendingEnded() {
        if (waiting) {
            waiting = false;
            cluster.pendingEnded();
        }
    }

    @Override
    public void acquired(UpstreamStream s, boolean reused) {
        pendingEnded();
        if (done || endpoint == null || up != null) {
            s.release(!s.h2); // unused: an HTTP/1.1 connection is still clean
            return;
        }
        up = s;
        upReused = reused;
        wantFresh = false;
        s.attach(this);
        if (route.retry.perTryTimeoutNanos > 0) {
            perTry = down.eventLoop().schedule(this::onPerTryTimeout, route.retry.perTryTimeoutNanos, TimeUnit.NANOSECONDS);
        }
        s.write(head);
        HttpContent c;
        while ((c = unpend()) != null) {
            s.write(c);
        }
        s.flush();
        s.read();
        if (!requestComplete && s.isWritable()) {
            down.readRequest();
        }
    }

    @Override
    public void failed(Throwable cause, boolean connectFailure) {
        pendingEnded();
        if (done) {
            return;
        }
        endAttempt(connectFailure);
        if (cause instanceof EndpointPool.PoolOverflow) {
            proxy.stats().shed.increment();
            flag = "UO";
            localReply(503, "overloaded: " + cause.getMessage(), GRPC_UNAVAILABLE, true);
        } else if (connectFailure && connectFailovers < MAX_CONNECT_FAILOVERS && replayable) {
            // Nothing was sent, so trying another endpoint is always safe: the same failover the
            // TCP listeners make, and it does not spend the route's retries.
            connectFailovers++;
            refillFromReplay();
            attempt();
        } else if (retryAllowed(route.retry.onConnectFailure())) {
            retry();
        } else {
            flag = "UF";
            localReply(503, "upstream connect error: " + cause.getMessage(), GRPC_UNAVAILABLE, false);
        }
    }

    // ---- request body, downstream to upstream ----

    void onRequestContent(HttpContent c) {
        if (c instanceof LastHttpContent) {
            requestComplete = true;
        }
        if (done) {
            c.release();
            return;
        }
        lastActivity = proxy.nanoClock().getAsLong();
        bytesIn += c.content().readableBytes();
        if (c.decoderResult().isFailure()) {
            // A body that breaks its framing (a bad chunk size, say): the request must not reach
            // the upstream as if it had ended, so the attempt is cut off and the client told 400.
            c.release();
            requestComplete = true;
            keepAliveDownstream = false;
            abandonAttempt();
            flag = "DPE";
            localReply(400, "bad request body", GRPC_UNAVAILABLE, false);
            return;
        }
        if (replayable) {
            int n = c.content().readableBytes();
            if (c == LastHttpContent.EMPTY_LAST_CONTENT) {
                // the end of a body (or of none) without trailers: a flag, not a list entry
                replayEndsEmpty = true;
            } else if (replayBytes + n <= http.bufferLimit()) {
                if (replay == null) {
                    replay = new ArrayList<>(2);
                }
                replay.add(c.retainedDuplicate());
                replayBytes += n;
            } else {
                replayable = false;
                releaseReplay();
            }
        }
        if (up != null) {
            up.write(c);
        } else {
            pend(c);
        }
    }

    private void pend(HttpContent c) {
        if (pendingFirst == null) {
            pendingFirst = c;
            return;
        }
        if (pending == null) {
            pending = new ArrayDeque<>(2);
        }
        pending.add(c);
    }

    /** The oldest pending part, or null. */
    private HttpContent unpend() {
        HttpContent c = pendingFirst;
        if (c != null) {
            pendingFirst = pending == null ? null : pending.poll();
        }
        return c;
    }

    void onRequestReadComplete() {
        UpstreamStream s = up;
        if (s != null) {
            s.flush();
            if (!requestComplete && s.isWritable()) {
                down.readRequest();
            }
        }
    }

    void onUpstreamWritable(UpstreamStream s) {
        if (s == up && !requestComplete && s.isWritable()) {
            down.readRequest();
        }
    }

    // ---- response, upstream to downstream ----

    void onResponse(UpstreamStream s, HttpObject o) {
        if (s != up || done) {
            ReferenceCountUtil.release(o);
            return;
        }
        lastActivity = proxy.nanoClock().getAsLong();
        if (o.decoderResult().isFailure()) {
            // a response the codec could not read (a head beyond the limit, a broken chunk):
            // a gateway error before the response began, a cut-off response after
            ReferenceCountUtil.release(o);
            if (responseStarted) {
                flag = "UPE";
                resetDownstream();
            } else {
                upstreamResult(true, true);
                abandonAttempt();
                flag = "UPE";
                localReply(502, "upstream sent a malformed response", GRPC_UNAVAILABLE, false);
            }
            return;
        }
        if (o instanceof HttpResponse r) {
            int code = r.status().code();
            if (code == 101) {
                ReferenceCountUtil.release(o);
                if (upgrade != null && requestComplete && !s.h2) {
                    upgraded(s, r);
                } else {
                    // switching protocols nobody asked for: what follows is not HTTP this proxy can read
                    upstreamResult(true, true);
                    abandonAttempt();
                    localReply(502, "upstream switched protocols unasked", GRPC_UNAVAILABLE, false);
                }
                return;
            }
            if (code < 200) {
                ReferenceCountUtil.release(o); // 100 Continue was answered here; other 1xx are informational
                return;
            }
            cancel(perTry);
            boolean gatewayError = code == 502 || code == 503 || code == 504;
            upstreamResult(gatewayError, code >= 500);
            int grpcStatus = grpc ? grpcStatus(r.headers()) : -1;
            if (!responseStarted && (route.retry.onStatus(code) || (grpcStatus >= 0 && route.retry.onGrpcStatus(grpcStatus)))
                    && retryAllowed(true)) {
                ReferenceCountUtil.release(o);
                abandonAttempt();
                retry();
                return;
            }
            upstreamKeepAlive = s.h2 || HttpUtil.isKeepAlive(r);
            prepareResponse(r);
            responseStarted = true;
            status = code;
            if (r instanceof HttpContent c) {
                bytesOut += c.content().readableBytes();
            }
            down.write(r);
            if (r instanceof LastHttpContent) {
                responseDone();
            }
            return;
        }
        if (!responseStarted) {
            ReferenceCountUtil.release(o);
            return;
        }
        if (o instanceof HttpContent c) {
            bytesOut += c.content().readableBytes();
        }
        down.write(o);
        if (o instanceof LastHttpContent) {
            responseDone();
        } else if (!down.isWritable()) {
            // what this read brought still goes out; the connection reads no more until the
            // downstream drains, so the proxy holds at most the high-water mark and one read
            s.pause();
        }
    }

    /**
     * What the attempt's endpoint did, for outlier detection (gateway errors) and its own
     * counters: answered or failed, an error (5xx or no answer), and its time to answer.
     */
    private void upstreamResult(boolean gatewayError, boolean error) {
        cluster.httpResult(endpoint, gatewayError);
        endpoint.httpResult(error, proxy.nanoClock().getAsLong() - attemptStart);
    }

    private static int grpcStatus(HttpHeaders h) {
        String v = h.get(HeaderPolicy.GRPC_STATUS);
        if (v == null || v.isEmpty() || v.length() > 2) {
            return -1;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private void prepareResponse(HttpResponse r) {
        HttpHeaders h = r.headers();
        HeaderPolicy.stripHopByHop(h);
        HeaderPolicy.applyResponse(h, route.routeHeaders);
        HeaderPolicy.applyResponse(h, route.hostHeaders);
        if (setCookie != null) {
            h.add(HttpHeaderNames.SET_COOKIE, setCookie);
        }
        if (!conn.h2()) {
            r.setProtocolVersion(HttpVersion.HTTP_1_1);
            int code = r.status().code();
            boolean bodiless = headRequest || code == 204 || code == 304;
            if (!bodiless && !h.contains(HttpHeaderNames.CONTENT_LENGTH)) {
                if (r instanceof FullHttpResponse f && f.trailingHeaders().isEmpty()) {
                    h.setInt(HttpHeaderNames.CONTENT_LENGTH, f.content().readableBytes());
                } else {
                    h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
                }
            }
            if (!keepAliveDownstream || conn.draining()) {
                h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                keepAliveDownstream = false;
            }
        }
    }

    void onUpstreamReadComplete(UpstreamStream s) {
        if (s != up) {
            return;
        }
        down.flush();
        if (!responseComplete) {
            if (down.isWritable()) {
                s.read();
            } else {
                s.pause();
            }
        }
    }

    void onDownstreamWritable() {
        UpstreamStream s = up;
        if (s != null && !responseComplete) {
            s.read();
        }
    }

    private void responseDone() {
        responseComplete = true;
        // An upstream that answered before the whole request arrived: the rest of the request has
        // nowhere to go, so the downstream stream or connection ends with the response.
        finish(requestComplete && keepAliveDownstream || conn.h2() && requestComplete);
    }

    // ---- failures ----

    void onUpstreamClosed(UpstreamStream s) {
        if (s != up || done || responseComplete) {
            return;
        }
        if (responseStarted) {
            resetDownstream();
            return;
        }
        upstreamResult(true, true);
        boolean refused = s.h2 && (s.resetCode == Http2Error.REFUSED_STREAM || s.refusedByGoAway);
        boolean stale = !s.h2 && upReused && idempotent;
        if ((stale || refused) && replayable && !transparentRetryUsed) {
            // Not processed, or safe to send again: a keep-alive connection the upstream closed as
            // it was reused, or a stream the upstream refused. Retried once, on a new connection,
            // without counting against the route's retries.
            transparentRetryUsed = true;
            abandonAttempt();
            wantFresh = true;
            refillFromReplay();
            attempt();
            return;
        }
        if (retryAllowed(route.retry.onReset(refused))) {
            abandonAttempt();
            retry();
            return;
        }
        abandonAttempt();
        flag = "UR";
        localReply(503, "upstream reset before response headers", GRPC_UNAVAILABLE, false);
    }

    void onDownstreamClosed() {
        if (done) {
            return;
        }
        abandonAttempt();
        flag = "DC";
        status = 0; // the client went away
        finish(false);
    }

    /**
     * One timer serves the route timeout and the stream idle timeout (no bytes either way for
     * that long: a stalled upstream, a client that stopped sending its body): it fires at the
     * earlier of the two and re-arms for what is left, instead of being reset on every chunk. The
     * timer is the downstream connection's ({@link Downstream#armExchangeTimer}): an
     * exchange that ends leaves it pending, and the next one on a keep-alive connection keeps it
     * while it fires no later than that exchange needs, so requests do not schedule and cancel
     * a task each.
     */
    private void armTimer(long now) {
        if (done) {
            return;
        }
        long delay = Long.MAX_VALUE;
        if (routeTimeoutNanos > 0) {
            delay = routeTimeoutNanos - (now - startNanos);
        }
        long idle = http.streamIdleTimeout().toNanos();
        if (idle > 0) {
            delay = Math.min(delay, idle - (now - lastActivity));
        }
        if (delay != Long.MAX_VALUE) {
            down.armExchangeTimer(Math.max(0, delay));
        }
    }

    /** The connection's exchange timer fired (perhaps early, or set by an earlier exchange): checks and re-arms. */
    void onTimer() {
        if (done) {
            return;
        }
        long now = proxy.nanoClock().getAsLong();
        if (routeTimeoutNanos > 0 && now - startNanos >= routeTimeoutNanos) {
            onTimeout();
            return;
        }
        long idle = http.streamIdleTimeout().toNanos();
        if (idle > 0 && now - lastActivity >= idle) {
            onStreamIdle();
            return;
        }
        armTimer(now);
    }

    private void onStreamIdle() {
        proxy.stats().timeouts.increment();
        flag = "SI";
        if (responseStarted) {
            resetDownstream();
        } else {
            abandonAttempt();
            keepAliveDownstream = false;
            localReply(requestComplete ? 504 : 408, "stream idle timeout", GRPC_DEADLINE_EXCEEDED, false);
        }
    }

    private void onTimeout() {
        if (done) {
            return;
        }
        proxy.stats().timeouts.increment();
        flag = "UT";
        if (responseStarted) {
            resetDownstream();
            return;
        }
        abandonAttempt();
        localReply(504, "upstream request timeout", GRPC_DEADLINE_EXCEEDED, false);
    }

    private void onPerTryTimeout() {
        if (done || responseStarted || up == null) {
            return;
        }
        proxy.stats().timeouts.increment();
        upstreamResult(true, true);
        boolean again = retryAllowed(route.retry.onPerTryTimeout());
        abandonAttempt();
        if (again) {
            retry();
        } else {
            flag = "UT";
            localReply(504, "upstream per-try timeout", GRPC_DEADLINE_EXCEEDED, false);
        }
    }

    private boolean retryAllowed(boolean condition) {
        if (!condition || done || responseStarted || !replayable || retriesDone >= route.retry.numRetries) {
            return false;
        }
        if (!retryCounted) {
            if (!cluster.tryRetry(clusterConfig.circuitBreakers().maxRetries())) {
                return false;
            }
            retryCounted = true;
        }
        return true;
    }

    private void retry() {
        retriesDone++;
        proxy.stats().retries.increment();
        long delay = route.retry.backoffNanos(retriesDone);
        down.eventLoop().schedule(() -> {
            if (!done) {
                refillFromReplay();
                attempt();
            }
        }, delay, TimeUnit.NANOSECONDS);
    }

    private void refillFromReplay() {
        releasePending();
        if (replay != null) {
            for (HttpContent c : replay) {
                pend(c.retainedDuplicate());
            }
        }
        if (replayEndsEmpty) {
            pend(LastHttpContent.EMPTY_LAST_CONTENT);
        }
    }

    /** Ends the current attempt's claim on its endpoint and channel; the channel is not reused. */
    private void abandonAttempt() {
        cancel(perTry);
        pendingEnded();
        UpstreamStream s = up;
        up = null;
        if (s != null) {
            s.release(false);
        }
        endAttempt(false);
    }

    private void endAttempt(boolean connectFailed) {
        Endpoint e = endpoint;
        if (e == null) {
            return;
        }
        endpoint = null;
        cluster.requestFinished(e);
        if (!connectFailed) {
            long now = proxy.nanoClock().getAsLong();
            e.latency().observe(now - attemptStart, now);
        }
        if (triedCount == 0) {
            tried0 = e;
            triedCount = 1;
        } else if (triedCount < 4) {
            if (triedMore == null) {
                triedMore = new Endpoint[3];
            }
            triedMore[triedCount++ - 1] = e;
        }
    }

    /** The response has begun and cannot be completed: the client learns it from a reset, not a short body. */
    private void resetDownstream() {
        proxy.stats().resets.increment();
        if (flag == null) {
            flag = "UR";
        }
        abandonAttempt();
        if (grpc && responseStarted && !responseComplete) {
            // A gRPC call whose upstream went away mid-stream ends with a status the client can
            // act on (UNAVAILABLE: try again elsewhere) rather than a reset it reads as INTERNAL.
            LastHttpContent trailers = new DefaultLastHttpContent();
            trailers.trailingHeaders().setInt(HeaderPolicy.GRPC_STATUS, GRPC_UNAVAILABLE);
            trailers.trailingHeaders().set(HeaderPolicy.GRPC_MESSAGE, "upstream%20closed%20mid-stream");
            down.write(trailers);
            responseComplete = true;
            finish(conn.h2() && requestComplete);
            return;
        }
        down.reset(Http2Error.INTERNAL_ERROR);
        finish(false);
    }

    private void redirect(RouteConfig.Redirect r) {
        String uri = head.uri();
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        String query = q < 0 || r.stripQuery() ? "" : uri.substring(q);
        if (r.path() != null) {
            path = r.path();
        } else if (r.prefixRewrite() != null && route.prefix != null && path.startsWith(route.prefix)) {
            path = r.prefixRewrite() + path.substring(route.prefix.length());
        }
        String authority = head.headers().get(HttpHeaderNames.HOST, "");
        String host = r.host() != null ? r.host() : authority.substring(0, RouteTable.hostEnd(authority));
        String port = r.port() != 0 ? ":" + r.port() : (r.host() == null && r.scheme() == null ? authority.substring(RouteTable.hostEnd(authority)) : "");
        String location = (r.scheme() != null ? r.scheme() : conn.scheme) + "://" + host + port + path + query;
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(r.responseCode()), Unpooled.EMPTY_BUFFER);
        res.headers().set(HttpHeaderNames.LOCATION, location);
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        sendLocal(res);
    }

    /**
     * A response made by the proxy. A gRPC request gets a gRPC answer: HTTP 200 with
     * {@code grpc-status} in a trailers-only response, since gRPC clients read the status from
     * there and turn any other HTTP status into an UNKNOWN or INTERNAL error.
     */
    private void localReply(int code, String message, int grpcCode, boolean overloaded) {
        if (responseStarted) {
            resetDownstream();
            return;
        }
        FullHttpResponse res;
        if (grpc && grpcCode >= 0) {
            res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER);
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc");
            res.headers().setInt(HeaderPolicy.GRPC_STATUS, grpcCode);
            res.headers().set(HeaderPolicy.GRPC_MESSAGE, URLEncoder.encode(message, StandardCharsets.UTF_8).replace("+", "%20"));
            if (!conn.h2()) {
                res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
            }
        } else {
            ByteBuf body = message.isEmpty() ? Unpooled.EMPTY_BUFFER : ByteBufUtil.writeUtf8(down.alloc(), message + "\n");
            res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(code), body);
            if (body.isReadable()) {
                res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
            }
            res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        }
        if (overloaded) {
            res.headers().set(HeaderPolicy.OVERLOADED, "true");
        }
        sendLocal(res);
    }

    private void sendLocal(FullHttpResponse res) {
        // A body still coming is read and dropped when it is small; a large one ends the connection.
        if (!requestComplete && largeBody) {
            keepAliveDownstream = false;
        }
        if (!conn.h2() && (!keepAliveDownstream || conn.draining())) {
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            keepAliveDownstream = false;
        }
        responseStarted = true;
        responseComplete = true;
        status = res.status().code();
        bytesOut += res.content().readableBytes();
        down.write(res);
        finish(conn.h2() ? requestComplete : keepAliveDownstream);
    }

    /** The upstream accepted the upgrade: the client gets the 101, then both connections become a tunnel. */
    private void upgraded(UpstreamStream s, HttpResponse r) {
        HttpHeaders h = r.headers();
        String protocol = h.get(HttpHeaderNames.UPGRADE, upgrade);
        HeaderPolicy.stripHopByHop(h);
        HeaderPolicy.applyResponse(h, route.routeHeaders);
        HeaderPolicy.applyResponse(h, route.hostHeaders);
        h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        h.set(HttpHeaderNames.UPGRADE, protocol);
        responseStarted = true;
        responseComplete = true;
        status = 101;
        up = null; // the connection is the tunnel's now, never the pool's
        down.write(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS,
                Unpooled.EMPTY_BUFFER, h, EmptyHttpHeaders.INSTANCE));
        settle();
        down.flush();
        down.upgraded(s, http.streamIdleTimeout().toNanos());
    }

    private void finish(boolean keepAlive) {
        if (settle()) {
            down.flush();
            down.exchangeFinished(keepAlive);
            conn.requestEnded();
        }
    }

    /** Ends the exchange's timers, buffers, upstream claim and counts, once: false if it had ended already. */
    private boolean settle() {
        if (done) {
            return false;
        }
        done = true;
        cancel(perTry);
        releasePending();
        releaseReplay();
        UpstreamStream s = up;
        up = null;
        if (s != null) {
            s.release(requestComplete && responseComplete && upstreamKeepAlive);
        }
        endAttempt(false);
        pendingEnded();
        if (clusterCounted) {
            cluster.requestEnded();
        }
        if (retryCounted) {
            cluster.retryEnded();
        }
        proxy.stats().response(status);
        long now = proxy.nanoClock().getAsLong();
        proxy.observer().requestFinished(conn.settings.config().name(), status, now - startNanos);
        proxy.stats().latency.record(now - startNanos);
        RequestLog log = proxy.requestLog();
        if (log != null && logMethod != null) {
            log.finished(new RequestRecord(System.currentTimeMillis() - (now - startNanos) / 1_000_000, now - startNanos,
                    conn.settings.config().name(), conn.remoteAddress(),
                    conn.h2() ? "HTTP/2" : "HTTP/1.1", logMethod, logAuthority, logPath, status, bytesIn, bytesOut,
                    cluster == null ? null : cluster.name(), lastEndpoint == null ? null : lastEndpoint.socketAddress(), attempts,
                    head.headers().get(HeaderPolicy.X_REQUEST_ID), head.headers().get(HttpHeaderNames.USER_AGENT), flag == null ? "-" : flag));
        }
        return true;
    }

    private void releasePending() {
        HttpContent c;
        while ((c = unpend()) != null) {
            c.release();
        }
    }

    private void releaseReplay() {
        if (replay != null) {
            for (HttpContent c : replay) {
                c.release();
            }
            replay = null;
        }
    }

    private static void cancel(ScheduledFuture<?> f) {
        if (f != null) {
            f.cancel(false);
        }
    }
}
