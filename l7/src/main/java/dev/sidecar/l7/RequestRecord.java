package dev.sidecar.l7;

import java.net.SocketAddress;

/**
 * What an access log line says about one finished request. Made only when the listener has an
 * access log; formatted and written off the event loop.
 *
 * @param startMillis when the request's headers arrived (wall clock, epoch milliseconds)
 * @param durationNanos from the request's headers to the end of the exchange
 * @param protocol {@code HTTP/1.1} or {@code HTTP/2} (downstream)
 * @param authority the Host / :authority as the client sent it
 * @param path the request target as the client sent it
 * @param status the response status; 0 when the client went away first
 * @param bytesReceived request body bytes from the client
 * @param bytesSent response body bytes to the client
 * @param cluster the cluster routed to, or null
 * @param upstream the last endpoint tried, or null
 * @param attempts upstream attempts made
 * @param requestId the x-request-id sent upstream, or null
 * @param flags Envoy-style response flags, {@code -} when none
 */
public record RequestRecord(
        long startMillis,
        long durationNanos,
        String listener,
        SocketAddress downstream,
        String protocol,
        String method,
        String authority,
        String path,
        int status,
        long bytesReceived,
        long bytesSent,
        String cluster,
        SocketAddress upstream,
        int attempts,
        String requestId,
        String userAgent,
        String flags) {
}
