package dev.sidecar.upstream;

import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.LbSettings;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;

/**
 * Priority levels, health and panic on top of a policy's balancer, following Envoy's model.
 *
 * <p>Each level's availability is its healthy share of endpoints times the overprovisioning
 * factor 1.4 (so a level that is 72 % healthy still takes all its traffic), capped at 100 %.
 * Traffic fills levels in priority order: level 0 takes its availability, level 1 the rest up
 * to its own, and so on; if all levels together cannot reach 100 %, the shares are scaled up
 * in proportion. When even that total falls below {@code healthy_panic_threshold}, health is
 * ignored and every endpoint of every level gets traffic: spreading the load over endpoints that
 * may be fine is better than crushing the few still marked healthy.
 *
 * <p>Built once per snapshot; a pick with one active level is a single delegation.
 */
final class PriorityBalancer implements LoadBalancer {
    /** Envoy's default overprovisioning factor, in percent. */
    static final int OVERPROVISIONING = 140;

    private final LoadBalancer[] levels;
    /** cumulative[i] = sum of the shares (out of 10,000) of levels 0..i. */
    private final int[] cumulative;
    private final boolean panic;
    private final int healthy;

    private PriorityBalancer(LoadBalancer[] levels, int[] cumulative, boolean panic, int healthy) {
        this.levels = levels;
        this.cumulative = cumulative;
        this.panic = panic;
        this.healthy = healthy;
    }

    static PriorityBalancer build(LbPolicy policy, LbSettings settings, List<Endpoint> endpoints, int[] weights, int[] priorities,
                                  LongSupplier nanoClock) {
        TreeMap<Integer, List<Integer>> byLevel = new TreeMap<>();
        for (int i = 0; i < endpoints.size(); i++) {
            byLevel.computeIfAbsent(priorities[i], k -> new ArrayList<>()).add(i);
        }
        int levelCount = byLevel.size();
        int[] availability = new int[levelCount]; // percent
        int healthyTotal = 0;
        int level = 0;
        for (List<Integer> members : byLevel.values()) {
            int healthy = 0;
            for (int i : members) {
                if (endpoints.get(i).healthy()) {
                    healthy++;
                }
            }
            healthyTotal += healthy;
            availability[level++] = (int) Math.min(100, (long) healthy * OVERPROVISIONING / members.size());
        }
        int totalAvailability = 0;
        for (int a : availability) {
            totalAvailability += a;
        }
        totalAvailability = Math.min(100, totalAvailability);
        // No availability at all (nothing healthy, or too few for a whole percent) leaves no level
        // to send to: balance over everything then, whatever the threshold says.
        if (endpoints.isEmpty() || totalAvailability < settings.healthyPanicThreshold() || totalAvailability == 0) {
            LoadBalancer all = LoadBalancer.of(policy, settings, endpoints, weights, nanoClock);
            return new PriorityBalancer(new LoadBalancer[] {all}, new int[] {10_000}, !endpoints.isEmpty(), healthyTotal);
        }
        // Fill levels in order, then scale up if the levels together fall short of 100 %.
        int[] share = new int[levelCount];
        int remaining = 100;
        for (int l = 0; l < levelCount; l++) {
            share[l] = Math.min(remaining, availability[l]);
            remaining -= share[l];
        }
        int assigned = 100 - remaining;
        List<LoadBalancer> balancers = new ArrayList<>();
        List<Integer> bounds = new ArrayList<>();
        int acc = 0;
        level = 0;
        for (List<Integer> members : byLevel.values()) {
            int s = share[level++];
            if (s == 0) {
                continue;
            }
            List<Endpoint> healthy = new ArrayList<>();
            List<Integer> w = new ArrayList<>();
            for (int i : members) {
                if (endpoints.get(i).healthy()) {
                    healthy.add(endpoints.get(i));
                    w.add(weights[i]);
                }
            }
            balancers.add(LoadBalancer.of(policy, settings, healthy, w.stream().mapToInt(Integer::intValue).toArray(), nanoClock));
            acc += s * 10_000 / assigned;
            bounds.add(acc);
        }
        int[] cumulative = bounds.stream().mapToInt(Integer::intValue).toArray();
        cumulative[cumulative.length - 1] = 10_000; // rounding
        return new PriorityBalancer(balancers.toArray(new LoadBalancer[0]), cumulative, false, healthyTotal);
    }

    @Override
    public Endpoint pick(PickContext context) {
        if (levels.length == 1) {
            return levels[0].pick(context);
        }
        // With a hash key the level follows the key too, so one key sticks to one level.
        int r = context.hasHash() ? (int) Long.remainderUnsigned(Long.rotateLeft(context.hash(), 17), 10_000)
                : ThreadLocalRandom.current().nextInt(10_000);
        for (int l = 0; l < cumulative.length; l++) {
            if (r < cumulative[l]) {
                return levels[l].pick(context);
            }
        }
        return levels[levels.length - 1].pick(context);
    }

    boolean panic() {
        return panic;
    }

    int healthy() {
        return healthy;
    }

    /** The share of traffic, out of 10,000, each active level gets (for tests and the admin API). */
    int[] shares() {
        int[] s = new int[cumulative.length];
        int prev = 0;
        for (int i = 0; i < s.length; i++) {
            s[i] = cumulative[i] - prev;
            prev = cumulative[i];
        }
        return s;
    }
}
