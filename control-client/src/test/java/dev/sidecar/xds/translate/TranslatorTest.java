package dev.sidecar.xds.translate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.BoolValue;
import com.google.protobuf.Duration;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.UInt64Value;
import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.HashPolicy;
import dev.sidecar.config.HealthCheckConfig;
import dev.sidecar.config.HealthStatus;
import dev.sidecar.config.HostPort;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ListenerProtocol;
import dev.sidecar.config.RouteConfig;
import dev.sidecar.config.SanMatcher;
import dev.sidecar.config.TlsVersion;
import dev.sidecar.config.UpstreamProtocol;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.HealthCheck;
import io.envoyproxy.envoy.config.core.v3.Http2ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.FilterChainMatch;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.DirectResponseAction;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.RedirectAction;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
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
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.envoyproxy.envoy.type.v3.Percent;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TranslatorTest {
    private static Duration seconds(long s) {
        return Duration.newBuilder().setSeconds(s).build();
    }

    private static Duration millis(long ms) {
        return Duration.newBuilder().setNanos((int) (ms * 1_000_000)).build();
    }

    private static Address address(String host, int port) {
        return Address.newBuilder().setSocketAddress(SocketAddress.newBuilder().setAddress(host).setPortValue(port)).build();
    }

    private static DataSource file(String f) {
        return DataSource.newBuilder().setFilename(f).build();
    }

    private static String refusal(Runnable r) {
        return assertThrows(Refusal.class, r::run).getMessage();
    }

    // ---- clusters

    @Test
    void an_eds_cluster_with_balancing_health_outlier_and_limits() {
        Cluster c = Cluster.newBuilder().setName("api").setType(Cluster.DiscoveryType.EDS)
                .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setServiceName("api-eds"))
                .setConnectTimeout(millis(250))
                .setLbPolicy(Cluster.LbPolicy.RING_HASH)
                .setRingHashLbConfig(Cluster.RingHashLbConfig.newBuilder().setMinimumRingSize(UInt64Value.of(2048))
                        .setMaximumRingSize(UInt64Value.of(4096)))
                .setCommonLbConfig(Cluster.CommonLbConfig.newBuilder().setHealthyPanicThreshold(Percent.newBuilder().setValue(30))
                        .setConsistentHashingLbConfig(Cluster.CommonLbConfig.ConsistentHashingLbConfig.newBuilder()
                                .setHashBalanceFactor(UInt32Value.of(150))))
                .addHealthChecks(HealthCheck.newBuilder().setTimeout(seconds(1)).setInterval(seconds(2))
                        .setUnhealthyThreshold(UInt32Value.of(3)).setHealthyThreshold(UInt32Value.of(2))
                        .setNoTrafficInterval(seconds(30))
                        .setHttpHealthCheck(HealthCheck.HttpHealthCheck.newBuilder().setPath("/healthz").setHost("api")
                                .addExpectedStatuses(io.envoyproxy.envoy.type.v3.Int64Range.newBuilder().setStart(200).setEnd(300))))
                .setOutlierDetection(OutlierDetection.newBuilder().setConsecutiveGatewayFailure(UInt32Value.of(4))
                        .setBaseEjectionTime(seconds(10)).setMaxEjectionPercent(UInt32Value.of(50)))
                .setCircuitBreakers(CircuitBreakers.newBuilder().addThresholds(CircuitBreakers.Thresholds.newBuilder()
                        .setMaxConnections(UInt32Value.of(10)).setMaxRetries(UInt32Value.of(1))))
                .build();
        Translator.TranslatedCluster t = Translator.cluster(c);
        assertEquals("api-eds", t.edsName());
        ClusterConfig cc = t.config();
        assertEquals(LbPolicy.RING_HASH, cc.lbPolicy());
        assertEquals(java.time.Duration.ofMillis(250), cc.connectTimeout());
        assertEquals(2048, cc.lbSettings().minimumRingSize());
        assertEquals(4096, cc.lbSettings().maximumRingSize());
        assertEquals(150, cc.lbSettings().hashBalanceFactor());
        assertEquals(30, cc.lbSettings().healthyPanicThreshold());
        HealthCheckConfig h = cc.healthChecks().get(0);
        assertEquals(new HealthCheckConfig.Http("/healthz", "api", List.of(new HealthCheckConfig.StatusRange(200, 299))), h.kind());
        assertEquals(java.time.Duration.ofSeconds(2), h.interval());
        assertEquals(java.time.Duration.ofSeconds(30), h.noTrafficInterval());
        assertEquals(4, cc.outlierDetection().consecutiveGatewayFailure());
        assertEquals(50, cc.outlierDetection().maxEjectionPercent());
        assertEquals(10, cc.circuitBreakers().maxConnections());
        assertEquals(1, cc.circuitBreakers().maxRetries());
        assertEquals(1024, cc.circuitBreakers().maxRequests());
    }

    @Test
    void a_static_cluster_with_endpoints_tls_and_h2() {
        UpstreamTlsContext tls = UpstreamTlsContext.newBuilder().setSni("api.internal").setCommonTlsContext(CommonTlsContext.newBuilder()
                .setValidationContext(CertificateValidationContext.newBuilder().setTrustedCa(file("/ca.pem"))
                        .addMatchTypedSubjectAltNames(SubjectAltNameMatcher.newBuilder()
                                .setMatcher(StringMatcher.newBuilder().setPrefix("spiffe://x/"))))
                .addAlpnProtocols("h2")).build();
        Cluster c = Cluster.newBuilder().setName("s").setType(Cluster.DiscoveryType.STATIC).setLbPolicy(Cluster.LbPolicy.MAGLEV)
                .setMaglevLbConfig(Cluster.MaglevLbConfig.newBuilder().setTableSize(UInt64Value.of(131071)))
                .setLoadAssignment(ClusterLoadAssignment.newBuilder().setClusterName("s").addEndpoints(LocalityLbEndpoints.newBuilder()
                        .addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(Endpoint.newBuilder().setAddress(address("10.0.0.1", 80))))))
                .setTransportSocket(TransportSocket.newBuilder().setName("envoy.transport_sockets.tls").setTypedConfig(Any.pack(tls)))
                .putTypedExtensionProtocolOptions("envoy.extensions.upstreams.http.v3.HttpProtocolOptions", Any.pack(HttpProtocolOptions.newBuilder()
                        .setExplicitHttpConfig(HttpProtocolOptions.ExplicitHttpConfig.newBuilder()
                                .setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance())).build()))
                .build();
        Translator.TranslatedCluster t = Translator.cluster(c);
        assertNull(t.edsName());
        assertEquals(List.of(EndpointConfig.of(new HostPort("10.0.0.1", 80))), t.config().endpoints());
        assertEquals(LbPolicy.MAGLEV, t.config().lbPolicy());
        assertEquals(131071, t.config().lbSettings().maglevTableSize());
        assertEquals(UpstreamProtocol.H2C, t.config().upstreamProtocol());
        assertEquals("api.internal", t.config().tls().sni());
        assertEquals("/ca.pem", t.config().tls().trustedCaFile());
        assertEquals(List.of(SanMatcher.prefix("spiffe://x/")), t.config().tls().matchSubjectAltNames());
        assertEquals(List.of("h2"), t.config().tls().alpn());
    }

    @Test
    void every_supported_lb_policy() {
        for (var p : List.of(Cluster.LbPolicy.ROUND_ROBIN, Cluster.LbPolicy.LEAST_REQUEST, Cluster.LbPolicy.RANDOM, Cluster.LbPolicy.RING_HASH,
                Cluster.LbPolicy.MAGLEV)) {
            Cluster c = Cluster.newBuilder().setName("c").setType(Cluster.DiscoveryType.EDS).setLbPolicy(p).build();
            assertEquals(p.name().toLowerCase(), Translator.cluster(c).config().lbPolicy().configName());
        }
        Cluster lr = Cluster.newBuilder().setName("c").setType(Cluster.DiscoveryType.EDS).setLbPolicy(Cluster.LbPolicy.LEAST_REQUEST)
                .setLeastRequestLbConfig(Cluster.LeastRequestLbConfig.newBuilder().setChoiceCount(UInt32Value.of(3))).build();
        assertEquals(3, Translator.cluster(lr).config().lbSettings().choiceCount());
    }

    @Test
    void cluster_refusals_name_the_resource_and_field() {
        Cluster eds = Cluster.newBuilder().setName("api").setType(Cluster.DiscoveryType.EDS).build();
        assertEquals("cluster 'api': lb_policy CLUSTER_PROVIDED is not supported",
                refusal(() -> Translator.cluster(eds.toBuilder().setLbPolicy(Cluster.LbPolicy.CLUSTER_PROVIDED).build())));
        Cluster dns = Cluster.newBuilder().setName("dns").setType(Cluster.DiscoveryType.STRICT_DNS).build();
        assertEquals(java.time.Duration.ofSeconds(5), Translator.cluster(dns).config().dnsRefreshRate(), "Envoy's default");
        assertEquals(java.time.Duration.ofMillis(250), Translator.cluster(dns.toBuilder()
                .setDnsRefreshRate(com.google.protobuf.Duration.newBuilder().setNanos(250_000_000)).build()).config().dnsRefreshRate());
        assertEquals(null, Translator.cluster(dns.toBuilder().setType(Cluster.DiscoveryType.STATIC).build()).config().dnsRefreshRate());
        assertEquals("cluster 'dns': dns_refresh_rate must be at least 1ms",
                refusal(() -> Translator.cluster(dns.toBuilder().setDnsRefreshRate(com.google.protobuf.Duration.newBuilder().setNanos(1)).build())));
        assertEquals("cluster 'api': type LOGICAL_DNS is not supported (use EDS, STATIC, STRICT_DNS or ORIGINAL_DST)",
                refusal(() -> Translator.cluster(eds.toBuilder().setType(Cluster.DiscoveryType.LOGICAL_DNS).build())));
        assertEquals("cluster 'api': per_connection_buffer_limit_bytes is not supported",
                refusal(() -> Translator.cluster(eds.toBuilder().setPerConnectionBufferLimitBytes(UInt32Value.of(1)).build())));
        assertEquals("cluster 'api': ring_hash_lb_config.hash_function MURMUR_HASH_2 is not supported (only XX_HASH)",
                refusal(() -> Translator.cluster(eds.toBuilder().setRingHashLbConfig(Cluster.RingHashLbConfig.newBuilder()
                        .setHashFunction(Cluster.RingHashLbConfig.HashFunction.MURMUR_HASH_2)).build())));
        assertEquals("cluster 'api': outlier_detection.consecutive_5xx is not supported",
                refusal(() -> Translator.cluster(eds.toBuilder().setOutlierDetection(OutlierDetection.newBuilder()
                        .setConsecutive5Xx(UInt32Value.of(5))).build())));
        assertEquals("cluster 'api': circuit_breakers.thresholds[0].priority HIGH is not supported (only DEFAULT)",
                refusal(() -> Translator.cluster(eds.toBuilder().setCircuitBreakers(CircuitBreakers.newBuilder().addThresholds(
                        CircuitBreakers.Thresholds.newBuilder().setPriority(io.envoyproxy.envoy.config.core.v3.RoutingPriority.HIGH))).build())));
        UpstreamTlsContext inline = UpstreamTlsContext.newBuilder().setCommonTlsContext(CommonTlsContext.newBuilder()
                .setValidationContext(CertificateValidationContext.newBuilder()
                        .setTrustedCa(DataSource.newBuilder().setInlineString("-----BEGIN")))).build();
        assertEquals("cluster 'api': transport_socket.typed_config.common_tls_context.validation_context.trusted_ca must be a filename"
                        + " (inline bytes, inline strings and environment variables are not supported)",
                refusal(() -> Translator.cluster(eds.toBuilder().setTransportSocket(TransportSocket.newBuilder().setName("tls")
                        .setTypedConfig(Any.pack(inline))).build())));
        assertTrue(refusal(() -> Translator.cluster(eds.toBuilder().addHealthChecks(HealthCheck.newBuilder().setTimeout(seconds(1))
                .setInterval(seconds(1)).setUnhealthyThreshold(UInt32Value.of(1)).setHealthyThreshold(UInt32Value.of(1))).build()))
                .startsWith("cluster 'api': health_checks[0].health_checker needs one of"));
    }

    // ---- endpoints

    @Test
    void endpoints_with_weights_priorities_and_health() {
        ClusterLoadAssignment cla = ClusterLoadAssignment.newBuilder().setClusterName("api")
                .addEndpoints(LocalityLbEndpoints.newBuilder().setPriority(0)
                        .addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(Endpoint.newBuilder().setAddress(address("10.0.0.1", 80)))
                                .setLoadBalancingWeight(UInt32Value.of(3)).setHealthStatus(io.envoyproxy.envoy.config.core.v3.HealthStatus.HEALTHY)))
                .addEndpoints(LocalityLbEndpoints.newBuilder().setPriority(1)
                        .addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(Endpoint.newBuilder().setAddress(address("10.0.0.2", 81)))
                                .setHealthStatus(io.envoyproxy.envoy.config.core.v3.HealthStatus.DRAINING)))
                .build();
        assertEquals(List.of(new EndpointConfig(new HostPort("10.0.0.1", 80), 3, 0, HealthStatus.HEALTHY),
                new EndpointConfig(new HostPort("10.0.0.2", 81), 1, 1, HealthStatus.DRAINING)), Translator.endpoints(cla));
    }

    @Test
    void endpoint_refusals() {
        ClusterLoadAssignment pipe = ClusterLoadAssignment.newBuilder().setClusterName("api").addEndpoints(LocalityLbEndpoints.newBuilder()
                .addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(Endpoint.newBuilder().setAddress(Address.newBuilder()
                        .setPipe(io.envoyproxy.envoy.config.core.v3.Pipe.newBuilder().setPath("/tmp/x")))))).build();
        assertEquals("cluster_load_assignment 'api': endpoints[0].lb_endpoints[0].endpoint.address must be a socket_address"
                + " (pipes and internal addresses are not supported)", refusal(() -> Translator.endpoints(pipe)));
        ClusterLoadAssignment drops = ClusterLoadAssignment.newBuilder().setClusterName("api").setPolicy(ClusterLoadAssignment.Policy.newBuilder()
                .addDropOverloads(ClusterLoadAssignment.Policy.DropOverload.newBuilder().setCategory("x"))).build();
        assertEquals("cluster_load_assignment 'api': policy.drop_overloads is not supported", refusal(() -> Translator.endpoints(drops)));
    }

    // ---- listeners

    private static Listener listener(String name, Any filter) {
        return Listener.newBuilder().setName(name).setAddress(address("0.0.0.0", 8080))
                .addFilterChains(FilterChain.newBuilder().addFilters(Filter.newBuilder().setName("f").setTypedConfig(filter))).build();
    }

    @Test
    void a_tcp_proxy_listener() {
        TcpProxy t = TcpProxy.newBuilder().setStatPrefix("x").setCluster("echo").setIdleTimeout(seconds(60))
                .setMaxConnectAttempts(UInt32Value.of(2))
                .addHashPolicy(io.envoyproxy.envoy.type.v3.HashPolicy.newBuilder()
                        .setSourceIp(io.envoyproxy.envoy.type.v3.HashPolicy.SourceIp.getDefaultInstance())).build();
        Translator.TranslatedListener l = Translator.listener(listener("in", Any.pack(t)));
        assertNull(l.rdsName());
        ListenerConfig lc = l.config();
        assertEquals(ListenerProtocol.TCP, lc.protocol());
        assertEquals(new HostPort("0.0.0.0", 8080), lc.address());
        assertEquals("echo", lc.cluster());
        assertEquals(java.time.Duration.ofSeconds(60), lc.idleTimeout());
        assertEquals(2, lc.maxConnectAttempts());
        assertEquals(List.of(new HashPolicy.SourceIp()), lc.hashPolicy());
    }

    private static HttpConnectionManager.Builder hcm() {
        return HttpConnectionManager.newBuilder().setStatPrefix("h")
                .addHttpFilters(HttpFilter.newBuilder().setName("envoy.filters.http.router").setTypedConfig(Any.pack(Router.getDefaultInstance())));
    }

    @Test
    void an_http_listener_with_rds_and_downstream_tls() {
        HttpConnectionManager h = hcm().setRds(io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds.newBuilder()
                .setRouteConfigName("routes")).setStreamIdleTimeout(seconds(30)).setGenerateRequestId(BoolValue.of(false)).build();
        DownstreamTlsContext tls = DownstreamTlsContext.newBuilder().setCommonTlsContext(CommonTlsContext.newBuilder()
                .addTlsCertificates(TlsCertificate.newBuilder().setCertificateChain(file("/c.pem")).setPrivateKey(file("/k.pem")))
                .addAlpnProtocols("h2").addAlpnProtocols("http/1.1")
                .setTlsParams(TlsParameters.newBuilder().setTlsMinimumProtocolVersion(TlsParameters.TlsProtocol.TLSv1_3))).build();
        Listener l = listener("web", Any.pack(h)).toBuilder().setFilterChains(0, FilterChain.newBuilder()
                .addFilters(Filter.newBuilder().setName("hcm").setTypedConfig(Any.pack(h)))
                .setTransportSocket(TransportSocket.newBuilder().setName("envoy.transport_sockets.tls").setTypedConfig(Any.pack(tls)))).build();
        Translator.TranslatedListener t = Translator.listener(l);
        assertEquals("routes", t.rdsName());
        assertEquals(ListenerProtocol.HTTP, t.config().protocol());
        assertEquals(java.time.Duration.ofSeconds(30), t.config().http().streamIdleTimeout());
        assertEquals(false, t.config().http().generateRequestId());
        assertEquals("/c.pem", t.config().tls().certificates().get(0).certChainFile());
        assertEquals(TlsVersion.TLS_1_3, t.config().tls().minVersion());
        assertEquals(List.of("h2", "http/1.1"), t.config().tls().alpn());
        assertTrue(t.config().tls().sessionResumption());

        DownstreamTlsContext off = tls.toBuilder().setDisableStatelessSessionResumption(true).setDisableStatefulSessionResumption(true).build();
        assertEquals(false, Translator.listener(withTls(l, off)).config().tls().sessionResumption());
        assertEquals("listener 'web': filter_chains[0].transport_socket.typed_config.disable_stateful_session_resumption must equal"
                        + " disable_stateless_session_resumption: session resumption (tickets and the session cache) is turned off as a whole"
                        + " or not at all",
                refusal(() -> Translator.listener(withTls(l, tls.toBuilder().setDisableStatelessSessionResumption(true).build()))));
    }

    private static Listener withTls(Listener l, DownstreamTlsContext tls) {
        return l.toBuilder().setFilterChains(0, l.getFilterChains(0).toBuilder().setTransportSocket(
                TransportSocket.newBuilder().setName("envoy.transport_sockets.tls").setTypedConfig(Any.pack(tls)))).build();
    }

    @Test
    void listener_refusals() {
        assertEquals("listener 'in': filter_chains[0].filter_chain_match is not supported",
                refusal(() -> Translator.listener(listener("in", Any.pack(TcpProxy.newBuilder().setCluster("c").build())).toBuilder()
                        .setFilterChains(0, FilterChain.newBuilder().setFilterChainMatch(FilterChainMatch.newBuilder().addServerNames("x"))
                                .addFilters(Filter.newBuilder().setName("t").setTypedConfig(Any.pack(TcpProxy.newBuilder().setCluster("c").build()))))
                        .build())));
        assertEquals("listener 'in': filter_chains[0].filters[0].typed_config.http_filters[0] 'envoy.filters.http.cors' is not supported"
                        + " (only the router, last)",
                refusal(() -> Translator.listener(listener("in", Any.pack(HttpConnectionManager.newBuilder()
                        .addHttpFilters(HttpFilter.newBuilder().setName("envoy.filters.http.cors")
                                .setTypedConfig(Any.pack(io.envoyproxy.envoy.extensions.filters.http.cors.v3.Cors.getDefaultInstance())))
                        .build())))));
        assertTrue(refusal(() -> Translator.listener(listener("in", Any.pack(Router.getDefaultInstance()))))
                .startsWith("listener 'in': filter_chains[0].filters[0].typed_config 'f' (type.googleapis.com/envoy.extensions.filters.http.router.v3.Router) is not supported"));
        assertEquals("listener 'in': filter_chains[0].filters[0].typed_config.rds.config_source must be ads (resources come over the one aggregated stream)",
                refusal(() -> Translator.listener(listener("in", Any.pack(hcm().setRds(
                        io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds.newBuilder().setRouteConfigName("r")
                                .setConfigSource(io.envoyproxy.envoy.config.core.v3.ConfigSource.newBuilder()
                                        .setPath("/etc/routes.yaml"))).build())))));
    }

    // ---- routes

    @Test
    void routes_with_matches_and_actions() {
        RouteConfiguration rc = RouteConfiguration.newBuilder().setName("r").addVirtualHosts(VirtualHost.newBuilder().setName("api")
                .addDomains("api.local")
                .addResponseHeadersToAdd(HeaderValueOption.newBuilder().setHeader(HeaderValue.newBuilder().setKey("x-by").setValue("sidecar"))
                        .setAppendAction(HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD))
                .addRoutes(Route.newBuilder().setName("v2").setMatch(RouteMatch.newBuilder().setPrefix("/v2/")
                                .addHeaders(HeaderMatcher.newBuilder().setName("x-canary").setStringMatch(StringMatcher.newBuilder().setExact("1"))))
                        .setRoute(RouteAction.newBuilder().setWeightedClusters(WeightedCluster.newBuilder()
                                        .addClusters(WeightedCluster.ClusterWeight.newBuilder().setName("a").setWeight(UInt32Value.of(90)))
                                        .addClusters(WeightedCluster.ClusterWeight.newBuilder().setName("b").setWeight(UInt32Value.of(10))))
                                .setTimeout(seconds(5)).setPrefixRewrite("/")
                                .setRetryPolicy(RetryPolicy.newBuilder().setRetryOn("5xx,connect-failure").setNumRetries(UInt32Value.of(2))
                                        .setPerTryTimeout(seconds(1)))
                                .addHashPolicy(RouteAction.HashPolicy.newBuilder().setHeader(RouteAction.HashPolicy.Header.newBuilder()
                                        .setHeaderName("x-user")))))
                .addRoutes(Route.newBuilder().setMatch(RouteMatch.newBuilder().setSafeRegex(RegexMatcher.newBuilder().setRegex("/old/.*")))
                        .setRedirect(RedirectAction.newBuilder().setPrefixRewrite("/new/").setResponseCode(RedirectAction.RedirectResponseCode.PERMANENT_REDIRECT)))
                .addRoutes(Route.newBuilder().setMatch(RouteMatch.newBuilder().setPath("/healthz"))
                        .setDirectResponse(DirectResponseAction.newBuilder().setStatus(200).setBody(DataSource.newBuilder().setInlineString("ok")))))
                .build();
        RouteConfig r = Translator.routeConfig(rc);
        RouteConfig.VirtualHost vh = r.virtualHosts().get(0);
        assertEquals(List.of("api.local"), vh.domains());
        assertEquals(List.of(new RouteConfig.HeaderValue("x-by", "sidecar", false)), vh.headers().responseAdd());
        RouteConfig.Route v2 = vh.routes().get(0);
        assertEquals(new RouteConfig.PathMatch(RouteConfig.PathMatch.Kind.PREFIX, "/v2/"), v2.match().path());
        assertEquals(List.of(new RouteConfig.HeaderMatcher("x-canary", RouteConfig.HeaderMatcher.Kind.EXACT, "1", false)), v2.match().headers());
        RouteConfig.Forward f = (RouteConfig.Forward) v2.action();
        assertEquals(List.of(new RouteConfig.WeightedCluster("a", 90), new RouteConfig.WeightedCluster("b", 10)), f.clusters());
        assertEquals(java.time.Duration.ofSeconds(5), f.timeout());
        assertEquals("/", f.prefixRewrite());
        assertEquals(Set.of(RouteConfig.RetryOn.FIVE_XX, RouteConfig.RetryOn.CONNECT_FAILURE), f.retryPolicy().retryOn());
        assertEquals(2, f.retryPolicy().numRetries());
        assertEquals(List.of(new HashPolicy.Header("x-user")), f.hashPolicy());
        RouteConfig.Redirect red = (RouteConfig.Redirect) vh.routes().get(1).action();
        assertEquals(308, red.responseCode());
        assertEquals("/new/", red.prefixRewrite());
        assertEquals(RouteConfig.PathMatch.Kind.REGEX, vh.routes().get(1).match().path().kind());
        assertEquals(new RouteConfig.DirectResponse(200, "ok"), vh.routes().get(2).action());
    }

    @Test
    void route_refusals() {
        RouteConfiguration.Builder rc = RouteConfiguration.newBuilder().setName("r");
        VirtualHost.Builder vh = VirtualHost.newBuilder().setName("v").addDomains("*");
        assertEquals("route_configuration 'r': virtual_hosts[0].routes[0].route.retry_policy.retry_on 'reset-before-request' is not supported",
                refusal(() -> Translator.routeConfig(rc.clone().addVirtualHosts(vh.clone().addRoutes(Route.newBuilder()
                        .setMatch(RouteMatch.newBuilder().setPrefix("/"))
                        .setRoute(RouteAction.newBuilder().setCluster("c").setRetryPolicy(RetryPolicy.newBuilder()
                                .setRetryOn("reset-before-request"))))).build())));
        assertEquals("route_configuration 'r': virtual_hosts[0].require_tls is not supported",
                refusal(() -> Translator.routeConfig(rc.clone().addVirtualHosts(vh.clone()
                        .setRequireTls(VirtualHost.TlsRequirementType.ALL)).build())));
        assertEquals("route_configuration 'r': virtual_hosts[0].routes[0].route.cluster_header is not supported",
                refusal(() -> Translator.routeConfig(rc.clone().addVirtualHosts(vh.clone().addRoutes(Route.newBuilder()
                        .setMatch(RouteMatch.newBuilder().setPrefix("/")).setRoute(RouteAction.newBuilder().setClusterHeader("x")))).build())));
        assertEquals("route_configuration 'r': virtual_hosts[0].routes[0].match.case_sensitive false is not supported (paths match case-sensitively)",
                refusal(() -> Translator.routeConfig(rc.clone().addVirtualHosts(vh.clone().addRoutes(Route.newBuilder()
                        .setMatch(RouteMatch.newBuilder().setPrefix("/").setCaseSensitive(BoolValue.of(false)))
                        .setRoute(RouteAction.newBuilder().setCluster("c")))).build())));
    }

    // ---- PROXY protocol and original destinations

    @Test
    void upstream_proxy_protocol_transport_socket_and_original_dst_clusters() {
        TransportSocket raw = TransportSocket.newBuilder().setName("envoy.transport_sockets.raw_buffer")
                .setTypedConfig(Any.pack(io.envoyproxy.envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer.getDefaultInstance())).build();
        TransportSocket tls = TransportSocket.newBuilder().setName("envoy.transport_sockets.tls")
                .setTypedConfig(Any.pack(UpstreamTlsContext.newBuilder().setSni("api.internal").build())).build();
        java.util.function.BiFunction<io.envoyproxy.envoy.config.core.v3.ProxyProtocolConfig.Version, TransportSocket, TransportSocket> pp =
                (version, inner) -> TransportSocket.newBuilder().setName("envoy.transport_sockets.upstream_proxy_protocol")
                        .setTypedConfig(Any.pack(io.envoyproxy.envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport
                                .newBuilder().setConfig(io.envoyproxy.envoy.config.core.v3.ProxyProtocolConfig.newBuilder().setVersion(version))
                                .setTransportSocket(inner).build())).build();
        Cluster s = Cluster.newBuilder().setName("s").setType(Cluster.DiscoveryType.STATIC).build();

        ClusterConfig v1 = Translator.cluster(s.toBuilder()
                .setTransportSocket(pp.apply(io.envoyproxy.envoy.config.core.v3.ProxyProtocolConfig.Version.V1, raw)).build()).config();
        assertEquals(dev.sidecar.config.ProxyProtocolVersion.V1, v1.proxyProtocol());
        assertNull(v1.tls(), "raw_buffer inside: plaintext after the header");
        ClusterConfig v2 = Translator.cluster(s.toBuilder()
                .setTransportSocket(pp.apply(io.envoyproxy.envoy.config.core.v3.ProxyProtocolConfig.Version.V2, tls)).build()).config();
        assertEquals(dev.sidecar.config.ProxyProtocolVersion.V2, v2.proxyProtocol());
        assertEquals("api.internal", v2.tls().sni(), "tls inside: the header, then the handshake");
        assertNull(Translator.cluster(s).config().proxyProtocol());
        assertEquals("cluster 's': transport_socket.typed_config.config.pass_through_tlvs is not supported",
                refusal(() -> Translator.cluster(s.toBuilder().setTransportSocket(TransportSocket.newBuilder()
                        .setName("envoy.transport_sockets.upstream_proxy_protocol")
                        .setTypedConfig(Any.pack(io.envoyproxy.envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport
                                .newBuilder().setConfig(io.envoyproxy.envoy.config.core.v3.ProxyProtocolConfig.newBuilder()
                                        .setPassThroughTlvs(io.envoyproxy.envoy.config.core.v3.ProxyProtocolPassThroughTLVs.getDefaultInstance()))
                                .setTransportSocket(raw).build()))).build())));

        Cluster od = Cluster.newBuilder().setName("passthrough").setType(Cluster.DiscoveryType.ORIGINAL_DST)
                .setLbPolicy(Cluster.LbPolicy.CLUSTER_PROVIDED).build();
        assertEquals(dev.sidecar.config.ClusterType.ORIGINAL_DST, Translator.cluster(od).config().type());
        assertEquals("cluster 'passthrough': load_assignment is not for type ORIGINAL_DST: its connections go to their original destination",
                refusal(() -> Translator.cluster(od.toBuilder().setLoadAssignment(ClusterLoadAssignment.newBuilder().setClusterName("x")).build())));
    }

    @Test
    void proxy_protocol_and_original_dst_listener_filters() {
        Any tcp = Any.pack(TcpProxy.newBuilder().setStatPrefix("x").setCluster("passthrough").build());
        io.envoyproxy.envoy.config.listener.v3.ListenerFilter proxyProtocol = io.envoyproxy.envoy.config.listener.v3.ListenerFilter.newBuilder()
                .setName("envoy.filters.listener.proxy_protocol")
                .setTypedConfig(Any.pack(io.envoyproxy.envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol.getDefaultInstance()))
                .build();
        io.envoyproxy.envoy.config.listener.v3.ListenerFilter originalDst = io.envoyproxy.envoy.config.listener.v3.ListenerFilter.newBuilder()
                .setName("envoy.filters.listener.original_dst")
                .setTypedConfig(Any.pack(io.envoyproxy.envoy.extensions.filters.listener.original_dst.v3.OriginalDst.getDefaultInstance()))
                .build();
        ListenerConfig both = Translator.listener(listener("out", tcp).toBuilder().addListenerFilters(proxyProtocol)
                .addListenerFilters(originalDst).build()).config();
        assertTrue(both.proxyProtocol());
        assertTrue(both.originalDestination());
        ListenerConfig none = Translator.listener(listener("out", tcp)).config();
        assertTrue(!none.proxyProtocol() && !none.originalDestination());
        ListenerConfig http = Translator.listener(listener("web", Any.pack(hcm().setRds(
                io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds.newBuilder().setRouteConfigName("r")).build()))
                .toBuilder().addListenerFilters(proxyProtocol).build()).config();
        assertTrue(http.proxyProtocol());
        assertEquals("listener 'in': listener_filters[0].typed_config.allow_requests_without_proxy_protocol is not supported",
                refusal(() -> Translator.listener(listener("in", tcp).toBuilder().addListenerFilters(proxyProtocol.toBuilder()
                        .setTypedConfig(Any.pack(io.envoyproxy.envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol.newBuilder()
                                .setAllowRequestsWithoutProxyProtocol(true).build()))).build())));
        assertEquals("listener 'web': listener_filters envoy.filters.listener.original_dst is only supported with tcp_proxy",
                refusal(() -> Translator.listener(listener("web", Any.pack(hcm().setRds(
                        io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds.newBuilder().setRouteConfigName("r")).build()))
                        .toBuilder().addListenerFilters(originalDst).build())));
    }
}
