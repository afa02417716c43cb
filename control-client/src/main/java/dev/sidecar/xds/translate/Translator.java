package dev.sidecar.xds.translate;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.sidecar.config.CertificateFiles;
import dev.sidecar.config.CircuitBreakersConfig;
import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.HashPolicy;
import dev.sidecar.config.HealthCheckConfig;
import dev.sidecar.config.HealthStatus;
import dev.sidecar.config.HostPort;
import dev.sidecar.config.HttpPoolConfig;
import dev.sidecar.config.HttpSettings;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.LbSettings;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ListenerProtocol;
import dev.sidecar.config.OutlierDetectionConfig;
import dev.sidecar.config.RouteConfig;
import dev.sidecar.config.SanMatcher;
import dev.sidecar.config.TlsClientConfig;
import dev.sidecar.config.TlsServerConfig;
import dev.sidecar.config.TlsVersion;
import dev.sidecar.config.UpstreamProtocol;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.HealthCheck;
import io.envoyproxy.envoy.config.core.v3.RoutingPriority;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.listener.v3.ListenerFilter;
import io.envoyproxy.envoy.config.core.v3.ProxyProtocolConfig;
import io.envoyproxy.envoy.extensions.filters.listener.original_dst.v3.OriginalDst;
import io.envoyproxy.envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol;
import io.envoyproxy.envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport;
import io.envoyproxy.envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer;
import dev.sidecar.config.ClusterType;
import dev.sidecar.config.ProxyProtocolVersion;
import io.envoyproxy.envoy.config.route.v3.DirectResponseAction;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.QueryParameterMatcher;
import io.envoyproxy.envoy.config.route.v3.RedirectAction;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsParameters;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Pure functions from Envoy v3 resources to the proxy's config records. Each field the records
 * can carry is translated; every other field that is set is refused by name with its path
 * ({@link Refusal}), never dropped: a control plane that asks for something the proxy cannot do
 * must hear so in the NACK rather than see it silently ignored. Fields that are only labels
 * ({@code stat_prefix}, {@code metadata}, {@code alt_stat_name}) are accepted and unused.
 *
 * <p>The references between resources (a listener's cluster, a route's RDS name) are left to
 * the caller: translation looks at one resource at a time.
 */
public final class Translator {
    private Translator() {}

    /** The type URLs of the four resource kinds, as they appear in a DiscoveryRequest. */
    public static final String CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
    public static final String ENDPOINT_TYPE = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
    public static final String LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener";
    public static final String ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

    static final String TLS_SOCKET = "envoy.transport_sockets.tls";
    static final String RAW_BUFFER_SOCKET = "envoy.transport_sockets.raw_buffer";
    static final String HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

    // ------------------------------------------------------------------ clusters

    /**
     * A cluster, with the endpoints of its {@code load_assignment} (STATIC and STRICT_DNS) or none
     * yet (EDS: see {@link TranslatedCluster#edsName()}).
     */
    public record TranslatedCluster(ClusterConfig config, String edsName) {
        public boolean eds() {
            return edsName != null;
        }
    }

    public static TranslatedCluster cluster(Cluster c) {
        Ctx x = new Ctx("cluster '" + c.getName() + "'");
        x.only(c, "", "name", "type", "eds_cluster_config", "connect_timeout", "lb_policy", "load_assignment", "health_checks",
                "outlier_detection", "circuit_breakers", "transport_socket", "least_request_lb_config", "ring_hash_lb_config",
                "maglev_lb_config", "common_lb_config", "typed_extension_protocol_options", "metadata", "alt_stat_name",
                "dns_refresh_rate", "respect_dns_ttl", "dns_lookup_family");
        ClusterConfig.Builder b = ClusterConfig.builder(c.getName());
        String edsName = null;
        if (c.getClusterDiscoveryTypeCase() != Cluster.ClusterDiscoveryTypeCase.TYPE && c.hasClusterType()) {
            x.refuse("cluster_type", "(a custom cluster type '" + c.getClusterType().getName() + "') is not supported");
        }
        switch (c.getType()) {
            case EDS -> {
                x.only(c.getEdsClusterConfig(), "eds_cluster_config.", "service_name", "eds_config");
                if (c.getEdsClusterConfig().hasEdsConfig()) {
                    ads(x, "eds_cluster_config.eds_config", c.getEdsClusterConfig().getEdsConfig());
                }
                edsName = c.getEdsClusterConfig().getServiceName().isEmpty() ? c.getName() : c.getEdsClusterConfig().getServiceName();
                if (c.hasLoadAssignment()) {
                    x.refuse("load_assignment", "is for STATIC and STRICT_DNS clusters; an EDS cluster's endpoints come from EDS");
                }
            }
            case STATIC, STRICT_DNS -> {
                // STRICT_DNS: each endpoint host name is resolved again every dns_refresh_rate
                // (Envoy's default 5 s) and stands for one endpoint per address of the answer
                if (c.hasEdsClusterConfig()) {
                    x.refuse("eds_cluster_config", "is only for type EDS");
                }
                if (c.getType() == Cluster.DiscoveryType.STRICT_DNS) {
                    Duration rate = c.hasDnsRefreshRate() ? duration(c.getDnsRefreshRate()) : ClusterConfig.DEFAULT_DNS_REFRESH_RATE;
                    if (rate.toMillis() < 1) {
                        x.refuse("dns_refresh_rate", "must be at least 1ms");
                    }
                    b.dnsRefreshRate(rate);
                }
                b.endpoints(endpoints(x, "load_assignment.", c.getLoadAssignment()));
            }
            case ORIGINAL_DST -> {
                // each connection goes where it was going before a REDIRECT; no endpoint list
                if (c.hasLoadAssignment() || c.hasEdsClusterConfig()) {
                    x.refuse(c.hasLoadAssignment() ? "load_assignment" : "eds_cluster_config",
                            "is not for type ORIGINAL_DST: its connections go to their original destination");
                }
                b.type(ClusterType.ORIGINAL_DST);
            }
            default -> x.refuse("type", c.getType() + " is not supported (use EDS, STATIC, STRICT_DNS or ORIGINAL_DST)");
        }
        if (c.hasConnectTimeout()) {
            b.connectTimeout(duration(c.getConnectTimeout()));
        }
        LbSettings lb = LbSettings.DEFAULT;
        switch (c.getLbPolicy()) {
            case ROUND_ROBIN -> b.lbPolicy(LbPolicy.ROUND_ROBIN);
            case LEAST_REQUEST -> b.lbPolicy(LbPolicy.LEAST_REQUEST);
            case RANDOM -> b.lbPolicy(LbPolicy.RANDOM);
            case RING_HASH -> b.lbPolicy(LbPolicy.RING_HASH);
            case MAGLEV -> b.lbPolicy(LbPolicy.MAGLEV);
            // Envoy requires it of ORIGINAL_DST clusters: the cluster, not a balancer, picks the host
            case CLUSTER_PROVIDED -> {
                if (c.getType() != Cluster.DiscoveryType.ORIGINAL_DST) {
                    x.refuse("lb_policy", c.getLbPolicy() + " is not supported");
                }
            }
            default -> x.refuse("lb_policy", c.getLbPolicy() + " is not supported");
        }
        if (c.hasLeastRequestLbConfig()) {
            var l = c.getLeastRequestLbConfig();
            x.only(l, "least_request_lb_config.", "choice_count");
            if (l.hasChoiceCount()) {
                lb = lb.withChoiceCount(l.getChoiceCount().getValue());
            }
        }
        int balanceFactor = 0;
        if (c.hasCommonLbConfig()) {
            var cl = c.getCommonLbConfig();
            x.only(cl, "common_lb_config.", "healthy_panic_threshold", "consistent_hashing_lb_config");
            if (cl.hasHealthyPanicThreshold()) {
                lb = lb.withHealthyPanicThreshold((int) Math.round(cl.getHealthyPanicThreshold().getValue()));
            }
            if (cl.hasConsistentHashingLbConfig()) {
                x.only(cl.getConsistentHashingLbConfig(), "common_lb_config.consistent_hashing_lb_config.", "hash_balance_factor");
                balanceFactor = cl.getConsistentHashingLbConfig().getHashBalanceFactor().getValue();
            }
        }
        long minRing = lb.minimumRingSize();
        long maxRing = lb.maximumRingSize();
        if (c.hasRingHashLbConfig()) {
            var r = c.getRingHashLbConfig();
            x.only(r, "ring_hash_lb_config.", "minimum_ring_size", "maximum_ring_size", "hash_function");
            if (r.getHashFunction() != Cluster.RingHashLbConfig.HashFunction.XX_HASH) {
                x.refuse("ring_hash_lb_config.hash_function", r.getHashFunction() + " is not supported (only XX_HASH)");
            }
            if (r.hasMinimumRingSize()) {
                minRing = r.getMinimumRingSize().getValue();
            }
            if (r.hasMaximumRingSize()) {
                maxRing = r.getMaximumRingSize().getValue();
            }
        }
        lb = lb.withRing(minRing, maxRing, balanceFactor);
        if (c.hasMaglevLbConfig()) {
            x.only(c.getMaglevLbConfig(), "maglev_lb_config.", "table_size");
            if (c.getMaglevLbConfig().hasTableSize()) {
                long size = c.getMaglevLbConfig().getTableSize().getValue();
                lb = lb.withMaglevTableSize(size > Integer.MAX_VALUE ? -1 : (int) size);
            }
        }
        b.lbSettings(lb);
        List<HealthCheckConfig> checks = new ArrayList<>();
        for (int i = 0; i < c.getHealthChecksCount(); i++) {
            checks.add(healthCheck(x, "health_checks[" + i + "].", c.getHealthChecks(i)));
        }
        b.healthChecks(checks);
        if (c.hasOutlierDetection()) {
            b.outlierDetection(outlierDetection(x, "outlier_detection.", c.getOutlierDetection()));
        }
        if (c.hasCircuitBreakers()) {
            b.circuitBreakers(circuitBreakers(x, "circuit_breakers.", c.getCircuitBreakers()));
        }
        if (c.hasTransportSocket()) {
            TransportSocket ts = c.getTransportSocket();
            String tp = "transport_socket.";
            if (ts.getTypedConfig().is(ProxyProtocolUpstreamTransport.class)) {
                // envoy.transport_sockets.upstream_proxy_protocol: a PROXY header, then the wrapped socket
                x.only(ts, tp, "name", "typed_config");
                ProxyProtocolUpstreamTransport pp = unpack(x, tp + "typed_config", ts.getTypedConfig(), ProxyProtocolUpstreamTransport.class);
                x.only(pp, tp + "typed_config.", "config", "transport_socket");
                x.only(pp.getConfig(), tp + "typed_config.config.", "version");
                b.proxyProtocol(pp.getConfig().getVersion() == ProxyProtocolConfig.Version.V2 ? ProxyProtocolVersion.V2 : ProxyProtocolVersion.V1);
                ts = pp.getTransportSocket();
                tp = tp + "typed_config.transport_socket.";
            }
            if (!ts.getName().equals(RAW_BUFFER_SOCKET) && !ts.getTypedConfig().is(RawBuffer.class)) {
                b.tls(upstreamTls(x, tp, ts));
            }
        }
        for (var e : c.getTypedExtensionProtocolOptionsMap().entrySet()) {
            String path = "typed_extension_protocol_options['" + e.getKey() + "']";
            if (!e.getKey().equals(HTTP_OPTIONS)) {
                x.refuse(path, "is not supported (only " + HTTP_OPTIONS + ")");
            }
            httpProtocolOptions(x, path + ".", unpack(x, path, e.getValue(), HttpProtocolOptions.class), b);
        }
        return new TranslatedCluster(b.build(), edsName);
    }

    private static void httpProtocolOptions(Ctx x, String path, HttpProtocolOptions o, ClusterConfig.Builder b) {
        x.only(o, path, "explicit_http_config", "use_downstream_protocol_config", "common_http_protocol_options");
        if (o.hasExplicitHttpConfig()) {
            var e = o.getExplicitHttpConfig();
            x.only(e, path + "explicit_http_config.", "http_protocol_options", "http2_protocol_options");
            if (e.hasHttp2ProtocolOptions()) {
                x.only(e.getHttp2ProtocolOptions(), path + "explicit_http_config.http2_protocol_options.");
                b.upstreamProtocol(UpstreamProtocol.H2C);
            } else {
                x.only(e.getHttpProtocolOptions(), path + "explicit_http_config.http_protocol_options.");
                b.upstreamProtocol(UpstreamProtocol.HTTP1);
            }
        } else if (o.hasUseDownstreamProtocolConfig()) {
            x.only(o.getUseDownstreamProtocolConfig(), path + "use_downstream_protocol_config.", "http_protocol_options",
                    "http2_protocol_options");
            b.upstreamProtocol(UpstreamProtocol.SAME_AS_DOWNSTREAM);
        }
        if (o.hasCommonHttpProtocolOptions()) {
            var c = o.getCommonHttpProtocolOptions();
            x.only(c, path + "common_http_protocol_options.", "idle_timeout", "max_requests_per_connection");
            HttpPoolConfig p = HttpPoolConfig.DEFAULT;
            b.httpPool(new HttpPoolConfig(c.hasIdleTimeout() ? duration(c.getIdleTimeout()) : p.idleTimeout(), p.maxIdleConnections(),
                    c.hasMaxRequestsPerConnection() ? c.getMaxRequestsPerConnection().getValue() : p.maxRequestsPerConnection()));
        }
    }

    private static HealthCheckConfig healthCheck(Ctx x, String path, HealthCheck h) {
        x.only(h, path, "timeout", "interval", "interval_jitter", "initial_jitter", "unhealthy_interval", "no_traffic_interval",
                "unhealthy_threshold", "healthy_threshold", "tcp_health_check", "http_health_check", "grpc_health_check");
        HealthCheckConfig.Kind kind;
        switch (h.getHealthCheckerCase()) {
            case TCP_HEALTH_CHECK -> {
                var t = h.getTcpHealthCheck();
                x.only(t, path + "tcp_health_check.", "send", "receive");
                byte[] send = t.hasSend() ? payload(x, path + "tcp_health_check.send", t.getSend()) : new byte[0];
                if (t.getReceiveCount() > 1) {
                    x.refuse(path + "tcp_health_check.receive", "has " + t.getReceiveCount() + " payloads; only one is supported");
                }
                byte[] receive = t.getReceiveCount() == 1 ? payload(x, path + "tcp_health_check.receive[0]", t.getReceive(0)) : new byte[0];
                kind = new HealthCheckConfig.Tcp(send, receive);
            }
            case HTTP_HEALTH_CHECK -> {
                var t = h.getHttpHealthCheck();
                x.only(t, path + "http_health_check.", "path", "host", "expected_statuses");
                List<HealthCheckConfig.StatusRange> ranges = new ArrayList<>();
                // Int64Range is half-open: [start, end)
                t.getExpectedStatusesList().forEach(r -> ranges.add(new HealthCheckConfig.StatusRange((int) r.getStart(), (int) r.getEnd() - 1)));
                if (ranges.isEmpty()) {
                    ranges.add(new HealthCheckConfig.StatusRange(200, 200)); // Envoy's default: 200 only
                }
                kind = new HealthCheckConfig.Http(t.getPath(), t.getHost(), ranges);
            }
            case GRPC_HEALTH_CHECK -> {
                var t = h.getGrpcHealthCheck();
                x.only(t, path + "grpc_health_check.", "service_name");
                kind = new HealthCheckConfig.Grpc(t.getServiceName());
            }
            default -> throw x.refuse(path + "health_checker", "needs one of tcp_health_check, http_health_check, grpc_health_check");
        }
        if (!h.hasTimeout() || !h.hasInterval()) {
            x.refuse(path + (h.hasTimeout() ? "interval" : "timeout"), "is required");
        }
        HealthCheckConfig.Builder b = HealthCheckConfig.builder(kind).timeout(duration(h.getTimeout())).interval(duration(h.getInterval()));
        if (h.hasIntervalJitter()) {
            b.intervalJitter(duration(h.getIntervalJitter()));
        }
        if (h.hasInitialJitter()) {
            b.initialJitter(duration(h.getInitialJitter()));
        }
        if (h.hasUnhealthyInterval()) {
            b.unhealthyInterval(duration(h.getUnhealthyInterval()));
        }
        if (h.hasNoTrafficInterval()) {
            b.noTrafficInterval(duration(h.getNoTrafficInterval()));
        }
        if (!h.hasUnhealthyThreshold() || !h.hasHealthyThreshold()) {
            x.refuse(path + (h.hasUnhealthyThreshold() ? "healthy_threshold" : "unhealthy_threshold"), "is required");
        }
        b.unhealthyThreshold(h.getUnhealthyThreshold().getValue()).healthyThreshold(h.getHealthyThreshold().getValue());
        return b.build();
    }

    private static byte[] payload(Ctx x, String path, HealthCheck.Payload p) {
        if (p.getPayloadCase() == HealthCheck.Payload.PayloadCase.BINARY) {
            return p.getBinary().toByteArray();
        }
        String hex = p.getText();
        if (hex.length() % 2 != 0 || !hex.matches("[0-9A-Fa-f]*")) {
            throw x.refuse(path + ".text", "'" + hex + "' is not hex");
        }
        byte[] out = new byte[hex.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }

    private static OutlierDetectionConfig outlierDetection(Ctx x, String path, OutlierDetection o) {
        x.only(o, path, "consecutive_gateway_failure", "enforcing_consecutive_gateway_failure", "base_ejection_time",
                "max_ejection_time", "max_ejection_percent");
        // The proxy ejects on gateway failures (connect failures, resets, 502-504) only, always
        // enforced: an enforcing percentage below 100 would need a detection-only mode it lacks.
        if (o.hasEnforcingConsecutiveGatewayFailure() && o.getEnforcingConsecutiveGatewayFailure().getValue() != 100) {
            x.refuse(path + "enforcing_consecutive_gateway_failure", o.getEnforcingConsecutiveGatewayFailure().getValue()
                    + " is not supported (only 100)");
        }
        return new OutlierDetectionConfig(
                o.hasConsecutiveGatewayFailure() ? o.getConsecutiveGatewayFailure().getValue() : OutlierDetectionConfig.DEFAULT_CONSECUTIVE_GATEWAY_FAILURE,
                o.hasBaseEjectionTime() ? duration(o.getBaseEjectionTime()) : OutlierDetectionConfig.DEFAULT_BASE_EJECTION_TIME,
                o.hasMaxEjectionTime() ? duration(o.getMaxEjectionTime()) : OutlierDetectionConfig.DEFAULT_MAX_EJECTION_TIME,
                o.hasMaxEjectionPercent() ? o.getMaxEjectionPercent().getValue() : OutlierDetectionConfig.DEFAULT_MAX_EJECTION_PERCENT);
    }

    private static CircuitBreakersConfig circuitBreakers(Ctx x, String path, CircuitBreakers cb) {
        x.only(cb, path, "thresholds");
        CircuitBreakersConfig d = CircuitBreakersConfig.DEFAULT;
        CircuitBreakersConfig out = d;
        for (int i = 0; i < cb.getThresholdsCount(); i++) {
            var t = cb.getThresholds(i);
            String tp = path + "thresholds[" + i + "].";
            x.only(t, tp, "priority", "max_connections", "max_pending_requests", "max_requests", "max_retries", "track_remaining");
            if (t.getPriority() != RoutingPriority.DEFAULT) {
                x.refuse(tp + "priority", t.getPriority() + " is not supported (only DEFAULT)");
            }
            out = new CircuitBreakersConfig(
                    t.hasMaxConnections() ? t.getMaxConnections().getValue() : d.maxConnections(),
                    t.hasMaxPendingRequests() ? t.getMaxPendingRequests().getValue() : d.maxPendingRequests(),
                    t.hasMaxRequests() ? t.getMaxRequests().getValue() : d.maxRequests(),
                    t.hasMaxRetries() ? t.getMaxRetries().getValue() : d.maxRetries());
        }
        return out;
    }

    private static TlsClientConfig upstreamTls(Ctx x, String path, TransportSocket ts) {
        x.only(ts, path, "name", "typed_config");
        UpstreamTlsContext u = unpack(x, path + "typed_config", ts.getTypedConfig(), UpstreamTlsContext.class);
        x.only(u, path + "typed_config.", "sni", "common_tls_context");
        CommonTlsContext c = u.getCommonTlsContext();
        String cp = path + "typed_config.common_tls_context.";
        x.only(c, cp, "tls_certificates", "validation_context", "alpn_protocols");
        List<CertificateFiles> certs = certificates(x, cp, c);
        if (certs.size() > 1) {
            x.refuse(cp + "tls_certificates", "has " + certs.size() + " certificates; a cluster sends at most one");
        }
        String ca = null;
        List<SanMatcher> sans = List.of();
        if (c.hasValidationContext()) {
            CertificateValidationContext v = c.getValidationContext();
            x.only(v, cp + "validation_context.", "trusted_ca", "match_typed_subject_alt_names");
            ca = v.hasTrustedCa() ? file(x, cp + "validation_context.trusted_ca", v.getTrustedCa()) : null;
            sans = sanMatchers(x, cp + "validation_context.match_typed_subject_alt_names", v.getMatchTypedSubjectAltNamesList());
        }
        return new TlsClientConfig(u.getSni().isEmpty() ? null : u.getSni(), ca, sans, certs.isEmpty() ? null : certs.get(0),
                c.getAlpnProtocolsList());
    }

    private static List<CertificateFiles> certificates(Ctx x, String cp, CommonTlsContext c) {
        List<CertificateFiles> certs = new ArrayList<>();
        for (int i = 0; i < c.getTlsCertificatesCount(); i++) {
            TlsCertificate t = c.getTlsCertificates(i);
            String tp = cp + "tls_certificates[" + i + "].";
            x.only(t, tp, "certificate_chain", "private_key");
            certs.add(new CertificateFiles(file(x, tp + "certificate_chain", t.getCertificateChain()),
                    file(x, tp + "private_key", t.getPrivateKey())));
        }
        return certs;
    }

    private static List<SanMatcher> sanMatchers(Ctx x, String path, List<SubjectAltNameMatcher> matchers) {
        List<SanMatcher> out = new ArrayList<>();
        for (int i = 0; i < matchers.size(); i++) {
            StringMatcher m = matchers.get(i).getMatcher();
            String mp = path + "[" + i + "].matcher";
            x.only(m, mp + ".", "exact", "prefix");
            out.add(switch (m.getMatchPatternCase()) {
                case EXACT -> SanMatcher.exact(m.getExact());
                case PREFIX -> SanMatcher.prefix(m.getPrefix());
                default -> throw x.refuse(mp, "needs exact or prefix");
            });
        }
        return out;
    }

    /** TLS material is read from files the proxy watches and reloads; inline bytes and SDS are not supported. */
    private static String file(Ctx x, String path, DataSource d) {
        if (d.getSpecifierCase() != DataSource.SpecifierCase.FILENAME) {
            throw x.refuse(path, "must be a filename (inline bytes, inline strings and environment variables are not supported)");
        }
        return d.getFilename();
    }

    // ------------------------------------------------------------------ endpoints

    /** The endpoints of an EDS ClusterLoadAssignment. */
    public static List<EndpointConfig> endpoints(ClusterLoadAssignment cla) {
        return endpoints(new Ctx("cluster_load_assignment '" + cla.getClusterName() + "'"), "", cla);
    }

    private static List<EndpointConfig> endpoints(Ctx x, String path, ClusterLoadAssignment cla) {
        x.only(cla, path, "cluster_name", "endpoints", "policy");
        if (cla.hasPolicy()) {
            var p = cla.getPolicy();
            x.only(p, path + "policy.", "overprovisioning_factor");
            // the priority spill-over is built on Envoy's default factor, 1.4
            if (p.hasOverprovisioningFactor() && p.getOverprovisioningFactor().getValue() != 140) {
                x.refuse(path + "policy.overprovisioning_factor", p.getOverprovisioningFactor().getValue() + " is not supported (only 140)");
            }
        }
        List<EndpointConfig> out = new ArrayList<>();
        for (int i = 0; i < cla.getEndpointsCount(); i++) {
            LocalityLbEndpoints l = cla.getEndpoints(i);
            String lp = path + "endpoints[" + i + "].";
            // locality and its weight are labels here: Envoy too ignores locality weights unless
            // the cluster turns on locality-weighted balancing, which the proxy does not offer
            x.only(l, lp, "locality", "lb_endpoints", "load_balancing_weight", "priority");
            for (int j = 0; j < l.getLbEndpointsCount(); j++) {
                LbEndpoint e = l.getLbEndpoints(j);
                String ep = lp + "lb_endpoints[" + j + "].";
                x.only(e, ep, "endpoint", "health_status", "load_balancing_weight", "metadata");
                x.only(e.getEndpoint(), ep + "endpoint.", "address", "hostname");
                HostPort address = socketAddress(x, ep + "endpoint.address", e.getEndpoint().getAddress());
                int weight = e.hasLoadBalancingWeight() ? e.getLoadBalancingWeight().getValue() : EndpointConfig.DEFAULT_WEIGHT;
                out.add(new EndpointConfig(address, weight, l.getPriority(), healthStatus(x, ep + "health_status", e.getHealthStatus())));
            }
        }
        return out;
    }

    private static HealthStatus healthStatus(Ctx x, String path, io.envoyproxy.envoy.config.core.v3.HealthStatus s) {
        return switch (s) {
            case UNKNOWN -> HealthStatus.UNKNOWN;
            case HEALTHY -> HealthStatus.HEALTHY;
            case UNHEALTHY -> HealthStatus.UNHEALTHY;
            case DRAINING -> HealthStatus.DRAINING;
            case TIMEOUT -> HealthStatus.TIMEOUT;
            case DEGRADED -> HealthStatus.DEGRADED;
            default -> throw x.refuse(path, s + " is not a known health status");
        };
    }

    private static HostPort socketAddress(Ctx x, String path, Address a) {
        if (a.getAddressCase() != Address.AddressCase.SOCKET_ADDRESS) {
            throw x.refuse(path, "must be a socket_address (pipes and internal addresses are not supported)");
        }
        SocketAddress s = a.getSocketAddress();
        x.only(s, path + ".socket_address.", "address", "port_value", "protocol");
        if (s.getProtocol() != SocketAddress.Protocol.TCP) {
            x.refuse(path + ".socket_address.protocol", s.getProtocol() + " is not supported (only TCP)");
        }
        if (s.getAddress().isEmpty()) {
            x.refuse(path + ".socket_address.address", "is required");
        }
        return new HostPort(s.getAddress(), s.getPortValue());
    }

    // ------------------------------------------------------------------ listeners

    /**
     * A listener. An HTTP listener whose routes come over RDS has {@code rdsName} set and no
     * route config yet: the caller completes it with {@link ListenerConfig#withRouteConfig}.
     */
    public record TranslatedListener(ListenerConfig config, String rdsName) {}

    public static TranslatedListener listener(Listener l) {
        Ctx x = new Ctx("listener '" + l.getName() + "'");
        x.only(l, "", "name", "address", "filter_chains", "listener_filters", "stat_prefix", "metadata");
        HostPort address = socketAddress(x, "address", l.getAddress());
        boolean proxyProtocol = false;
        boolean originalDst = false;
        for (int i = 0; i < l.getListenerFiltersCount(); i++) {
            ListenerFilter f = l.getListenerFilters(i);
            String lp = "listener_filters[" + i + "]";
            if (f.getTypedConfig().is(ProxyProtocol.class) || f.getName().equals("envoy.filters.listener.proxy_protocol")) {
                // every connection must open with a PROXY v1 or v2 header
                if (f.hasTypedConfig()) {
                    x.only(unpack(x, lp + ".typed_config", f.getTypedConfig(), ProxyProtocol.class), lp + ".typed_config.", "stat_prefix");
                }
                proxyProtocol = true;
            } else if (f.getTypedConfig().is(OriginalDst.class) || f.getName().equals("envoy.filters.listener.original_dst")) {
                if (f.hasTypedConfig()) {
                    x.only(unpack(x, lp + ".typed_config", f.getTypedConfig(), OriginalDst.class), lp + ".typed_config.");
                }
                originalDst = true;
            } else if (!f.getName().equals("envoy.filters.listener.tls_inspector") && !f.getName().equals("envoy.filters.listener.http_inspector")) {
                // the proxy sniffs TLS and HTTP on its own; these filters ask for nothing more
                x.refuse(lp, "'" + f.getName() + "' is not supported");
            }
        }
        if (l.getFilterChainsCount() != 1) {
            x.refuse("filter_chains", "has " + l.getFilterChainsCount() + " filter chains; exactly one is supported");
        }
        FilterChain fc = l.getFilterChains(0);
        x.only(fc, "filter_chains[0].", "filters", "transport_socket", "name", "metadata");
        TlsServerConfig tls = fc.hasTransportSocket() ? downstreamTls(x, "filter_chains[0].transport_socket.", fc.getTransportSocket()) : null;
        if (fc.getFiltersCount() != 1) {
            x.refuse("filter_chains[0].filters", "has " + fc.getFiltersCount()
                    + " filters; exactly one is supported (envoy.filters.network.tcp_proxy or http_connection_manager)");
        }
        Filter f = fc.getFilters(0);
        String fp = "filter_chains[0].filters[0].typed_config";
        Any any = f.getTypedConfig();
        if (any.is(TcpProxy.class)) {
            TcpProxy t = unpack(x, fp, any, TcpProxy.class);
            x.only(t, fp + ".", "stat_prefix", "cluster", "idle_timeout", "max_connect_attempts", "hash_policy");
            ListenerConfig.Builder b = ListenerConfig.builder(l.getName(), address, t.getCluster()).protocol(ListenerProtocol.TCP).tls(tls)
                    .proxyProtocol(proxyProtocol).originalDestination(originalDst);
            if (t.getCluster().isEmpty()) {
                x.refuse(fp + ".cluster", "is required (weighted_clusters is not supported)");
            }
            if (t.hasIdleTimeout()) {
                b.idleTimeout(duration(t.getIdleTimeout()));
            }
            if (t.hasMaxConnectAttempts()) {
                b.maxConnectAttempts(t.getMaxConnectAttempts().getValue());
            }
            List<HashPolicy> hp = new ArrayList<>();
            for (int i = 0; i < t.getHashPolicyCount(); i++) {
                var h = t.getHashPolicy(i);
                x.only(h, fp + ".hash_policy[" + i + "].", "source_ip");
                hp.add(new HashPolicy.SourceIp());
            }
            return new TranslatedListener(b.hashPolicy(hp).build(), null);
        }
        if (any.is(HttpConnectionManager.class)) {
            HttpConnectionManager h = unpack(x, fp, any, HttpConnectionManager.class);
            x.only(h, fp + ".", "stat_prefix", "codec_type", "rds", "route_config", "http_filters", "stream_idle_timeout",
                    "request_headers_timeout", "generate_request_id", "common_http_protocol_options");
            if (h.getCodecType() != HttpConnectionManager.CodecType.AUTO) {
                x.refuse(fp + ".codec_type", h.getCodecType() + " is not supported (only AUTO: HTTP/1.1 and HTTP/2 on one port)");
            }
            for (int i = 0; i < h.getHttpFiltersCount(); i++) {
                HttpFilter hf = h.getHttpFilters(i);
                if (!hf.getTypedConfig().is(Router.class) || i != h.getHttpFiltersCount() - 1) {
                    x.refuse(fp + ".http_filters[" + i + "]", "'" + hf.getName() + "' is not supported (only the router, last)");
                }
                x.only(unpack(x, fp + ".http_filters[" + i + "].typed_config", hf.getTypedConfig(), Router.class),
                        fp + ".http_filters[" + i + "].typed_config.");
            }
            HttpSettings d = HttpSettings.DEFAULT;
            HttpSettings http = new HttpSettings(d.bufferLimit(), d.maxConcurrentStreams(), d.initialStreamWindow(),
                    d.initialConnectionWindow(), d.maxHeaderListSize(), d.maxHeaders(), d.maxUriLength(), d.maxResetsPerWindow(),
                    d.resetWindow(), d.maxContinuationFrames(), d.maxQueuedControlFrames(), d.maxConsecutiveEmptyFrames(),
                    h.hasRequestHeadersTimeout() ? duration(h.getRequestHeadersTimeout()) : d.requestHeadersTimeout(),
                    h.hasStreamIdleTimeout() ? duration(h.getStreamIdleTimeout()) : d.streamIdleTimeout(),
                    d.routeTimeout(),
                    h.hasGenerateRequestId() ? h.getGenerateRequestId().getValue() : d.generateRequestId());
            if (originalDst) {
                x.refuse("listener_filters", "envoy.filters.listener.original_dst is only supported with tcp_proxy");
            }
            ListenerConfig.Builder b = ListenerConfig.builder(l.getName(), address, "").protocol(ListenerProtocol.HTTP).tls(tls).http(http)
                    .proxyProtocol(proxyProtocol);
            if (h.hasCommonHttpProtocolOptions()) {
                x.only(h.getCommonHttpProtocolOptions(), fp + ".common_http_protocol_options.", "idle_timeout");
                b.idleTimeout(duration(h.getCommonHttpProtocolOptions().getIdleTimeout()));
            }
            switch (h.getRouteSpecifierCase()) {
                case RDS -> {
                    x.only(h.getRds(), fp + ".rds.", "route_config_name", "config_source");
                    if (h.getRds().hasConfigSource()) {
                        ads(x, fp + ".rds.config_source", h.getRds().getConfigSource());
                    }
                    if (h.getRds().getRouteConfigName().isEmpty()) {
                        x.refuse(fp + ".rds.route_config_name", "is required");
                    }
                    return new TranslatedListener(b.build(), h.getRds().getRouteConfigName());
                }
                case ROUTE_CONFIG -> {
                    return new TranslatedListener(b.routeConfig(routeConfig(x, fp + ".route_config.", h.getRouteConfig())).build(), null);
                }
                default -> throw x.refuse(fp, "needs rds or route_config (scoped_routes is not supported)");
            }
        }
        throw x.refuse(fp, "'" + f.getName() + "' (" + any.getTypeUrl() + ") is not supported"
                + " (only envoy.filters.network.tcp_proxy and envoy.filters.network.http_connection_manager)");
    }

    private static TlsServerConfig downstreamTls(Ctx x, String path, TransportSocket ts) {
        x.only(ts, path, "name", "typed_config");
        DownstreamTlsContext d = unpack(x, path + "typed_config", ts.getTypedConfig(), DownstreamTlsContext.class);
        x.only(d, path + "typed_config.", "common_tls_context", "require_client_certificate",
                "disable_stateless_session_resumption", "disable_stateful_session_resumption");
        // resumption is one switch here: tickets and the session cache go off together
        boolean resumption = !d.getDisableStatelessSessionResumption();
        if (d.getDisableStatefulSessionResumption() == resumption) {
            throw x.refuse(path + "typed_config.disable_stateful_session_resumption", "must equal disable_stateless_session_resumption:"
                    + " session resumption (tickets and the session cache) is turned off as a whole or not at all");
        }
        CommonTlsContext c = d.getCommonTlsContext();
        String cp = path + "typed_config.common_tls_context.";
        x.only(c, cp, "tls_certificates", "validation_context", "alpn_protocols", "tls_params");
        TlsVersion min = TlsVersion.TLS_1_2;
        TlsVersion max = TlsVersion.TLS_1_3;
        List<String> ciphers = List.of();
        if (c.hasTlsParams()) {
            TlsParameters p = c.getTlsParams();
            x.only(p, cp + "tls_params.", "tls_minimum_protocol_version", "tls_maximum_protocol_version", "cipher_suites");
            min = tlsVersion(x, cp + "tls_params.tls_minimum_protocol_version", p.getTlsMinimumProtocolVersion(), TlsVersion.TLS_1_2);
            max = tlsVersion(x, cp + "tls_params.tls_maximum_protocol_version", p.getTlsMaximumProtocolVersion(), TlsVersion.TLS_1_3);
            ciphers = p.getCipherSuitesList();
        }
        TlsServerConfig.ClientValidation cv = null;
        if (c.hasValidationContext()) {
            CertificateValidationContext v = c.getValidationContext();
            x.only(v, cp + "validation_context.", "trusted_ca", "match_typed_subject_alt_names");
            cv = new TlsServerConfig.ClientValidation(file(x, cp + "validation_context.trusted_ca", v.getTrustedCa()),
                    d.hasRequireClientCertificate() ? d.getRequireClientCertificate().getValue() : true,
                    sanMatchers(x, cp + "validation_context.match_typed_subject_alt_names", v.getMatchTypedSubjectAltNamesList()));
        }
        return new TlsServerConfig(certificates(x, cp, c), c.getAlpnProtocolsList(), min, max, ciphers, cv, resumption);
    }

    private static TlsVersion tlsVersion(Ctx x, String path, TlsParameters.TlsProtocol p, TlsVersion dflt) {
        return switch (p) {
            case TLS_AUTO -> dflt;
            case TLSv1_2 -> TlsVersion.TLS_1_2;
            case TLSv1_3 -> TlsVersion.TLS_1_3;
            default -> throw x.refuse(path, p + " is not supported (TLSv1_2 or TLSv1_3)");
        };
    }

    /** The proxy takes every resource over its one ADS stream. */
    private static void ads(Ctx x, String path, ConfigSource s) {
        if (s.getConfigSourceSpecifierCase() != ConfigSource.ConfigSourceSpecifierCase.ADS) {
            x.refuse(path, "must be ads (resources come over the one aggregated stream)");
        }
        x.only(s, path + ".", "ads", "resource_api_version", "initial_fetch_timeout");
    }

    // ------------------------------------------------------------------ routes

    public static RouteConfig routeConfig(RouteConfiguration rc) {
        return routeConfig(new Ctx("route_configuration '" + rc.getName() + "'"), "", rc);
    }

    private static RouteConfig routeConfig(Ctx x, String path, RouteConfiguration rc) {
        x.only(rc, path, "name", "virtual_hosts");
        List<RouteConfig.VirtualHost> hosts = new ArrayList<>();
        for (int i = 0; i < rc.getVirtualHostsCount(); i++) {
            VirtualHost vh = rc.getVirtualHosts(i);
            String vp = path + "virtual_hosts[" + i + "].";
            x.only(vh, vp, "name", "domains", "routes", "request_headers_to_add", "request_headers_to_remove", "response_headers_to_add",
                    "response_headers_to_remove");
            List<RouteConfig.Route> routes = new ArrayList<>();
            for (int j = 0; j < vh.getRoutesCount(); j++) {
                routes.add(route(x, vp + "routes[" + j + "].", vh.getRoutes(j), j));
            }
            hosts.add(new RouteConfig.VirtualHost(vh.getName(), vh.getDomainsList(), routes,
                    mutations(x, vp, vh.getRequestHeadersToAddList(), vh.getRequestHeadersToRemoveList(), vh.getResponseHeadersToAddList(),
                            vh.getResponseHeadersToRemoveList()), null));
        }
        return new RouteConfig(hosts);
    }

    private static RouteConfig.Route route(Ctx x, String path, Route r, int index) {
        x.only(r, path, "name", "match", "route", "redirect", "direct_response", "request_headers_to_add", "request_headers_to_remove",
                "response_headers_to_add", "response_headers_to_remove");
        RouteConfig.Action action = switch (r.getActionCase()) {
            case ROUTE -> forward(x, path + "route.", r.getRoute());
            case REDIRECT -> redirect(x, path + "redirect.", r.getRedirect());
            case DIRECT_RESPONSE -> directResponse(x, path + "direct_response.", r.getDirectResponse());
            default -> throw x.refuse(path + "action", "needs route, redirect or direct_response");
        };
        return new RouteConfig.Route(r.getName().isEmpty() ? "route-" + index : r.getName(), match(x, path + "match.", r.getMatch()), action,
                mutations(x, path, r.getRequestHeadersToAddList(), r.getRequestHeadersToRemoveList(), r.getResponseHeadersToAddList(),
                        r.getResponseHeadersToRemoveList()), null);
    }

    private static RouteConfig.Match match(Ctx x, String path, RouteMatch m) {
        x.only(m, path, "prefix", "path", "safe_regex", "headers", "query_parameters", "case_sensitive");
        if (m.hasCaseSensitive() && !m.getCaseSensitive().getValue()) {
            x.refuse(path + "case_sensitive", "false is not supported (paths match case-sensitively)");
        }
        RouteConfig.PathMatch p = switch (m.getPathSpecifierCase()) {
            case PREFIX -> new RouteConfig.PathMatch(RouteConfig.PathMatch.Kind.PREFIX, m.getPrefix().isEmpty() ? "/" : m.getPrefix());
            case PATH -> new RouteConfig.PathMatch(RouteConfig.PathMatch.Kind.EXACT, m.getPath());
            case SAFE_REGEX -> {
                x.only(m.getSafeRegex(), path + "safe_regex.", "regex", "google_re2");
                yield new RouteConfig.PathMatch(RouteConfig.PathMatch.Kind.REGEX, m.getSafeRegex().getRegex());
            }
            default -> throw x.refuse(path + "path_specifier", "needs prefix, path or safe_regex");
        };
        List<RouteConfig.HeaderMatcher> headers = new ArrayList<>();
        for (int i = 0; i < m.getHeadersCount(); i++) {
            headers.add(headerMatcher(x, path + "headers[" + i + "].", m.getHeaders(i)));
        }
        List<RouteConfig.QueryMatcher> query = new ArrayList<>();
        for (int i = 0; i < m.getQueryParametersCount(); i++) {
            QueryParameterMatcher q = m.getQueryParameters(i);
            String qp = path + "query_parameters[" + i + "].";
            x.only(q, qp, "name", "string_match", "present_match");
            if (q.hasPresentMatch()) {
                query.add(new RouteConfig.QueryMatcher(q.getName(), RouteConfig.HeaderMatcher.Kind.PRESENT, ""));
            } else {
                StringMatcher s = q.getStringMatch();
                x.only(s, qp + "string_match.", "exact", "safe_regex");
                query.add(s.hasSafeRegex()
                        ? new RouteConfig.QueryMatcher(q.getName(), RouteConfig.HeaderMatcher.Kind.REGEX, s.getSafeRegex().getRegex())
                        : new RouteConfig.QueryMatcher(q.getName(), RouteConfig.HeaderMatcher.Kind.EXACT, s.getExact()));
            }
        }
        return new RouteConfig.Match(p, headers, query);
    }

    @SuppressWarnings("deprecation")
    private static RouteConfig.HeaderMatcher headerMatcher(Ctx x, String path, HeaderMatcher h) {
        x.only(h, path, "name", "exact_match", "prefix_match", "present_match", "safe_regex_match", "string_match", "invert_match");
        String name = h.getName();
        boolean invert = h.getInvertMatch();
        return switch (h.getHeaderMatchSpecifierCase()) {
            case EXACT_MATCH -> new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.EXACT, h.getExactMatch(), invert);
            case PREFIX_MATCH -> new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.PREFIX, h.getPrefixMatch(), invert);
            case PRESENT_MATCH -> new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.PRESENT, "",
                    invert != !h.getPresentMatch());
            case SAFE_REGEX_MATCH -> new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.REGEX, h.getSafeRegexMatch().getRegex(),
                    invert);
            case STRING_MATCH -> {
                StringMatcher s = h.getStringMatch();
                x.only(s, path + "string_match.", "exact", "prefix", "safe_regex");
                yield switch (s.getMatchPatternCase()) {
                    case EXACT -> new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.EXACT, s.getExact(), invert);
                    case PREFIX -> new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.PREFIX, s.getPrefix(), invert);
                    default -> new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.REGEX, s.getSafeRegex().getRegex(), invert);
                };
            }
            default -> new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.PRESENT, "", invert);
        };
    }

    private static RouteConfig.Forward forward(Ctx x, String path, RouteAction a) {
        x.only(a, path, "cluster", "weighted_clusters", "timeout", "retry_policy", "hash_policy", "prefix_rewrite", "host_rewrite_literal");
        List<RouteConfig.WeightedCluster> clusters = new ArrayList<>();
        switch (a.getClusterSpecifierCase()) {
            case CLUSTER -> clusters.add(new RouteConfig.WeightedCluster(a.getCluster(), 1));
            case WEIGHTED_CLUSTERS -> {
                WeightedCluster w = a.getWeightedClusters();
                x.only(w, path + "weighted_clusters.", "clusters", "total_weight");
                for (int i = 0; i < w.getClustersCount(); i++) {
                    var cw = w.getClusters(i);
                    x.only(cw, path + "weighted_clusters.clusters[" + i + "].", "name", "weight");
                    clusters.add(new RouteConfig.WeightedCluster(cw.getName(), cw.getWeight().getValue()));
                }
            }
            default -> x.refuse(path + "cluster_specifier", "needs cluster or weighted_clusters");
        }
        RouteConfig.RetryPolicy retry = null;
        if (a.hasRetryPolicy()) {
            var r = a.getRetryPolicy();
            String rp = path + "retry_policy.";
            x.only(r, rp, "retry_on", "num_retries", "per_try_timeout", "retry_back_off", "retriable_status_codes");
            Set<RouteConfig.RetryOn> on = EnumSet.noneOf(RouteConfig.RetryOn.class);
            for (String cond : r.getRetryOn().split(",")) {
                String c = cond.strip().toLowerCase(Locale.ROOT);
                if (c.isEmpty()) {
                    continue;
                }
                RouteConfig.RetryOn found = null;
                for (RouteConfig.RetryOn o : RouteConfig.RetryOn.values()) {
                    if (o.configName().equals(c)) {
                        found = o;
                    }
                }
                if (found == null) {
                    x.refuse(rp + "retry_on", "'" + c + "' is not supported");
                }
                on.add(found);
            }
            Duration base = RouteConfig.RetryPolicy.DEFAULT_BASE_INTERVAL;
            Duration max = null;
            if (r.hasRetryBackOff()) {
                x.only(r.getRetryBackOff(), rp + "retry_back_off.", "base_interval", "max_interval");
                base = duration(r.getRetryBackOff().getBaseInterval());
                if (r.getRetryBackOff().hasMaxInterval()) {
                    max = duration(r.getRetryBackOff().getMaxInterval());
                }
            }
            retry = new RouteConfig.RetryPolicy(on, r.hasNumRetries() ? r.getNumRetries().getValue() : 1,
                    r.hasPerTryTimeout() ? duration(r.getPerTryTimeout()) : Duration.ZERO, base, max == null ? base.multipliedBy(10) : max,
                    r.getRetriableStatusCodesList());
        }
        List<HashPolicy> hash = new ArrayList<>();
        for (int i = 0; i < a.getHashPolicyCount(); i++) {
            var h = a.getHashPolicy(i);
            String hp = path + "hash_policy[" + i + "].";
            x.only(h, hp, "header", "cookie", "connection_properties", "query_parameter");
            hash.add(switch (h.getPolicySpecifierCase()) {
                case HEADER -> {
                    x.only(h.getHeader(), hp + "header.", "header_name");
                    yield new HashPolicy.Header(h.getHeader().getHeaderName());
                }
                case COOKIE -> {
                    x.only(h.getCookie(), hp + "cookie.", "name", "ttl", "path");
                    yield new HashPolicy.Cookie(h.getCookie().getName(), h.getCookie().hasTtl() ? duration(h.getCookie().getTtl()) : null,
                            h.getCookie().getPath().isEmpty() ? null : h.getCookie().getPath());
                }
                case CONNECTION_PROPERTIES -> new HashPolicy.SourceIp();
                case QUERY_PARAMETER -> new HashPolicy.QueryParameter(h.getQueryParameter().getName());
                default -> throw x.refuse(hp + "policy_specifier", "needs header, cookie, connection_properties or query_parameter");
            });
        }
        return new RouteConfig.Forward(clusters, a.hasTimeout() ? duration(a.getTimeout()) : null, retry, hash,
                a.getPrefixRewrite().isEmpty() ? null : a.getPrefixRewrite(),
                a.getHostRewriteLiteral().isEmpty() ? null : a.getHostRewriteLiteral());
    }

    private static RouteConfig.Redirect redirect(Ctx x, String path, RedirectAction r) {
        x.only(r, path, "scheme_redirect", "host_redirect", "port_redirect", "path_redirect", "prefix_rewrite", "response_code",
                "strip_query");
        int code = switch (r.getResponseCode()) {
            case MOVED_PERMANENTLY -> 301;
            case FOUND -> 302;
            case SEE_OTHER -> 303;
            case TEMPORARY_REDIRECT -> 307;
            case PERMANENT_REDIRECT -> 308;
            default -> throw x.refuse(path + "response_code", r.getResponseCode() + " is not supported");
        };
        return new RouteConfig.Redirect(r.getSchemeRedirect().isEmpty() ? null : r.getSchemeRedirect(),
                r.getHostRedirect().isEmpty() ? null : r.getHostRedirect(), r.getPortRedirect(),
                r.getPathRedirect().isEmpty() ? null : r.getPathRedirect(), r.getPrefixRewrite().isEmpty() ? null : r.getPrefixRewrite(),
                code, r.getStripQuery());
    }

    private static RouteConfig.DirectResponse directResponse(Ctx x, String path, DirectResponseAction d) {
        x.only(d, path, "status", "body");
        String body = "";
        if (d.hasBody()) {
            if (d.getBody().getSpecifierCase() != DataSource.SpecifierCase.INLINE_STRING) {
                x.refuse(path + "body", "must be an inline_string");
            }
            body = d.getBody().getInlineString();
        }
        return new RouteConfig.DirectResponse(d.getStatus(), body);
    }

    private static RouteConfig.HeaderMutations mutations(Ctx x, String path, List<HeaderValueOption> reqAdd, List<String> reqRemove,
                                                         List<HeaderValueOption> respAdd, List<String> respRemove) {
        return new RouteConfig.HeaderMutations(headerValues(x, path + "request_headers_to_add", reqAdd), reqRemove,
                headerValues(x, path + "response_headers_to_add", respAdd), respRemove);
    }

    @SuppressWarnings("deprecation")
    private static List<RouteConfig.HeaderValue> headerValues(Ctx x, String path, List<HeaderValueOption> options) {
        List<RouteConfig.HeaderValue> out = new ArrayList<>();
        for (int i = 0; i < options.size(); i++) {
            HeaderValueOption o = options.get(i);
            String p = path + "[" + i + "].";
            x.only(o, p, "header", "append", "append_action");
            x.only(o.getHeader(), p + "header.", "key", "value");
            boolean append = switch (o.getAppendAction()) {
                case APPEND_IF_EXISTS_OR_ADD -> true;
                case OVERWRITE_IF_EXISTS_OR_ADD -> false;
                default -> throw x.refuse(p + "append_action", o.getAppendAction() + " is not supported");
            };
            if (o.hasAppend()) {
                append = o.getAppend().getValue();
            }
            out.add(new RouteConfig.HeaderValue(o.getHeader().getKey(), o.getHeader().getValue(), append));
        }
        return out;
    }

    // ------------------------------------------------------------------ helpers

    static Duration duration(com.google.protobuf.Duration d) {
        return Duration.ofSeconds(d.getSeconds(), d.getNanos());
    }

    private static <T extends Message> T unpack(Ctx x, String path, Any any, Class<T> type) {
        try {
            return any.unpack(type);
        } catch (InvalidProtocolBufferException e) {
            throw x.refuse(path, "is a " + any.getTypeUrl() + ", not what this field takes here (" + e.getMessage() + ")");
        }
    }

    /** The resource being translated, for error messages. */
    private static final class Ctx {
        private final String what;

        Ctx(String what) {
            this.what = what;
        }

        Refusal refuse(String path, String message) {
            throw new Refusal(what + ": " + path + " " + message);
        }

        /** Refuses the first field set in {@code m} that is not one of {@code allowed}. */
        void only(Message m, String prefix, String... allowed) {
            Set<String> ok = new HashSet<>(List.of(allowed));
            for (FieldDescriptor f : m.getAllFields().keySet()) {
                if (!ok.contains(f.getName())) {
                    refuse(prefix + f.getName(), "is not supported");
                }
            }
        }
    }
}
