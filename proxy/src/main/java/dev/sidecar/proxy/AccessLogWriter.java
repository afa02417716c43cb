package dev.sidecar.proxy;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.sidecar.l4.ConnectionLog;
import dev.sidecar.l4.ConnectionRecord;
import dev.sidecar.l7.RequestLog;
import dev.sidecar.l7.RequestRecord;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One access-log file: event loops offer finished connection records (TCP listeners) and
 * request records (HTTP listeners) to a bounded queue, and one daemon thread formats them as JSON lines and writes them. A full queue drops the
 * record and counts it: a slow disk (or a pipe nobody reads) must never slow traffic down.
 */
final class AccessLogWriter implements ConnectionLog, RequestLog, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AccessLogWriter.class);
    private static final JsonFactory JSON = new JsonFactory();

    private final Path path;
    private final BlockingQueue<Object> queue;
    private final LongAdder written = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    private final Thread thread;
    private volatile boolean closed;

    AccessLogWriter(Path path, int queueSize) {
        this.path = path;
        this.queue = new ArrayBlockingQueue<>(queueSize);
        this.thread = new Thread(this::run, "sidecar-access-log");
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public void closed(ConnectionRecord record) {
        if (!queue.offer(record)) {
            dropped.increment();
        }
    }

    @Override
    public void finished(RequestRecord record) {
        if (!queue.offer(record)) {
            dropped.increment();
        }
    }

    long written() {
        return written.sum();
    }

    long dropped() {
        return dropped.sum();
    }

    Path path() {
        return path;
    }

    private void run() {
        // Opening may block (a FIFO with no reader) or fail; the queue keeps absorbing and dropping meanwhile.
        try (Writer out = new BufferedWriter(new OutputStreamWriter(
                Files.newOutputStream(path, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE),
                StandardCharsets.UTF_8))) {
            while (!closed || !queue.isEmpty()) {
                Object r = queue.poll(200, TimeUnit.MILLISECONDS);
                if (r == null) {
                    continue;
                }
                out.write(r instanceof RequestRecord q ? format(q) : format((ConnectionRecord) r));
                written.increment();
                if (queue.isEmpty()) {
                    out.flush();
                }
            }
        } catch (IOException e) {
            log.warn("access log " + path + ": " + e.getMessage() + "; further lines are dropped");
            closed = true;
            queue.clear();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static String format(ConnectionRecord r) throws IOException {
        StringWriter s = new StringWriter(256);
        try (JsonGenerator g = JSON.createGenerator(s)) {
            g.writeStartObject();
            g.writeStringField("start_time", Instant.ofEpochMilli(r.startMillis()).toString());
            g.writeNumberField("duration_ms", r.durationNanos() / 1_000_000.0);
            g.writeStringField("listener", r.listener());
            g.writeStringField("downstream", address(r.downstream()));
            g.writeStringField("upstream", r.endpoint() == null ? null : r.endpoint().address().toString());
            g.writeNumberField("connect_attempts", r.attempts());
            g.writeNumberField("bytes_received", r.bytesIn());
            g.writeNumberField("bytes_sent", r.bytesOut());
            g.writeStringField("flags", r.flags());
            g.writeEndObject();
        }
        return s.append('\n').toString();
    }

    static String format(RequestRecord r) throws IOException {
        StringWriter s = new StringWriter(384);
        try (JsonGenerator g = JSON.createGenerator(s)) {
            g.writeStartObject();
            g.writeStringField("start_time", Instant.ofEpochMilli(r.startMillis()).toString());
            g.writeNumberField("duration_ms", r.durationNanos() / 1_000_000.0);
            g.writeStringField("listener", r.listener());
            g.writeStringField("downstream", address(r.downstream()));
            g.writeStringField("protocol", r.protocol());
            g.writeStringField("method", r.method());
            g.writeStringField("authority", r.authority());
            g.writeStringField("path", r.path());
            g.writeNumberField("status", r.status());
            g.writeNumberField("bytes_received", r.bytesReceived());
            g.writeNumberField("bytes_sent", r.bytesSent());
            g.writeStringField("cluster", r.cluster());
            g.writeStringField("upstream", r.upstream() == null ? null : address(r.upstream()));
            g.writeNumberField("attempts", r.attempts());
            g.writeStringField("request_id", r.requestId());
            g.writeStringField("user_agent", r.userAgent());
            g.writeStringField("flags", r.flags());
            g.writeEndObject();
        }
        return s.append('\n').toString();
    }

    private static String address(java.net.SocketAddress a) {
        if (a instanceof InetSocketAddress i && i.getAddress() != null) {
            String host = i.getAddress().getHostAddress();
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + i.getPort();
        }
        return String.valueOf(a);
    }

    /**
     * Writes what is queued and stops. No interrupt: it would lose the queue and, mid-write, close
     * the file under the writer; the writer sees the flag within one poll.
     */
    @Override
    public void close() {
        closed = true;
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
