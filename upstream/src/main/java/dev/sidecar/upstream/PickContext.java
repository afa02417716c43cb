package dev.sidecar.upstream;

/**
 * What a pick may depend on besides the endpoints. For now nothing: consistent-hash policies
 * will read a hash key from here (the source address on L4, a header on L7).
 */
public interface PickContext {
    /** A pick that carries no request attributes. */
    PickContext NONE = new PickContext() {};
}
