package dev.sidecar.config;

/**
 * When the process sheds load instead of running out of memory, after Envoy's overload manager
 * ({@code envoy.overload_actions.stop_accepting_requests}): while used direct memory, or used
 * heap, is at or above its fraction of the JVM's limit, new HTTP requests are answered 503
 * (HTTP/1.1, with {@code connection: close}) or refused with RST_STREAM REFUSED_STREAM (HTTP/2),
 * and TCP listeners stop accepting. A fraction of 0 turns that check off.
 *
 * @param directMemoryShedFraction of {@code -XX:MaxDirectMemorySize} (or the JVM's default
 *     limit), 0..1
 * @param heapShedFraction of {@code -Xmx}, 0..1; used heap includes garbage not yet collected,
 *     so this sits close to 1
 */
public record OverloadConfig(double directMemoryShedFraction, double heapShedFraction) {
    public static final double DEFAULT_DIRECT_MEMORY_SHED_FRACTION = 0.9;
    public static final double DEFAULT_HEAP_SHED_FRACTION = 0.95;
    public static final OverloadConfig DEFAULT = new OverloadConfig(DEFAULT_DIRECT_MEMORY_SHED_FRACTION, DEFAULT_HEAP_SHED_FRACTION);

    public OverloadConfig withDirectMemoryShedFraction(double f) {
        return new OverloadConfig(f, heapShedFraction);
    }

    public OverloadConfig withHeapShedFraction(double f) {
        return new OverloadConfig(directMemoryShedFraction, f);
    }
}
