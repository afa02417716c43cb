package dev.sidecar.config;

import java.time.Duration;

/**
 * Durations as they are written in the config: a sequence of number+unit terms, as Go and
 * Envoy's YAML tooling print them ({@code 250ms}, {@code 1s}, {@code 1h30m}, {@code 1.5s}).
 * Units: ns, us, ms, s, m, h. A bare number is rejected: {@code 30} could mean seconds or
 * milliseconds, and guessing wrong silently is worse than an error.
 */
public final class Durations {
    private Durations() {}

    public static Duration parse(String text) {
        String s = text.strip();
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty duration; write e.g. 250ms, 1s, 1h");
        }
        long nanos = 0;
        int i = 0;
        while (i < s.length()) {
            int start = i;
            while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '.')) {
                i++;
            }
            if (start == i) {
                throw new IllegalArgumentException("'" + text + "' is not a duration; write e.g. 250ms, 1s, 1h");
            }
            String number = s.substring(start, i);
            int unitStart = i;
            while (i < s.length() && Character.isLetter(s.charAt(i))) {
                i++;
            }
            String unit = s.substring(unitStart, i);
            if (unit.isEmpty() && i < s.length()) {
                throw new IllegalArgumentException("'" + text + "' is not a duration; write e.g. 250ms, 1s, 1h");
            }
            long unitNanos = switch (unit) {
                case "ns" -> 1L;
                case "us", "µs" -> 1_000L;
                case "ms" -> 1_000_000L;
                case "s" -> 1_000_000_000L;
                case "m" -> 60_000_000_000L;
                case "h" -> 3_600_000_000_000L;
                case "" -> throw new IllegalArgumentException(
                        "'" + text + "' has no unit; write e.g. " + number + "ms or " + number + "s");
                default -> throw new IllegalArgumentException(
                        "'" + text + "' has unknown unit '" + unit + "' (use ns, us, ms, s, m, h)");
            };
            double value;
            try {
                value = Double.parseDouble(number);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + text + "' is not a duration; write e.g. 250ms, 1s, 1h");
            }
            double termNanos = value * unitNanos;
            if (termNanos > Long.MAX_VALUE - nanos) {
                throw new IllegalArgumentException("'" + text + "' is too long");
            }
            nanos += (long) termNanos;
        }
        return Duration.ofNanos(nanos);
    }

    /** The shortest config spelling of {@code d}, the inverse of {@link #parse}. */
    public static String format(Duration d) {
        long nanos = d.toNanos();
        if (nanos == 0) {
            return "0s";
        }
        long[] units = {3_600_000_000_000L, 60_000_000_000L, 1_000_000_000L, 1_000_000L, 1_000L, 1L};
        String[] names = {"h", "m", "s", "ms", "us", "ns"};
        StringBuilder out = new StringBuilder();
        for (int k = 0; k < units.length && nanos > 0; k++) {
            long n = nanos / units[k];
            if (n > 0) {
                out.append(n).append(names[k]);
                nanos -= n * units[k];
            }
        }
        return out.toString();
    }
}
