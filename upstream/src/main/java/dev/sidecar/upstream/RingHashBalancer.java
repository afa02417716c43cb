package dev.sidecar.upstream;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.util.Arrays;
import java.util.Comparator;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.IntStream;
import net.openhft.hashing.LongHashFunction;

/**
 * Ketama-style consistent hashing with optional bounded loads. Each endpoint owns virtual nodes
 * on a 64-bit circle, in number proportional to its weight; a key belongs to the first virtual
 * node at or after its hash. Removing an endpoint moves only the keys on its own arcs, and
 * adding one takes keys only for its new arcs (Karger et al., STOC 1997).
 *
 * <p>The ring is two parallel arrays, {@code long[] hashes} sorted and {@code int[] owners}, so a
 * pick is {@link Arrays#binarySearch(long[], long)} and two array reads: no objects per entry,
 * 12 bytes per virtual node, nothing allocated per pick. Positions are compared as signed longs;
 * that is the same circle as Envoy's unsigned one (successor is +1 mod 2^64 in both), only cut
 * open at a different point, so "first position at or after the hash, wrapping to the start"
 * selects the same virtual node.
 *
 * <p>Sizing follows Envoy's {@code ring_hash_lb.cc}: the ring is scaled so that the lightest
 * endpoint gets a whole number (at least one) of virtual nodes when the ring holds at least
 * {@code minRingSize}, then clamped to {@code maxRingSize}; if the clamp bites, the lightest
 * endpoints may get none. Virtual node j of an endpoint sits at xxHash64 of
 * {@code "host:port_j"} (UTF-8, seed 0), Envoy's key. Entries per endpoint are handed out from
 * running sums over the endpoints in address order, so fractional shares do not all round the
 * same way and the ring depends on the set of endpoints, not on the order they were listed in.
 * The sums are exact integer arithmetic where Envoy uses doubles, which is why the sum of weights
 * is held to Envoy's own limit of 2^32 - 1: every product below then fits in a long.
 *
 * <p>Bounded loads (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads",
 * SODA 2018, arXiv:1608.01350): with a balance factor c = {@code hashBalanceFactor / 100}, an
 * endpoint may take a request only if it would then carry at most {@code ceil(c * (T + 1) * w /
 * W)} requests, where T is the cluster's active requests, w its weight and W the total weight;
 * with equal weights that is {@code ceil(c * (T + 1) / n)}, c times the mean after this request.
 * A key whose owner is full walks clockwise to the next endpoint with room, as in the paper.
 * Envoy instead probes endpoints in a pseudo-random order seeded by the hash (Chen et al.,
 * arXiv:1908.08762) so that overflow from a hot arc does not cascade onto its clockwise
 * neighbours; that needs a shuffle buffer per pick, which this balancer does not allocate. Since
 * c >= 1 and the bounds sum to c * (T + 1) > T, some endpoint always has room, so the walk ends
 * at an endpoint within its bound unless counts change under it; bounded by one lap of the ring,
 * it returns the original owner if it finds none.
 */
final class RingHashBalancer implements LoadBalancer {
    /** Envoy's limit on {@code maximum_ring_size} (and its default): 8M entries, 96 MiB here. */
    static final long MAX_RING_SIZE = 8_388_608;
    /** Envoy's limit on the sum of endpoint weights (a uint32). */
    static final long MAX_TOTAL_WEIGHT = 0xFFFF_FFFFL;

    private static final LongHashFunction HASH = LongHashFunction.xx(0);

    private final Endpoint[] endpoints;
    private final long[] hashes;
    private final int[] owners;
    /** 0 when bounded loads is off. */
    private final int balanceFactor;
    /** {@code hashBalanceFactor * weight} per endpoint: the right-hand side's fixed part. */
    private final long[] capacity;
    /** {@code 100 * total weight}: the left-hand side's fixed part. */
    private final long demandScale;

    private RingHashBalancer(Endpoint[] endpoints, long[] hashes, int[] owners, int balanceFactor, long[] capacity, long demandScale) {
        this.endpoints = endpoints;
        this.hashes = hashes;
        this.owners = owners;
        this.balanceFactor = balanceFactor;
        this.capacity = capacity;
        this.demandScale = demandScale;
    }

    /**
     * Builds the ring. {@code weights[i] >= 1} is the weight of {@code endpoints[i]};
     * {@code 1 <= minRingSize <= maxRingSize <= 8M}; {@code hashBalanceFactor} is a percentage,
     * 0 to turn bounded loads off or at least 100.
     */
    static LoadBalancer create(Endpoint[] endpoints, int[] weights, long minRingSize, long maxRingSize, int hashBalanceFactor) {
        if (endpoints.length == 0 || endpoints.length != weights.length) {
            throw new IllegalArgumentException(endpoints.length + " endpoints but " + weights.length + " weights");
        }
        if (minRingSize < 1 || minRingSize > maxRingSize || maxRingSize > MAX_RING_SIZE) {
            throw new IllegalArgumentException(
                    "ring size must satisfy 1 <= min <= max <= " + MAX_RING_SIZE + ", got min " + minRingSize + ", max " + maxRingSize);
        }
        if (hashBalanceFactor != 0 && hashBalanceFactor < 100) {
            throw new IllegalArgumentException("hash balance factor must be 0 (off) or at least 100, got " + hashBalanceFactor);
        }
        int n = endpoints.length;
        String[] keys = new String[n];
        for (int i = 0; i < n; i++) {
            keys[i] = endpoints[i].address().toString();
        }
        int[] order = IntStream.range(0, n).boxed().sorted(Comparator.comparing(i -> keys[i])).mapToInt(i -> i).toArray();
        Endpoint[] sorted = new Endpoint[n];
        int[] w = new int[n];
        long totalWeight = 0;
        int minWeight = Integer.MAX_VALUE;
        for (int k = 0; k < n; k++) {
            sorted[k] = endpoints[order[k]];
            w[k] = weights[order[k]];
            if (w[k] < 1) {
                throw new IllegalArgumentException("ring hash weights must be at least 1, got " + w[k]);
            }
            totalWeight += w[k];
            minWeight = Math.min(minWeight, w[k]);
        }
        if (totalWeight > MAX_TOTAL_WEIGHT) {
            throw new IllegalArgumentException("ring hash weights must sum to at most " + MAX_TOTAL_WEIGHT + ", got " + totalWeight);
        }

        // Envoy's scale = min(ceil(minNorm * minRingSize) / minNorm, maxRingSize) with minNorm =
        // minWeight / totalWeight, kept as the fraction num / den: entries up to a prefix of the
        // weights P are ceil(P * num / den). Unclamped, num / den = perLightest * total / minWeight.
        long perLightest = ceilDiv(minWeight * minRingSize, totalWeight);
        long num;
        long den;
        if (perLightest * totalWeight <= maxRingSize * minWeight) {
            num = perLightest;
            den = minWeight;
        } else {
            num = maxRingSize;
            den = totalWeight;
        }
        int ringSize = (int) ceilDiv(totalWeight * num, den);

        long[] hashes = new long[ringSize];
        int[] owners = new int[ringSize];
        int at = 0;
        long prefix = 0;
        for (int k = 0; k < n; k++) {
            prefix += w[k];
            int upTo = (int) ceilDiv(prefix * num, den);
            at = addVirtualNodes(keys[order[k]], k, upTo - at, hashes, owners, at);
        }
        sortByHash(hashes, owners);

        long[] capacity = new long[n];
        for (int k = 0; k < n; k++) {
            capacity[k] = (long) hashBalanceFactor * w[k];
        }
        return new RingHashBalancer(sorted, hashes, owners, hashBalanceFactor, capacity, 100 * totalWeight);
    }

    /** For positive operands; Math.ceilDiv arrives only in Java 18. */
    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /** Hashes "address_0" .. "address_(count-1)" without a String per virtual node. */
    private static int addVirtualNodes(String address, int owner, int count, long[] hashes, int[] owners, int at) {
        byte[] prefix = address.getBytes(UTF_8);
        byte[] key = Arrays.copyOf(prefix, prefix.length + 1 + 10);
        key[prefix.length] = '_';
        for (int j = 0; j < count; j++) {
            int length = writeDecimal(j, key, prefix.length + 1);
            hashes[at] = HASH.hashBytes(key, 0, length);
            owners[at] = owner;
            at++;
        }
        return at;
    }

    /** Writes {@code value >= 0} in decimal at {@code from}; returns the end. */
    private static int writeDecimal(int value, byte[] into, int from) {
        int digits = 1;
        for (int v = value; v >= 10; v /= 10) {
            digits++;
        }
        int end = from + digits;
        for (int i = end - 1; i >= from; i--) {
            into[i] = (byte) ('0' + value % 10);
            value /= 10;
        }
        return end;
    }

    /**
     * Least-significant-digit radix sort of the positions, carrying the owners along: stable, so
     * equal positions keep address order, and free of boxing, which {@link Arrays#sort} on an
     * index array would need for a ring of up to 8M entries. The sign bit is flipped when taking
     * digits so the byte order matches the signed order that {@link Arrays#binarySearch} uses.
     */
    private static void sortByHash(long[] hashes, int[] owners) {
        int n = hashes.length;
        long[] fromHashes = hashes;
        int[] fromOwners = owners;
        long[] toHashes = new long[n];
        int[] toOwners = new int[n];
        int[] start = new int[257];
        for (int shift = 0; shift < 64; shift += 8) {
            Arrays.fill(start, 0);
            for (long h : fromHashes) {
                start[digit(h, shift) + 1]++;
            }
            for (int d = 0; d < 256; d++) {
                start[d + 1] += start[d];
            }
            for (int i = 0; i < n; i++) {
                int to = start[digit(fromHashes[i], shift)]++;
                toHashes[to] = fromHashes[i];
                toOwners[to] = fromOwners[i];
            }
            long[] h = fromHashes;
            fromHashes = toHashes;
            toHashes = h;
            int[] o = fromOwners;
            fromOwners = toOwners;
            toOwners = o;
        }
        // eight passes, an even number: the sorted data is back in the caller's arrays
    }

    private static int digit(long hash, int shift) {
        return (int) ((hash ^ Long.MIN_VALUE) >>> shift) & 0xFF;
    }

    @Override
    public Endpoint pick(PickContext context) {
        // Without a key, a random virtual node: virtual nodes follow the weights.
        int at = context.hasHash() ? position(context.hash()) : ThreadLocalRandom.current().nextInt(hashes.length);
        int owner = owners[at];
        if (balanceFactor == 0) {
            return endpoints[owner];
        }
        return withinBound(at, owner);
    }

    /** The index of the first virtual node at or after {@code hash}, wrapping to 0. */
    private int position(long hash) {
        int i = Arrays.binarySearch(hashes, hash);
        if (i < 0) {
            i = -i - 1;
            return i == hashes.length ? 0 : i;
        }
        while (i > 0 && hashes[i - 1] == hash) {
            i--; // binarySearch may land on any of equal positions; the first one owns the key
        }
        return i;
    }

    private Endpoint withinBound(int at, int owner) {
        Endpoint first = endpoints[owner];
        int active = first.activeRequests();
        if (active == 0) {
            return first; // idle is within any bound, and skips the O(n) sum below
        }
        // T is summed over the endpoints on each pick that needs it: O(n) volatile reads, not
        // O(ring). A cluster-wide counter would make this O(1) (Envoy reads its cluster's
        // upstream_rq_active), but every requestStarted/Finished would then contend on one more
        // shared atomic, and it would have to be kept by Cluster across snapshots. Endpoints are
        // read one by one, so under concurrency T is a near, not exact, total.
        long total = 0;
        for (Endpoint e : endpoints) {
            total += e.activeRequests();
        }
        if (hasRoom(active, owner, total)) {
            return first;
        }
        int length = owners.length;
        int lastRejected = owner;
        for (int step = 1; step < length; step++) {
            int j = at + step;
            if (j >= length) {
                j -= length;
            }
            int candidate = owners[j];
            if (candidate == owner || candidate == lastRejected) {
                continue; // the same endpoint again: it has no room either
            }
            Endpoint e = endpoints[candidate];
            if (hasRoom(e.activeRequests(), candidate, total)) {
                return e;
            }
            lastRejected = candidate;
        }
        return first;
    }

    /**
     * {@code active + 1 <= ceil(c * (total + 1) * w / W)}, which for integers is
     * {@code active < c * (total + 1) * w / W}, i.e.
     * {@code active * 100 * W < factor * w * (total + 1)}: no division, so no rounding can let
     * an endpoint over its bound. Both sides can pass 2^63, hence the 128-bit comparison.
     */
    private boolean hasRoom(int active, int endpoint, long total) {
        return productLess(active, demandScale, capacity[endpoint], total + 1);
    }

    /** {@code a * b < c * d} for non-negative longs, compared on the full 128-bit products. */
    static boolean productLess(long a, long b, long c, long d) {
        long high1 = Math.multiplyHigh(a, b);
        long high2 = Math.multiplyHigh(c, d);
        if (high1 != high2) {
            return high1 < high2;
        }
        return Long.compareUnsigned(a * b, c * d) < 0;
    }

    int ringSize() {
        return hashes.length;
    }

    /** Virtual nodes owned by {@code endpoint}; for tests. */
    int virtualNodes(Endpoint endpoint) {
        int count = 0;
        for (int owner : owners) {
            if (endpoints[owner] == endpoint) {
                count++;
            }
        }
        return count;
    }
}
