package dev.sidecar.l7;

import io.netty.handler.codec.CharSequenceValueConverter;
import io.netty.handler.codec.Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * An HTTP/2 header block the proxy builds to send ({@link H2Headers}): names and values in one
 * array, pseudo-header fields first and then the rest in the order they were added, as
 * {@code DefaultHttp2Headers} orders them. That class keeps a hash table for each block (a
 * bucket array, a list head and one entry object per field: about 330 bytes for a response of
 * five fields), for a block that is built once and then only walked, twice, by the HPACK encoder.
 *
 * <p>Names are compared as they are, since HTTP/2 names are lowercase, and values as written.
 * Nothing is validated, as with {@code new DefaultHttp2Headers(false)}: the fields come from
 * heads that Netty's decoders checked. The iterator hands back one {@link Map.Entry} that it
 * moves along, as Netty's {@code ReadOnlyHttp2Headers} does: an entry read from it is good
 * until the next call to {@code next()}. Typed values are converted as Netty's headers convert
 * them ({@link CharSequenceValueConverter}), a value that does not convert reading as absent.
 *
 * <p>Not thread-safe, as no header block is.
 */
final class FlatHttp2Headers implements Http2Headers {
    private static final CharSequenceValueConverter C = CharSequenceValueConverter.INSTANCE;
    private static final CharSequence[] NONE = new CharSequence[0];

    /** Field i's name at 2i, its value at 2i + 1; the first {@link #pseudo} fields are pseudo-header fields. */
    private CharSequence[] fields;
    private int size;
    private int pseudo;

    /** A block with room for {@code expected} fields before it grows. */
    FlatHttp2Headers(int expected) {
        fields = expected <= 0 ? NONE : new CharSequence[expected << 1];
    }

    private static boolean isPseudo(CharSequence name) {
        return name.length() > 0 && name.charAt(0) == ':';
    }

    /** The index of the first field named {@code name} at or after {@code from}, or -1. */
    private int find(CharSequence name, int from) {
        CharSequence[] f = fields;
        for (int i = from, n = size; i < n; i++) {
            CharSequence k = f[i << 1];
            if (k == name || AsciiString.contentEquals(k, name)) {
                return i;
            }
        }
        return -1;
    }

    private void insert(int at, CharSequence name, CharSequence value) {
        int end = size << 1;
        if (end == fields.length) {
            fields = Arrays.copyOf(fields, Math.max(16, end << 1));
        }
        int from = at << 1;
        System.arraycopy(fields, from, fields, from + 2, end - from);
        fields[from] = name;
        fields[from + 1] = value;
        size++;
    }

    private void removeAt(int i) {
        FlatHttpHeaders.removePair(fields, size, i);
        size--;
        if (i < pseudo) {
            pseudo--;
        }
    }

    // ---- reading

    @Override
    public CharSequence get(CharSequence name) {
        int i = find(name, 0);
        return i < 0 ? null : fields[(i << 1) + 1];
    }

    @Override
    public CharSequence get(CharSequence name, CharSequence defaultValue) {
        CharSequence v = get(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public List<CharSequence> getAll(CharSequence name) {
        List<CharSequence> values = new ArrayList<>(2);
        for (int i = find(name, 0); i >= 0; i = find(name, i + 1)) {
            values.add(fields[(i << 1) + 1]);
        }
        return values;
    }

    @Override
    public Iterator<CharSequence> valueIterator(CharSequence name) {
        return getAll(name).iterator();
    }

    @Override
    public boolean contains(CharSequence name) {
        return find(name, 0) >= 0;
    }

    @Override
    public boolean contains(CharSequence name, CharSequence value) {
        return contains(name, value, false);
    }

    @Override
    public boolean contains(CharSequence name, CharSequence value, boolean caseInsensitive) {
        for (int i = find(name, 0); i >= 0; i = find(name, i + 1)) {
            CharSequence v = fields[(i << 1) + 1];
            if (caseInsensitive ? AsciiString.contentEqualsIgnoreCase(v, value) : AsciiString.contentEquals(v, value)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public boolean isEmpty() {
        return size == 0;
    }

    @Override
    public Set<CharSequence> names() {
        Set<CharSequence> names = new LinkedHashSet<>();
        for (int i = 0; i < size; i++) {
            names.add(fields[i << 1]);
        }
        return names;
    }

    @Override
    public Iterator<Map.Entry<CharSequence, CharSequence>> iterator() {
        return new Fields();
    }

    /** The iterator and, moved along by {@code next()}, the one entry it hands out. */
    private final class Fields implements Iterator<Map.Entry<CharSequence, CharSequence>>, Map.Entry<CharSequence, CharSequence> {
        private int next;
        private int current = -1;

        @Override
        public boolean hasNext() {
            return next < size;
        }

        @Override
        public Map.Entry<CharSequence, CharSequence> next() {
            if (next >= size) {
                throw new NoSuchElementException();
            }
            current = next++;
            return this;
        }

        @Override
        public void remove() {
            if (current < 0) {
                throw new IllegalStateException("next() first");
            }
            removeAt(current);
            next = current;
            current = -1;
        }

        @Override
        public CharSequence getKey() {
            return fields[current << 1];
        }

        @Override
        public CharSequence getValue() {
            return fields[(current << 1) + 1];
        }

        @Override
        public CharSequence setValue(CharSequence value) {
            CharSequence old = getValue();
            fields[(current << 1) + 1] = Objects.requireNonNull(value, "value");
            return old;
        }

        @Override
        public String toString() {
            return getKey() + "=" + getValue();
        }
    }

    @Override
    public CharSequence method() {
        return pseudo(PseudoHeaderName.METHOD);
    }

    @Override
    public CharSequence scheme() {
        return pseudo(PseudoHeaderName.SCHEME);
    }

    @Override
    public CharSequence authority() {
        return pseudo(PseudoHeaderName.AUTHORITY);
    }

    @Override
    public CharSequence path() {
        return pseudo(PseudoHeaderName.PATH);
    }

    @Override
    public CharSequence status() {
        return pseudo(PseudoHeaderName.STATUS);
    }

    private CharSequence pseudo(PseudoHeaderName p) {
        AsciiString name = p.value();
        for (int i = 0; i < pseudo; i++) {
            CharSequence k = fields[i << 1];
            if (k == name || name.contentEquals(k)) {
                return fields[(i << 1) + 1];
            }
        }
        return null;
    }

    // ---- writing

    @Override
    public Http2Headers add(CharSequence name, CharSequence value) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(value, "value");
        if (isPseudo(name)) {
            insert(pseudo++, name, value);
        } else {
            insert(size, name, value);
        }
        return this;
    }

    @Override
    public Http2Headers add(CharSequence name, Iterable<? extends CharSequence> values) {
        for (CharSequence v : values) {
            add(name, v);
        }
        return this;
    }

    @Override
    public Http2Headers add(CharSequence name, CharSequence... values) {
        return add(name, Arrays.asList(values));
    }

    @Override
    public Http2Headers add(Headers<? extends CharSequence, ? extends CharSequence, ?> headers) {
        if (headers == this) {
            throw new IllegalArgumentException("can't add to itself.");
        }
        for (Map.Entry<? extends CharSequence, ? extends CharSequence> e : headers) {
            add(e.getKey(), e.getValue());
        }
        return this;
    }

    @Override
    public Http2Headers set(CharSequence name, CharSequence value) {
        remove(name);
        return add(name, value);
    }

    @Override
    public Http2Headers set(CharSequence name, Iterable<? extends CharSequence> values) {
        remove(name);
        return add(name, values);
    }

    @Override
    public Http2Headers set(CharSequence name, CharSequence... values) {
        remove(name);
        return add(name, values);
    }

    @Override
    public Http2Headers set(Headers<? extends CharSequence, ? extends CharSequence, ?> headers) {
        if (headers != this) {
            clear();
            add(headers);
        }
        return this;
    }

    @Override
    public Http2Headers setAll(Headers<? extends CharSequence, ? extends CharSequence, ?> headers) {
        if (headers != this) {
            for (CharSequence name : headers.names()) {
                remove(name);
            }
            add(headers);
        }
        return this;
    }

    @Override
    public boolean remove(CharSequence name) {
        boolean removed = false;
        for (int i = find(name, 0); i >= 0; i = find(name, i)) {
            removeAt(i);
            removed = true;
        }
        return removed;
    }

    @Override
    public Http2Headers clear() {
        Arrays.fill(fields, 0, size << 1, null);
        size = 0;
        pseudo = 0;
        return this;
    }

    @Override
    public CharSequence getAndRemove(CharSequence name) {
        CharSequence v = get(name);
        remove(name);
        return v;
    }

    @Override
    public CharSequence getAndRemove(CharSequence name, CharSequence defaultValue) {
        CharSequence v = getAndRemove(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public List<CharSequence> getAllAndRemove(CharSequence name) {
        List<CharSequence> values = getAll(name);
        remove(name);
        return values;
    }

    @Override
    public Http2Headers method(CharSequence value) {
        return set(PseudoHeaderName.METHOD.value(), value);
    }

    @Override
    public Http2Headers scheme(CharSequence value) {
        return set(PseudoHeaderName.SCHEME.value(), value);
    }

    @Override
    public Http2Headers authority(CharSequence value) {
        return set(PseudoHeaderName.AUTHORITY.value(), value);
    }

    @Override
    public Http2Headers path(CharSequence value) {
        return set(PseudoHeaderName.PATH.value(), value);
    }

    @Override
    public Http2Headers status(CharSequence value) {
        return set(PseudoHeaderName.STATUS.value(), value);
    }

    // ---- typed values, converted as Netty's headers convert them

    private <R> R typed(CharSequence value, Function<CharSequence, R> convert) {
        if (value == null) {
            return null;
        }
        try {
            return convert.apply(value);
        } catch (RuntimeException e) {
            return null;
        }
    }

    @Override
    public Boolean getBoolean(CharSequence name) {
        return typed(get(name), v -> C.convertToBoolean(v));
    }

    @Override
    public boolean getBoolean(CharSequence name, boolean defaultValue) {
        Boolean v = getBoolean(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Byte getByte(CharSequence name) {
        return typed(get(name), v -> C.convertToByte(v));
    }

    @Override
    public byte getByte(CharSequence name, byte defaultValue) {
        Byte v = getByte(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Character getChar(CharSequence name) {
        return typed(get(name), v -> C.convertToChar(v));
    }

    @Override
    public char getChar(CharSequence name, char defaultValue) {
        Character v = getChar(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Short getShort(CharSequence name) {
        return typed(get(name), v -> C.convertToShort(v));
    }

    @Override
    public short getShort(CharSequence name, short defaultValue) {
        Short v = getShort(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Integer getInt(CharSequence name) {
        return typed(get(name), v -> C.convertToInt(v));
    }

    @Override
    public int getInt(CharSequence name, int defaultValue) {
        Integer v = getInt(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Long getLong(CharSequence name) {
        return typed(get(name), v -> C.convertToLong(v));
    }

    @Override
    public long getLong(CharSequence name, long defaultValue) {
        Long v = getLong(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Float getFloat(CharSequence name) {
        return typed(get(name), v -> C.convertToFloat(v));
    }

    @Override
    public float getFloat(CharSequence name, float defaultValue) {
        Float v = getFloat(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Double getDouble(CharSequence name) {
        return typed(get(name), v -> C.convertToDouble(v));
    }

    @Override
    public double getDouble(CharSequence name, double defaultValue) {
        Double v = getDouble(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Long getTimeMillis(CharSequence name) {
        return typed(get(name), v -> C.convertToTimeMillis(v));
    }

    @Override
    public long getTimeMillis(CharSequence name, long defaultValue) {
        Long v = getTimeMillis(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Boolean getBooleanAndRemove(CharSequence name) {
        return typed(getAndRemove(name), v -> C.convertToBoolean(v));
    }

    @Override
    public boolean getBooleanAndRemove(CharSequence name, boolean defaultValue) {
        Boolean v = getBooleanAndRemove(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Byte getByteAndRemove(CharSequence name) {
        return typed(getAndRemove(name), v -> C.convertToByte(v));
    }

    @Override
    public byte getByteAndRemove(CharSequence name, byte defaultValue) {
        Byte v = getByteAndRemove(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Character getCharAndRemove(CharSequence name) {
        return typed(getAndRemove(name), v -> C.convertToChar(v));
    }

    @Override
    public char getCharAndRemove(CharSequence name, char defaultValue) {
        Character v = getCharAndRemove(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Short getShortAndRemove(CharSequence name) {
        return typed(getAndRemove(name), v -> C.convertToShort(v));
    }

    @Override
    public short getShortAndRemove(CharSequence name, short defaultValue) {
        Short v = getShortAndRemove(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Integer getIntAndRemove(CharSequence name) {
        return typed(getAndRemove(name), v -> C.convertToInt(v));
    }

    @Override
    public int getIntAndRemove(CharSequence name, int defaultValue) {
        Integer v = getIntAndRemove(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Long getLongAndRemove(CharSequence name) {
        return typed(getAndRemove(name), v -> C.convertToLong(v));
    }

    @Override
    public long getLongAndRemove(CharSequence name, long defaultValue) {
        Long v = getLongAndRemove(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Float getFloatAndRemove(CharSequence name) {
        return typed(getAndRemove(name), v -> C.convertToFloat(v));
    }

    @Override
    public float getFloatAndRemove(CharSequence name, float defaultValue) {
        Float v = getFloatAndRemove(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Double getDoubleAndRemove(CharSequence name) {
        return typed(getAndRemove(name), v -> C.convertToDouble(v));
    }

    @Override
    public double getDoubleAndRemove(CharSequence name, double defaultValue) {
        Double v = getDoubleAndRemove(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public Long getTimeMillisAndRemove(CharSequence name) {
        return typed(getAndRemove(name), v -> C.convertToTimeMillis(v));
    }

    @Override
    public long getTimeMillisAndRemove(CharSequence name, long defaultValue) {
        Long v = getTimeMillisAndRemove(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public boolean containsObject(CharSequence name, Object value) {
        return contains(name, C.convertObject(value));
    }

    @Override
    public boolean containsBoolean(CharSequence name, boolean value) {
        return contains(name, C.convertBoolean(value));
    }

    @Override
    public boolean containsByte(CharSequence name, byte value) {
        return contains(name, C.convertByte(value));
    }

    @Override
    public boolean containsChar(CharSequence name, char value) {
        return contains(name, C.convertChar(value));
    }

    @Override
    public boolean containsShort(CharSequence name, short value) {
        return contains(name, C.convertShort(value));
    }

    @Override
    public boolean containsInt(CharSequence name, int value) {
        return contains(name, C.convertInt(value));
    }

    @Override
    public boolean containsLong(CharSequence name, long value) {
        return contains(name, C.convertLong(value));
    }

    @Override
    public boolean containsFloat(CharSequence name, float value) {
        return contains(name, C.convertFloat(value));
    }

    @Override
    public boolean containsDouble(CharSequence name, double value) {
        return contains(name, C.convertDouble(value));
    }

    @Override
    public boolean containsTimeMillis(CharSequence name, long value) {
        return contains(name, C.convertTimeMillis(value));
    }

    @Override
    public Http2Headers addObject(CharSequence name, Object value) {
        return add(name, C.convertObject(Objects.requireNonNull(value, "value")));
    }

    @Override
    public Http2Headers addObject(CharSequence name, Iterable<?> values) {
        for (Object v : values) {
            addObject(name, v);
        }
        return this;
    }

    @Override
    public Http2Headers addObject(CharSequence name, Object... values) {
        return addObject(name, Arrays.asList(values));
    }

    @Override
    public Http2Headers addBoolean(CharSequence name, boolean value) {
        return add(name, C.convertBoolean(value));
    }

    @Override
    public Http2Headers addByte(CharSequence name, byte value) {
        return add(name, C.convertByte(value));
    }

    @Override
    public Http2Headers addChar(CharSequence name, char value) {
        return add(name, C.convertChar(value));
    }

    @Override
    public Http2Headers addShort(CharSequence name, short value) {
        return add(name, C.convertShort(value));
    }

    @Override
    public Http2Headers addInt(CharSequence name, int value) {
        return add(name, C.convertInt(value));
    }

    @Override
    public Http2Headers addLong(CharSequence name, long value) {
        return add(name, C.convertLong(value));
    }

    @Override
    public Http2Headers addFloat(CharSequence name, float value) {
        return add(name, C.convertFloat(value));
    }

    @Override
    public Http2Headers addDouble(CharSequence name, double value) {
        return add(name, C.convertDouble(value));
    }

    @Override
    public Http2Headers addTimeMillis(CharSequence name, long value) {
        return add(name, C.convertTimeMillis(value));
    }

    @Override
    public Http2Headers setObject(CharSequence name, Object value) {
        return set(name, C.convertObject(Objects.requireNonNull(value, "value")));
    }

    @Override
    public Http2Headers setObject(CharSequence name, Iterable<?> values) {
        remove(name);
        return addObject(name, values);
    }

    @Override
    public Http2Headers setObject(CharSequence name, Object... values) {
        remove(name);
        return addObject(name, values);
    }

    @Override
    public Http2Headers setBoolean(CharSequence name, boolean value) {
        return set(name, C.convertBoolean(value));
    }

    @Override
    public Http2Headers setByte(CharSequence name, byte value) {
        return set(name, C.convertByte(value));
    }

    @Override
    public Http2Headers setChar(CharSequence name, char value) {
        return set(name, C.convertChar(value));
    }

    @Override
    public Http2Headers setShort(CharSequence name, short value) {
        return set(name, C.convertShort(value));
    }

    @Override
    public Http2Headers setInt(CharSequence name, int value) {
        return set(name, C.convertInt(value));
    }

    @Override
    public Http2Headers setLong(CharSequence name, long value) {
        return set(name, C.convertLong(value));
    }

    @Override
    public Http2Headers setFloat(CharSequence name, float value) {
        return set(name, C.convertFloat(value));
    }

    @Override
    public Http2Headers setDouble(CharSequence name, double value) {
        return set(name, C.convertDouble(value));
    }

    @Override
    public Http2Headers setTimeMillis(CharSequence name, long value) {
        return set(name, C.convertTimeMillis(value));
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("FlatHttp2Headers[");
        for (int i = 0; i < size; i++) {
            b.append(i == 0 ? "" : ", ").append(fields[i << 1]).append(": ").append(fields[(i << 1) + 1]);
        }
        return b.append(']').toString();
    }
}
