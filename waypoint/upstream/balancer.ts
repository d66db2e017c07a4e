/**
 * Picks the endpoint for one upstream request, by the DestinationPolicy's load balancer
 * (Istio's `loadBalancer`): LEAST_REQUEST (the default: power of two choices over active
 * requests, weighted), ROUND_ROBIN (smooth weighted), RANDOM (weighted) and CONSISTENT_HASH
 * (a ring hash keyed by a header, a cookie, a query parameter or the source IP). Pure: the random
 * source is injected, and the caller passes the endpoints that may be used (subset applied,
 * ejected ones removed) on every pick.
 */
import { LoadBalancer_Policy, type LoadBalancer } from '../../lib/proto/gen/ambit/l7/v1/destination_pb.js';
import { HashRing, hash32 } from './hash-ring.js';

export interface UpstreamEndpoint {
  /** Stable across updates (the ring and round-robin state are keyed by it). */
  id: string;
  address: string;
  port: number;
  /** Relative share; values below 1 (or not numbers) count as 1. */
  weight: number;
  labels: Record<string, string>;
  /** Requests in flight to this endpoint from this waypoint. */
  active: number;
}

export interface PickContext {
  /** Lower-case names, as Node's http/http2 servers hand them out. */
  headers: Record<string, string | string[] | undefined>;
  sourceIp: string;
  /** Path with query, for a query-parameter hash key; defaults to the `:path` header. */
  path?: string;
}

export interface Balancer {
  /** The endpoint for this request, or undefined when `endpoints` is empty. */
  pick(endpoints: readonly UpstreamEndpoint[], ctx: PickContext): UpstreamEndpoint | undefined;
}

export interface BalancerOptions {
  /** Uniform in [0, 1); Math.random by default. */
  random?: () => number;
}

/** Istio's default ring size. */
const DEFAULT_RING_SIZE = 1024;

const weightOf = (e: UpstreamEndpoint): number => (Number.isFinite(e.weight) && e.weight >= 1 ? Math.round(e.weight) : 1);

function sameWeights(eps: readonly UpstreamEndpoint[]): boolean {
  const w = eps[0] ? weightOf(eps[0]) : 1;
  return eps.every((e) => weightOf(e) === w);
}

/** Weighted random index; `skip` is left out of the draw. */
function weightedIndex(eps: readonly UpstreamEndpoint[], random: () => number, skip = -1): number {
  let total = 0;
  for (let i = 0; i < eps.length; i++) if (i !== skip) total += weightOf(eps[i] as UpstreamEndpoint);
  let r = random() * total;
  let last = -1;
  for (let i = 0; i < eps.length; i++) {
    if (i === skip) continue;
    last = i;
    r -= weightOf(eps[i] as UpstreamEndpoint);
    if (r < 0) return i;
  }
  return last;
}

function uniformIndex(n: number, random: () => number, skip = -1): number {
  if (skip < 0) return Math.min(n - 1, Math.floor(random() * n));
  const i = Math.min(n - 2, Math.floor(random() * (n - 1)));
  return i >= skip ? i + 1 : i;
}

class RandomBalancer implements Balancer {
  constructor(private readonly random: () => number) {}

  pick(eps: readonly UpstreamEndpoint[]): UpstreamEndpoint | undefined {
    if (eps.length <= 1) return eps[0];
    return eps[sameWeights(eps) ? uniformIndex(eps.length, this.random) : weightedIndex(eps, this.random)];
  }
}

/**
 * Power of two choices: two distinct candidates drawn in proportion to weight, the one with
 * fewer requests in flight wins, the first drawn on a tie. Idle endpoints therefore share load by
 * weight, and a busy endpoint is only chosen when both candidates are at least as busy.
 */
class LeastRequestBalancer implements Balancer {
  constructor(private readonly random: () => number) {}

  pick(eps: readonly UpstreamEndpoint[]): UpstreamEndpoint | undefined {
    if (eps.length <= 1) return eps[0];
    const equal = sameWeights(eps);
    const a = equal ? uniformIndex(eps.length, this.random) : weightedIndex(eps, this.random);
    const b = equal ? uniformIndex(eps.length, this.random, a) : weightedIndex(eps, this.random, a);
    const ea = eps[a] as UpstreamEndpoint;
    const eb = eps[b] as UpstreamEndpoint;
    return eb.active < ea.active ? eb : ea;
  }
}

/**
 * Smooth weighted round robin (as nginx does it): each pick adds every endpoint's weight to its
 * credit and takes the one with the most, which then pays the total. Equal weights give plain
 * rotation in the order given; unequal ones interleave rather than burst.
 */
class RoundRobinBalancer implements Balancer {
  readonly #credit = new Map<string, number>();

  pick(eps: readonly UpstreamEndpoint[]): UpstreamEndpoint | undefined {
    if (eps.length <= 1) return eps[0];
    let total = 0;
    let best: UpstreamEndpoint | undefined;
    let bestCredit = -Infinity;
    for (const e of eps) {
      const w = weightOf(e);
      total += w;
      const c = (this.#credit.get(e.id) ?? 0) + w;
      this.#credit.set(e.id, c);
      if (c > bestCredit) {
        best = e;
        bestCredit = c;
      }
    }
    const chosen = best as UpstreamEndpoint;
    this.#credit.set(chosen.id, bestCredit - total);
    // Endpoints that left keep no credit for long.
    if (this.#credit.size > eps.length * 2) {
      const live = new Set(eps.map((e) => e.id));
      for (const id of this.#credit.keys()) if (!live.has(id)) this.#credit.delete(id);
    }
    return chosen;
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? (v.length ? v.join(',') : undefined) : v;
}

/** The value of cookie `name` in a Cookie header (several headers joined by `; ` in HTTP/2). */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  const all = Array.isArray(header) ? header.join('; ') : header;
  if (!all) return undefined;
  for (const part of all.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function queryValue(path: string | undefined, name: string): string | undefined {
  const q = path?.indexOf('?') ?? -1;
  if (!path || q < 0) return undefined;
  const v = new URLSearchParams(path.slice(q + 1)).get(name);
  return v ?? undefined;
}

type HashKey = (ctx: PickContext) => string | undefined;

function hashKeyOf(ch: NonNullable<LoadBalancer['consistentHash']>): HashKey {
  const k = ch.key;
  switch (k.case) {
    case 'headerName': {
      const name = k.value.toLowerCase();
      return (ctx) => headerValue(ctx.headers[name]);
    }
    case 'cookie': {
      const name = k.value.name;
      return (ctx) => cookieValue(ctx.headers.cookie, name);
    }
    case 'useSourceIp':
      return (ctx) => ctx.sourceIp || undefined;
    case 'queryParameterName': {
      const name = k.value;
      return (ctx) => queryValue(ctx.path ?? headerValue(ctx.headers[':path']), name);
    }
    default:
      return () => undefined;
  }
}

/**
 * A ring hash over the endpoints; the ring is rebuilt only when the endpoint list (ids, weights,
 * order) changes. A request without a key (no such header or cookie) goes to a random endpoint,
 * as Envoy's ring hash does.
 */
class ConsistentHashBalancer implements Balancer {
  #ringKey = '';
  #ring: HashRing | undefined;
  readonly #fallback: RandomBalancer;

  constructor(
    private readonly key: HashKey,
    private readonly ringSize: number,
    random: () => number,
  ) {
    this.#fallback = new RandomBalancer(random);
  }

  pick(eps: readonly UpstreamEndpoint[], ctx: PickContext): UpstreamEndpoint | undefined {
    if (eps.length <= 1) return eps[0];
    const key = this.key(ctx);
    if (key === undefined) return this.#fallback.pick(eps);
    const ringKey = eps.map((e) => `${e.id}\u0000${weightOf(e)}`).join('\u0001');
    if (!this.#ring || ringKey !== this.#ringKey) {
      this.#ring = new HashRing(eps.map((e) => ({ id: e.id, weight: weightOf(e) })), this.ringSize);
      this.#ringKey = ringKey;
    }
    const idx = this.#ring.lookup(hash32(key));
    return idx === undefined ? undefined : eps[idx];
  }
}

/** The balancer for a DestinationPolicy's load balancer; undefined means Istio's default. */
export function createBalancer(lb: LoadBalancer | undefined, opts: BalancerOptions = {}): Balancer {
  const random = opts.random ?? Math.random;
  switch (lb?.policy ?? LoadBalancer_Policy.LEAST_REQUEST) {
    case LoadBalancer_Policy.ROUND_ROBIN:
      return new RoundRobinBalancer();
    case LoadBalancer_Policy.RANDOM:
      return new RandomBalancer(random);
    case LoadBalancer_Policy.CONSISTENT_HASH: {
      const ch = lb?.consistentHash;
      // The compiler always sends a key with CONSISTENT_HASH; without one there is nothing to
      // hash, and least-request is the least surprising behaviour.
      if (!ch || ch.key.case === undefined) return new LeastRequestBalancer(random);
      const size = Number(ch.minimumRingSize) || DEFAULT_RING_SIZE;
      return new ConsistentHashBalancer(hashKeyOf(ch), size, random);
    }
    default:
      return new LeastRequestBalancer(random);
  }
}
