package dev.sidecar.proxy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The log backend's format, one record per line on stderr: readable text
 * ({@code 2026-01-02T03:04:05.678Z INFO  message}) or, with {@code --log-format json}, a JSON
 * object per line for a log pipeline. The code logs through SLF4J; its one backend is the JDK's
 * logging (slf4j-jdk14), which Netty's logging reaches the same way.
 */
final class LogFormat extends Formatter {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);
    private static final com.fasterxml.jackson.core.JsonFactory JSON = new com.fasterxml.jackson.core.JsonFactory();

    private final boolean json;

    private LogFormat(boolean json) {
        this.json = json;
    }

    /**
     * Netty's loggers that write at info for what a client does, per connection or per frame: a
     * control-frame flood ended (with a stack trace), a frame for a stream already reset, a bad
     * h2c upgrade. A client could fill the log with them, and the event loop writes each one
     * before it serves anything else. At info they are left out; they show from debug on.
     * Held here: the logging keeps only weak references to its loggers, and a collected logger
     * would come back at the root's level.
     */
    private static final List<Logger> CLIENT_CAUSED = List.of(
            Logger.getLogger("io.netty.handler.codec.http2.Http2ControlFrameLimitEncoder"),
            Logger.getLogger("io.netty.handler.codec.http2.DefaultHttp2ConnectionDecoder"),
            Logger.getLogger("io.netty.handler.codec.http2.Http2ServerUpgradeCodec"));

    static void install(Level level, boolean json) {
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        ConsoleHandler handler = new ConsoleHandler();
        handler.setFormatter(new LogFormat(json));
        handler.setLevel(Level.ALL);
        root.addHandler(handler);
        root.setLevel(level);
        for (Logger l : CLIENT_CAUSED) {
            l.setLevel(level.intValue() >= Level.INFO.intValue() ? Level.WARNING : null);
        }
    }

    @Override
    public String format(LogRecord r) {
        return json ? formatJson(r) : formatText(r);
    }

    private String formatJson(LogRecord r) {
        java.io.StringWriter out = new java.io.StringWriter(160);
        try (com.fasterxml.jackson.core.JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("time", TIME.format(r.getInstant()));
            g.writeStringField("level", name(r.getLevel()));
            g.writeStringField("logger", r.getLoggerName());
            g.writeStringField("message", formatMessage(r));
            if (r.getThrown() != null) {
                StringWriter w = new StringWriter();
                r.getThrown().printStackTrace(new PrintWriter(w));
                g.writeStringField("error", w.toString());
            }
            g.writeEndObject();
        } catch (java.io.IOException e) {
            return "{\"level\":\"ERROR\",\"message\":\"cannot format a log record\"}\n";
        }
        return out.append('\n').toString();
    }

    private String formatText(LogRecord r) {
        StringBuilder b = new StringBuilder(128)
                .append(TIME.format(r.getInstant())).append(' ')
                .append(String.format("%-5s", name(r.getLevel()))).append(' ')
                .append(formatMessage(r)).append('\n');
        if (r.getThrown() != null) {
            StringWriter w = new StringWriter();
            r.getThrown().printStackTrace(new PrintWriter(w));
            b.append(w);
        }
        return b.toString();
    }

    private static String name(Level level) {
        if (level.intValue() >= Level.SEVERE.intValue()) {
            return "ERROR";
        }
        if (level.intValue() >= Level.WARNING.intValue()) {
            return "WARN";
        }
        if (level.intValue() >= Level.INFO.intValue()) {
            return "INFO";
        }
        return "DEBUG";
    }
}
