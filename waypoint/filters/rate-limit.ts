/**
 * The waypoint's rate limits, from the RateLimit resources that target it (ratelimit.ambit.dev
 * RateLimitPolicy): a local token bucket per policy and waypoint instance (Envoy's
 * local_ratelimit: it starts full with max_tokens, each request takes one, every fill_interval
 * adds tokens_per_fill up to max_tokens), and global fixed-window limits shared by all replicas
 * through Redis (redis-limiter.ts). Every policy targeting the request's service applies; local
 * buckets are asked first, and a request one of them refuses is not counted in Redis.
 *
 * Buckets live across configuration updates: a policy whose local settings did not change keeps
 * its bucket (an xDS push must not refill it); a changed one starts full again.
 */
import { durationMs } from '@bufbuild/protobuf/wkt';
import type { LocalRateLimit, RateLimit } from '../../lib/proto/gen/ambit/l7/v1/ratelimit_pb.js';
import type { L7Request } from './l7-request.js';
import { policiesFor } from './policy-targets.js';
import { combine, UNLIMITED, type RateLimitDecision } from './rate-limit-decision.js';
import { checkGlobal, RedisCounters } from './redis-limiter.js';

export { RATE_LIMITED_STATUS, rateLimitHeaders, type RateLimitDecision } from './rate-limit-decision.js';

export interface RateLimitClock {
  now(): number;
}

/** A token bucket; time is passed in so that tests step through it. */
export class TokenBucket {
  #tokens: number;
  #lastFill: number;

  constructor(
    readonly maxTokens: number,
    readonly tokensPerFill: number,
    readonly fillIntervalMs: number,
    now: number,
  ) {
    this.#tokens = maxTokens;
    this.#lastFill = now;
  }

  take(now: number): { allowed: boolean; remaining: number; resetSeconds: number } {
    if (now >= this.#lastFill + this.fillIntervalMs) {
      const fills = Math.floor((now - this.#lastFill) / this.fillIntervalMs);
      this.#tokens = Math.min(this.maxTokens, this.#tokens + fills * this.tokensPerFill);
      this.#lastFill += fills * this.fillIntervalMs;
    }
    const allowed = this.#tokens >= 1;
    if (allowed) this.#tokens--;
    const resetSeconds = Math.max(0, Math.ceil((this.#lastFill + this.fillIntervalMs - now) / 1000));
    return { allowed, remaining: this.#tokens, resetSeconds };
  }
}

/** The limits that apply to one service's requests; valid across updates of the resources. */
export interface RateLimiter {
  check(req: L7Request): Promise<RateLimitDecision>;
}

export interface RateLimitsOptions {
  /** `<ns>/<name>` of this waypoint's Gateway: resources not targeting it are ignored. */
  waypoint: string;
  clock?: RateLimitClock;
  /** Redis `host:port` for global limits whose resource names none (`--redis-address`). */
  redisAddress?: string;
  /** Makes the Redis connection for an address (tests inject their own options). */
  counters?: (address: string) => RedisCounters;
}

const policyKey = (p: RateLimit): string => `${p.namespace}/${p.name}`;

/** Istio's local rate limit needs a fill interval; the compiler refuses less than 50ms. */
const MIN_FILL_MS = 50;

function bucketSettings(l: LocalRateLimit): [number, number, number] | undefined {
  const interval = l.fillInterval ? durationMs(l.fillInterval) : 0;
  if (l.maxTokens < 1 || interval <= 0) return undefined;
  return [l.maxTokens, l.tokensPerFill >= 1 ? l.tokensPerFill : l.maxTokens, Math.max(MIN_FILL_MS, interval)];
}

export class RateLimits {
  #policies: RateLimit[] = [];
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #redis = new Map<string, RedisCounters>();
  readonly #clock: RateLimitClock;
  readonly #makeCounters: (address: string) => RedisCounters;

  constructor(private readonly opts: RateLimitsOptions) {
    this.#clock = opts.clock ?? Date;
    this.#makeCounters = opts.counters ?? ((address) => new RedisCounters(address));
  }

  /** The RateLimit resources now in force (all of them; those for other waypoints are dropped). */
  update(resources: readonly RateLimit[]): void {
    this.#policies = resources.filter((p) => p.targets.some((t) => t.waypoint === this.opts.waypoint));
    const live = new Set<string>();
    for (const p of this.#policies) {
      const k = policyKey(p);
      const s = p.local && bucketSettings(p.local);
      if (!s) continue;
      live.add(k);
      const b = this.#buckets.get(k);
      if (!b || b.maxTokens !== s[0] || b.tokensPerFill !== s[1] || b.fillIntervalMs !== s[2]) {
        this.#buckets.set(k, new TokenBucket(s[0], s[1], s[2], this.#clock.now()));
      }
    }
    for (const k of this.#buckets.keys()) if (!live.has(k)) this.#buckets.delete(k);
    const addresses = new Set(this.#policies.flatMap((p) => (p.global ? [this.#addressOf(p)] : [])));
    for (const [a, c] of this.#redis) {
      if (!addresses.has(a)) {
        void c.close();
        this.#redis.delete(a);
      }
    }
  }

  /** The limiter for requests to the service `hostname`. */
  limiter(hostname: string): RateLimiter {
    return { check: (req) => this.check(hostname, req) };
  }

  async check(hostname: string, req: L7Request): Promise<RateLimitDecision> {
    const policies = policiesFor(this.#policies, this.opts.waypoint, hostname);
    if (policies.length === 0) return UNLIMITED;
    const now = this.#clock.now();
    const local: RateLimitDecision[] = [];
    for (const p of policies) {
      const b = this.#buckets.get(policyKey(p));
      if (!b) continue;
      const r = b.take(now);
      local.push({
        ...r,
        limit: b.maxTokens,
        policy: policyKey(p),
        ...(r.allowed ? {} : { reason: `local rate limit ${policyKey(p)}: bucket of ${b.maxTokens} empty` }),
      });
    }
    const refused = local.find((d) => !d.allowed);
    if (refused) return combine(local);
    const global = await Promise.all(
      policies.flatMap((p) => {
        const g = p.global;
        if (!g || g.limits.length === 0) return [];
        const address = this.#addressOf(p);
        if (!address) {
          return [Promise.resolve<RateLimitDecision>({ allowed: true, limit: 0, remaining: 0, resetSeconds: 0, reason: `global rate limit ${policyKey(p)}: no Redis address` })];
        }
        return [checkGlobal(policyKey(p), g, req, this.#countersFor(address), this.#clock)];
      }),
    );
    return combine([...local, ...global]);
  }

  /** Redis connections in use, for /config_dump. */
  redisStatus(): Array<{ address: string; ready: boolean; lastError?: string }> {
    return [...this.#redis.values()].map((c) => ({ address: c.address, ready: c.ready, ...(c.lastError ? { lastError: c.lastError } : {}) }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#redis.values()].map((c) => c.close()));
    this.#redis.clear();
  }

  #addressOf(p: RateLimit): string {
    return p.global?.redisAddress || this.opts.redisAddress || '';
  }

  #countersFor(address: string): RedisCounters {
    let c = this.#redis.get(address);
    if (!c) {
      c = this.#makeCounters(address);
      this.#redis.set(address, c);
    }
    return c;
  }
}
