package dev.sidecar.upstream;

/**
 * What a pick may depend on besides the endpoints: for consistent-hash policies, the request's
 * hash key (the source address on L4; a header, cookie, query parameter or path on L7), already
 * hashed to 64 bits. A policy that needs a key and gets none picks at random.
 */
public interface PickContext {
    /** A pick that carries no request attributes. */
    PickContext NONE = new PickContext() {};

    /** True if {@link #hash()} carries a key. */
    default boolean hasHash() {
        return false;
    }

    /** The 64-bit hash of the request's key; meaningful only when {@link #hasHash()}. */
    default long hash() {
        return 0;
    }

    /** A context carrying {@code hash}. */
    static PickContext ofHash(long hash) {
        return new Hashed(hash);
    }

    record Hashed(long hash) implements PickContext {
        @Override
        public boolean hasHash() {
            return true;
        }
    }
}
