package dev.sidecar.demo;

import java.util.List;

/**
 * What the demo's control plane assigns, step by step: two of the three instances in turn, then
 * all three with one of them reported UNHEALTHY, then all three healthy, and round again. Each
 * instance leaves and rejoins the assignment, so a client sees answers from an instance that was
 * not there a moment ago; the UNHEALTHY step shows EDS health taking an endpoint out of the
 * balancer while it stays in the set.
 */
final class EndpointSchedule {
    /** One assignment: the instances (1..3) in it, and the one reported unhealthy (0: none). */
    record Step(List<Integer> instances, int unhealthy) {
        Step {
            instances = List.copyOf(instances);
        }
    }

    private static final List<Step> CYCLE = List.of(
            new Step(List.of(1, 2), 0),
            new Step(List.of(2, 3), 0),
            new Step(List.of(1, 3), 0),
            new Step(List.of(1, 2, 3), 2),
            new Step(List.of(1, 2, 3), 0));

    private EndpointSchedule() {}

    /** The assignment of xDS endpoint version {@code version} (1, 2, ...). */
    static Step at(long version) {
        return CYCLE.get((int) ((version - 1) % CYCLE.size()));
    }

    /** Steps in one round. */
    static int cycleLength() {
        return CYCLE.size();
    }
}
