package dev.sidecar.l7;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.CharSequenceValueConverter;
import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.DefaultHeaders.NameValidator;
import io.netty.handler.codec.DefaultHeaders.ValueValidator;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.util.AsciiString;
import io.netty.util.CharsetUtil;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Calendar;
import java.util.Collections;
import java.util.Date;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * An HTTP/1.1 message's header fields as one array of names and values in the order they came,
 * looked up by a scan that compares names without regard to case. A head has a handful of
 * fields, and every message the proxy decodes gets a new header section: Netty's
 * {@code DefaultHttpHeaders} spends a hash table of 16 buckets, a list head and one entry object
 * per field on each (about 500 bytes for a response of eight fields), this one array (about 100).
 *
 * <p>Names and values are checked as Netty's {@link DefaultHttpHeadersFactory} checks them, with
 * the validators of the factory it stands in for ({@link #factory}), so a field Netty's headers
 * would refuse is refused here with the same exception, and a decoder turns it into a failed
 * message. Values are kept as the {@link CharSequence} they were given ({@link Date} and
 * {@link Calendar} formatted as HTTP dates, anything else by {@code toString}). {@code set}
 * replaces a field where it stands and drops later ones of the same name. The HTTP/1.1 encoders
 * write the fields straight from the array ({@link #encode}).
 *
 * <p>Not thread-safe, as no message is.
 */
final class FlatHttpHeaders extends HttpHeaders {
    private static final CharSequence[] NONE = new CharSequence[0];
    /** Fields a section gets room for at its first: enough for most requests and responses. */
    private static final int FIRST_FIELDS = 8;
    private static final int COLON_SPACE = (':' << 8) | ' ';
    private static final int CRLF = ('\r' << 8) | '\n';

    private final NameValidator<CharSequence> names;
    private final ValueValidator<CharSequence> values;
    /** Field i's name at 2i, its value at 2i + 1. */
    private CharSequence[] fields = NONE;
    private int size;
    /** Counts removals and clears, which move fields to other indexes: an entry read before one is stale. */
    private int removals;

    FlatHttpHeaders(NameValidator<CharSequence> names, ValueValidator<CharSequence> values) {
        this.names = names;
        this.values = values;
    }

    /**
     * A factory of these headers that checks names and values as {@code like} does. A factory
     * other than Netty's default kind is returned as it is.
     */
    static HttpHeadersFactory factory(HttpHeadersFactory like) {
        if (!(like instanceof DefaultHttpHeadersFactory d) || d.isCombiningHeaders()) {
            return like;
        }
        return new Factory(d.getNameValidator(), d.getValueValidator());
    }

    /** The config with its header and trailer sections made as these headers, validation unchanged. */
    static HttpDecoderConfig apply(HttpDecoderConfig config) {
        return config.setHeadersFactory(factory(config.getHeadersFactory()))
                .setTrailersFactory(factory(config.getTrailersFactory()));
    }

    private record Factory(NameValidator<CharSequence> names, ValueValidator<CharSequence> values)
            implements HttpHeadersFactory {
        @Override
        public HttpHeaders newHeaders() {
            return new FlatHttpHeaders(names, values);
        }

        @Override
        public HttpHeaders newEmptyHeaders() {
            return new FlatHttpHeaders(names, values);
        }
    }

    /** Field {@code i}'s name, for a walk over the fields that makes no entry objects ({@code i < size()}). */
    CharSequence name(int i) {
        return fields[i << 1];
    }

    /** Field {@code i}'s value. */
    CharSequence value(int i) {
        return fields[(i << 1) + 1];
    }

    /** Writes every field as {@code name: value CRLF}, in order, as Netty's HTTP/1.1 encoder does. */
    void encode(ByteBuf buf) {
        CharSequence[] f = fields;
        for (int i = 0, end = size << 1; i < end; i += 2) {
            CharSequence name = f[i];
            CharSequence value = f[i + 1];
            int nameLength = name.length();
            int valueLength = value.length();
            buf.ensureWritable(nameLength + valueLength + 4);
            int at = buf.writerIndex();
            writeAscii(buf, at, name);
            at += nameLength;
            ByteBufUtil.setShortBE(buf, at, COLON_SPACE);
            at += 2;
            writeAscii(buf, at, value);
            at += valueLength;
            ByteBufUtil.setShortBE(buf, at, CRLF);
            buf.writerIndex(at + 2);
        }
    }

    private static void writeAscii(ByteBuf buf, int at, CharSequence s) {
        if (s instanceof AsciiString a) {
            ByteBufUtil.copy(a, 0, buf, at, a.length());
        } else {
            buf.setCharSequence(at, s, CharsetUtil.US_ASCII);
        }
    }

    // ---- lookups

    private static boolean sameName(CharSequence a, CharSequence b) {
        return a == b || a.length() == b.length() && AsciiString.contentEqualsIgnoreCase(a, b);
    }

    /** The index of the first field at or after {@code from} with that name, or -1. */
    private int find(CharSequence name, int from) {
        CharSequence[] f = fields;
        for (int i = from, n = size; i < n; i++) {
            if (sameName(f[i << 1], name)) {
                return i;
            }
        }
        return -1;
    }

    private CharSequence first(CharSequence name) {
        Objects.requireNonNull(name, "name");
        int i = find(name, 0);
        return i < 0 ? null : fields[(i << 1) + 1];
    }

    @Override
    public String get(String name) {
        return get((CharSequence) name);
    }

    @Override
    public String get(CharSequence name) {
        CharSequence v = first(name);
        return v == null ? null : v.toString();
    }

    private static final Function<CharSequence, Integer> INT = CharSequenceValueConverter.INSTANCE::convertToInt;
    private static final Function<CharSequence, Short> SHORT = CharSequenceValueConverter.INSTANCE::convertToShort;
    private static final Function<CharSequence, Long> TIME = v -> {
        Date d = DateFormatter.parseHttpDate(v);
        return d == null ? null : d.getTime();
    };

    /** The first value of that name parsed, or null when there is none or it does not parse. */
    private <T> T parsed(CharSequence name, Function<CharSequence, T> parse) {
        CharSequence v = first(name);
        if (v == null) {
            return null;
        }
        try {
            return parse.apply(v);
        } catch (RuntimeException e) {
            return null;
        }
    }

    @Override
    public Integer getInt(CharSequence name) {
        return parsed(name, INT);
    }

    @Override
    public int getInt(CharSequence name, int defaultValue) {
        Integer v = parsed(name, INT);
        return v == null ? defaultValue : v;
    }

    @Override
    public Short getShort(CharSequence name) {
        return parsed(name, SHORT);
    }

    @Override
    public short getShort(CharSequence name, short defaultValue) {
        Short v = parsed(name, SHORT);
        return v == null ? defaultValue : v;
    }

    @Override
    public Long getTimeMillis(CharSequence name) {
        return parsed(name, TIME);
    }

    @Override
    public long getTimeMillis(CharSequence name, long defaultValue) {
        Long v = parsed(name, TIME);
        return v == null ? defaultValue : v;
    }

    @Override
    public List<String> getAll(String name) {
        return getAll((CharSequence) name);
    }

    @Override
    public List<String> getAll(CharSequence name) {
        Objects.requireNonNull(name, "name");
        int i = find(name, 0);
        if (i < 0) {
            return Collections.emptyList();
        }
        int next = find(name, i + 1);
        if (next < 0) {
            return Collections.singletonList(fields[(i << 1) + 1].toString());
        }
        List<String> all = new ArrayList<>(4);
        all.add(fields[(i << 1) + 1].toString());
        for (i = next; i >= 0; i = find(name, i + 1)) {
            all.add(fields[(i << 1) + 1].toString());
        }
        return all;
    }

    /** How many fields have that name, counted without making a list of their values. */
    static int count(HttpHeaders h, CharSequence name) {
        if (!(h instanceof FlatHttpHeaders f)) {
            return h.getAll(name).size();
        }
        int n = 0;
        for (int i = f.find(name, 0); i >= 0; i = f.find(name, i + 1)) {
            n++;
        }
        return n;
    }

    @Override
    public List<Map.Entry<String, String>> entries() {
        if (size == 0) {
            return Collections.emptyList();
        }
        List<Map.Entry<String, String>> all = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            all.add(new AbstractMap.SimpleImmutableEntry<>(fields[i << 1].toString(), fields[(i << 1) + 1].toString()));
        }
        return all;
    }

    @Override
    public boolean contains(String name) {
        return contains((CharSequence) name);
    }

    @Override
    public boolean contains(CharSequence name) {
        return first(name) != null;
    }

    @Override
    public boolean contains(String name, String value, boolean ignoreCase) {
        return contains((CharSequence) name, value, ignoreCase);
    }

    /** A field with that name whose whole value equals {@code value}. */
    @Override
    public boolean contains(CharSequence name, CharSequence value, boolean ignoreCase) {
        Objects.requireNonNull(name, "name");
        for (int i = find(name, 0); i >= 0; i = find(name, i + 1)) {
            CharSequence v = fields[(i << 1) + 1];
            if (ignoreCase ? AsciiString.contentEqualsIgnoreCase(v, value) : AsciiString.contentEquals(v, value)) {
                return true;
            }
        }
        return false;
    }

    /** A field with that name one of whose comma-separated values, trimmed, equals {@code value}. */
    @Override
    public boolean containsValue(CharSequence name, CharSequence value, boolean ignoreCase) {
        Objects.requireNonNull(name, "name");
        for (int i = find(name, 0); i >= 0; i = find(name, i + 1)) {
            if (listContains(fields[(i << 1) + 1], value, ignoreCase)) {
                return true;
            }
        }
        return false;
    }

    private static boolean listContains(CharSequence list, CharSequence value, boolean ignoreCase) {
        int n = list.length();
        int want = value.length();
        for (int start = 0; start <= n; ) {
            int comma = start;
            while (comma < n && list.charAt(comma) != ',') {
                comma++;
            }
            int from = start;
            int to = comma;
            while (from < to && list.charAt(from) <= ' ') {
                from++;
            }
            while (to > from && list.charAt(to - 1) <= ' ') {
                to--;
            }
            if (to - from == want && AsciiString.regionMatches(list, ignoreCase, from, value, 0, want)) {
                return true;
            }
            start = comma + 1;
        }
        return false;
    }

    @Override
    public Iterator<String> valueStringIterator(CharSequence name) {
        Iterator<CharSequence> it = valueCharSequenceIterator(name);
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public String next() {
                return it.next().toString();
            }

            @Override
            public void remove() {
                it.remove();
            }
        };
    }

    @Override
    public Iterator<CharSequence> valueCharSequenceIterator(CharSequence name) {
        Objects.requireNonNull(name, "name");
        return new Iterator<>() {
            private int next = find(name, 0);
            private int last = -1;

            @Override
            public boolean hasNext() {
                return next >= 0;
            }

            @Override
            public CharSequence next() {
                if (next < 0) {
                    throw new NoSuchElementException();
                }
                last = next;
                next = find(name, next + 1);
                return fields[(last << 1) + 1];
            }

            @Override
            public void remove() {
                if (last < 0) {
                    throw new IllegalStateException();
                }
                removeAt(last);
                if (next > 0) {
                    next--;
                }
                last = -1;
            }
        };
    }

    @Override
    public Iterator<Map.Entry<String, String>> iterator() {
        return new Fields<>(true);
    }

    @Override
    public Iterator<Map.Entry<CharSequence, CharSequence>> iteratorCharSequence() {
        return new Fields<>(false);
    }

    /** Entries in order; an entry's setValue changes its field, and remove drops the last one returned. */
    private final class Fields<T extends CharSequence> implements Iterator<Map.Entry<T, T>> {
        private final boolean strings;
        private int next;
        private int last = -1;

        Fields(boolean strings) {
            this.strings = strings;
        }

        @Override
        public boolean hasNext() {
            return next < size;
        }

        @Override
        public Map.Entry<T, T> next() {
            if (next >= size) {
                throw new NoSuchElementException();
            }
            last = next++;
            return new Field<>(last, strings);
        }

        @Override
        public void remove() {
            if (last < 0) {
                throw new IllegalStateException();
            }
            removeAt(last);
            next = last;
            last = -1;
        }
    }

    private final class Field<T extends CharSequence> implements Map.Entry<T, T> {
        private final int index;
        private final boolean strings;
        private final int removalsThen;
        private final CharSequence name;
        private CharSequence value;

        Field(int index, boolean strings) {
            this.index = index;
            this.strings = strings;
            this.removalsThen = removals;
            this.name = fields[index << 1];
            this.value = fields[(index << 1) + 1];
        }

        @SuppressWarnings("unchecked")
        private T as(CharSequence s) {
            return (T) (strings ? s.toString() : s);
        }

        @Override
        public T getKey() {
            return as(name);
        }

        @Override
        public T getValue() {
            return as(value);
        }

        /** Changes the field in place; refused once a field was removed or the section cleared since. */
        @Override
        public T setValue(T newValue) {
            if (removals != removalsThen) {
                throw new IllegalStateException("the header section changed since this field was read");
            }
            T old = getValue();
            CharSequence v = checkedValue(name, newValue);
            fields[(index << 1) + 1] = v;
            value = v;
            return old;
        }

        @Override
        public String toString() {
            return name + "=" + value;
        }
    }

    @Override
    public boolean isEmpty() {
        return size == 0;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public Set<String> names() {
        Set<String> all = new LinkedHashSet<>(size * 2);
        for (int i = 0; i < size; i++) {
            all.add(fields[i << 1].toString());
        }
        return all;
    }

    // ---- changes

    private CharSequence checkedName(CharSequence name) {
        names.validateName(name);
        return name;
    }

    private CharSequence checkedValue(CharSequence name, Object value) {
        Objects.requireNonNull(value, "value");
        CharSequence v;
        if (value instanceof CharSequence s) {
            v = s;
        } else if (value instanceof Date d) {
            v = DateFormatter.format(d);
        } else if (value instanceof Calendar c) {
            v = DateFormatter.format(c.getTime());
        } else {
            v = value.toString();
        }
        try {
            values.validate(v);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Validation failed for header '" + name + "'", e);
        }
        return v;
    }

    private void append(CharSequence name, CharSequence value) {
        int at = size << 1;
        if (at == fields.length) {
            fields = Arrays.copyOf(fields, Math.max(FIRST_FIELDS * 2, at * 2));
        }
        fields[at] = name;
        fields[at + 1] = value;
        size++;
    }

    private void removeAt(int i) {
        removePair(fields, size, i);
        size--;
        removals++;
    }

    /**
     * Removes pair {@code i} of the first {@code size} name/value pairs in {@code fields}: the
     * pairs after it move up one, and the slot freed at the end is cleared. (FlatHttp2Headers too.)
     */
    static void removePair(CharSequence[] fields, int size, int i) {
        int at = i << 1;
        int end = size << 1;
        System.arraycopy(fields, at + 2, fields, at, end - at - 2);
        fields[end - 2] = null;
        fields[end - 1] = null;
    }

    /** Removes every field with that name from index {@code from} on. */
    private void removeFrom(CharSequence name, int from) {
        CharSequence[] f = fields;
        int kept = from;
        for (int i = from; i < size; i++) {
            if (!sameName(f[i << 1], name)) {
                f[kept << 1] = f[i << 1];
                f[(kept << 1) + 1] = f[(i << 1) + 1];
                kept++;
            }
        }
        if (kept < size) {
            Arrays.fill(f, kept << 1, size << 1, null);
            size = kept;
            removals++;
        }
    }

    @Override
    public HttpHeaders add(String name, Object value) {
        return add((CharSequence) name, value);
    }

    @Override
    public HttpHeaders add(CharSequence name, Object value) {
        append(checkedName(name), checkedValue(name, value));
        return this;
    }

    @Override
    public HttpHeaders add(String name, Iterable<?> values) {
        return add((CharSequence) name, values);
    }

    @Override
    public HttpHeaders add(CharSequence name, Iterable<?> values) {
        checkedName(name);
        for (Object v : values) {
            append(name, checkedValue(name, v));
        }
        return this;
    }

    @Override
    public HttpHeaders add(HttpHeaders headers) {
        Objects.requireNonNull(headers, "headers");
        if (headers == this) {
            throw new IllegalArgumentException("can't add to itself");
        }
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            add(e.getKey(), e.getValue());
        }
        return this;
    }

    @Override
    public HttpHeaders addInt(CharSequence name, int value) {
        return add(name, String.valueOf(value));
    }

    @Override
    public HttpHeaders addShort(CharSequence name, short value) {
        return add(name, String.valueOf(value));
    }

    @Override
    public HttpHeaders set(String name, Object value) {
        return set((CharSequence) name, value);
    }

    @Override
    public HttpHeaders set(CharSequence name, Object value) {
        CharSequence n = checkedName(name);
        CharSequence v = checkedValue(n, value);
        int i = find(n, 0);
        if (i < 0) {
            append(n, v);
        } else {
            fields[i << 1] = n;
            fields[(i << 1) + 1] = v;
            removeFrom(n, i + 1);
        }
        return this;
    }

    @Override
    public HttpHeaders set(String name, Iterable<?> values) {
        return set((CharSequence) name, values);
    }

    @Override
    public HttpHeaders set(CharSequence name, Iterable<?> values) {
        checkedName(name);
        List<CharSequence> checked = new ArrayList<>(2);
        for (Object v : values) {
            if (v == null) {
                break; // as Netty's headers do: the values up to the first null
            }
            checked.add(checkedValue(name, v));
        }
        removeFrom(name, 0);
        for (CharSequence v : checked) {
            append(name, v);
        }
        return this;
    }

    @Override
    public HttpHeaders set(HttpHeaders headers) {
        Objects.requireNonNull(headers, "headers");
        if (headers != this) {
            clear();
            add(headers);
        }
        return this;
    }

    @Override
    public HttpHeaders setInt(CharSequence name, int value) {
        return set(name, String.valueOf(value));
    }

    @Override
    public HttpHeaders setShort(CharSequence name, short value) {
        return set(name, String.valueOf(value));
    }

    @Override
    public HttpHeaders remove(String name) {
        return remove((CharSequence) name);
    }

    @Override
    public HttpHeaders remove(CharSequence name) {
        Objects.requireNonNull(name, "name");
        int i = find(name, 0);
        if (i >= 0) {
            removeFrom(name, i);
        }
        return this;
    }

    @Override
    public HttpHeaders clear() {
        Arrays.fill(fields, 0, size << 1, null);
        size = 0;
        removals++;
        return this;
    }

    @Override
    public HttpHeaders copy() {
        FlatHttpHeaders c = new FlatHttpHeaders(names, values);
        if (size > 0) {
            c.fields = Arrays.copyOf(fields, Math.max(FIRST_FIELDS * 2, size << 1));
            c.size = size;
        }
        return c;
    }

    /** The same fields in the same order, names compared without case and values with it. */
    @Override
    public boolean equals(Object o) {
        if (!(o instanceof FlatHttpHeaders other) || other.size != size) {
            return false;
        }
        for (int i = 0; i < size; i++) {
            if (!sameName(fields[i << 1], other.fields[i << 1])
                    || !AsciiString.contentEquals(fields[(i << 1) + 1], other.fields[(i << 1) + 1])) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        int h = size;
        for (int i = 0; i < size; i++) {
            h = 31 * h + AsciiString.hashCode(fields[i << 1]);
            h = 31 * h + AsciiString.hashCode(fields[(i << 1) + 1]);
        }
        return h;
    }
}
