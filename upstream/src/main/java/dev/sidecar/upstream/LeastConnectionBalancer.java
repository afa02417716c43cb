package dev.sidecar.upstream;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Least connection by full scan: the endpoint with the lowest (active + 1) / weight, ties broken
 * uniformly at random (reservoir sampling, so one pass and no allocation). The +1 makes weights
 * count when nothing is active yet: with weights 2 and 1 and no connections, the heavier
 * endpoint goes first. Random ties keep several proxies, or several event loops, from all
 * sending their next connection to the same idle endpoint.
 *
 * <p>Exact, and O(n) per pick: right for the tens of endpoints a sidecar usually sees. Large
 * clusters want power-of-two-choices (least_request), which samples instead of scanning.
 */
final class LeastConnectionBalancer implements LoadBalancer {
    private final Endpoint[] endpoints;
    private final int[] weights;

    LeastConnectionBalancer(Endpoint[] endpoints, int[] weights) {
        this.endpoints = endpoints;
        this.weights = weights;
    }

    @Override
    public Endpoint pick(PickContext context) {
        int best = 0;
        long bestLoad = endpoints[0].activeConnections() + 1L;
        int bestWeight = weights[0];
        int ties = 1;
        ThreadLocalRandom random = null;
        for (int i = 1; i < endpoints.length; i++) {
            long load = endpoints[i].activeConnections() + 1L;
            int weight = weights[i];
            // load/weight < bestLoad/bestWeight, in integers
            long lhs = load * bestWeight;
            long rhs = bestLoad * weight;
            if (lhs < rhs) {
                best = i;
                bestLoad = load;
                bestWeight = weight;
                ties = 1;
            } else if (lhs == rhs) {
                if (random == null) {
                    random = ThreadLocalRandom.current();
                }
                if (random.nextInt(++ties) == 0) {
                    best = i;
                    bestLoad = load;
                    bestWeight = weight;
                }
            }
        }
        return endpoints[best];
    }
}
