package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * An HTTP listener's limits and timeouts. The defaults follow Envoy's edge guidance: an HTTP
 * listener faces clients the proxy does not control, and every limit bounds what one of them can
 * make the proxy hold.
 *
 * @param bufferLimit bytes held per request: a body kept for a retry, a stream's queued data
 * @param maxConcurrentStreams HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS offered to clients
 * @param initialStreamWindow HTTP/2 initial stream flow-control window
 * @param initialConnectionWindow HTTP/2 connection flow-control window
 * @param maxHeaderListSize request header block, in bytes (431 beyond)
 * @param maxHeaders request header count (431 beyond)
 * @param maxUriLength request target length (414 beyond)
 * @param maxResetsPerWindow HTTP/2 RST_STREAM frames a client may send, and streams the proxy
 *     may reset because of the client (Rapid Reset and MadeYouReset), within {@code resetWindow};
 *     beyond, GOAWAY ENHANCE_YOUR_CALM
 * @param maxContinuationFrames CONTINUATION frames in one header block
 * @param maxQueuedControlFrames control frames (SETTINGS/PING acks) queued unwritten
 * @param maxConsecutiveEmptyFrames DATA frames with no data and no END_STREAM in a row
 * @param requestHeadersTimeout a request's headers must arrive within this (slowloris)
 * @param streamIdleTimeout a request with no bytes either way for this long is reset
 * @param routeTimeout default whole-request timeout of a route that sets none (0: none)
 * @param generateRequestId add {@code x-request-id} when a request has none
 */
public record HttpSettings(
        int bufferLimit,
        int maxConcurrentStreams,
        int initialStreamWindow,
        int initialConnectionWindow,
        int maxHeaderListSize,
        int maxHeaders,
        int maxUriLength,
        int maxResetsPerWindow,
        Duration resetWindow,
        int maxContinuationFrames,
        int maxQueuedControlFrames,
        int maxConsecutiveEmptyFrames,
        Duration requestHeadersTimeout,
        Duration streamIdleTimeout,
        Duration routeTimeout,
        boolean generateRequestId) {

    public static final HttpSettings DEFAULT = new HttpSettings(
            32 * 1024, 100, 64 * 1024, 1024 * 1024, 60 * 1024, 100, 8 * 1024,
            200, Duration.ofSeconds(30), 16, 1_000, 2,
            Duration.ofSeconds(10), Duration.ofMinutes(5), Duration.ofSeconds(15), true);

    public HttpSettings {
        requireNonNull(resetWindow, "resetWindow");
        requireNonNull(requestHeadersTimeout, "requestHeadersTimeout");
        requireNonNull(streamIdleTimeout, "streamIdleTimeout");
        requireNonNull(routeTimeout, "routeTimeout");
    }

    // Written out rather than generated: a record's generated equals is linked at its first call
    // through method handles, about 20 ms of a start for these sixteen components (the validator
    // compares a TCP listener's settings with DEFAULT). HttpSettingsTest checks every component.

    @Override
    public boolean equals(Object o) {
        return o instanceof HttpSettings h
                && bufferLimit == h.bufferLimit
                && maxConcurrentStreams == h.maxConcurrentStreams
                && initialStreamWindow == h.initialStreamWindow
                && initialConnectionWindow == h.initialConnectionWindow
                && maxHeaderListSize == h.maxHeaderListSize
                && maxHeaders == h.maxHeaders
                && maxUriLength == h.maxUriLength
                && maxResetsPerWindow == h.maxResetsPerWindow
                && resetWindow.equals(h.resetWindow)
                && maxContinuationFrames == h.maxContinuationFrames
                && maxQueuedControlFrames == h.maxQueuedControlFrames
                && maxConsecutiveEmptyFrames == h.maxConsecutiveEmptyFrames
                && requestHeadersTimeout.equals(h.requestHeadersTimeout)
                && streamIdleTimeout.equals(h.streamIdleTimeout)
                && routeTimeout.equals(h.routeTimeout)
                && generateRequestId == h.generateRequestId;
    }

    @Override
    public int hashCode() {
        int h = bufferLimit;
        h = 31 * h + maxConcurrentStreams;
        h = 31 * h + initialStreamWindow;
        h = 31 * h + initialConnectionWindow;
        h = 31 * h + maxHeaderListSize;
        h = 31 * h + maxHeaders;
        h = 31 * h + maxUriLength;
        h = 31 * h + maxResetsPerWindow;
        h = 31 * h + resetWindow.hashCode();
        h = 31 * h + maxContinuationFrames;
        h = 31 * h + maxQueuedControlFrames;
        h = 31 * h + maxConsecutiveEmptyFrames;
        h = 31 * h + requestHeadersTimeout.hashCode();
        h = 31 * h + streamIdleTimeout.hashCode();
        h = 31 * h + routeTimeout.hashCode();
        return 31 * h + Boolean.hashCode(generateRequestId);
    }
}
