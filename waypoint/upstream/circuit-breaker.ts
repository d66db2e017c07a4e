/**
 * Circuit breaking for one destination (Istio's `connectionPool`, Envoy's cluster thresholds),
 * per waypoint instance. Each limit is a counter of things in progress; `try*` takes a slot and
 * hands back its release, or undefined when the limit is reached (the waypoint then answers 503
 * with response flag UO at once, never queueing). Releases are idempotent, so every exit path of
 * a request may call its release.
 *
 * - maxConnections: upstream connections (HTTP/1.1 tunnels, HTTP/2 sessions) open at once; the
 *   pool keeps within it (`connectionLimit`) and counts what it opened (`countConnection`), and, as
 *   Envoy does, an endpoint with no connection at all may always open one;
 * - http1MaxPendingRequests: requests waiting for a connection or a stream (any protocol, as
 *   Envoy's max_pending_requests);
 * - http2MaxRequests: requests in flight, whatever the protocol (Envoy's max_requests);
 * - maxRetries: retries in flight (Istio leaves this unlimited, unlike Envoy's default of 3);
 * - maxRequestsPerConnection: the pool's business; read here so one object carries the limits.
 *
 * An unset field is unlimited, as the compiler documents (Istio sets every Envoy threshold to
 * 2^32-1 when not configured), and so is 0, which is what an unset proto3 field reads as.
 */
import type { ConnectionPool } from '../../lib/proto/gen/ambit/l7/v1/destination_pb.js';

export type Release = () => void;

export type LimitName = 'connections' | 'pending' | 'requests' | 'retries';

export interface LimitStats {
  /** Undefined: unlimited. */
  limit: number | undefined;
  active: number;
  /** Attempts refused because the limit was reached. */
  overflow: number;
}

const limitOf = (v: number | undefined): number | undefined => (v === undefined || v <= 0 ? undefined : v);

class Counter {
  active = 0;
  overflow = 0;
  constructor(public limit: number | undefined) {}

  take(): Release | undefined {
    if (this.limit !== undefined && this.active >= this.limit) {
      this.overflow++;
      return undefined;
    }
    return this.force();
  }

  /** Counts one more whatever the limit (what the caller already decided to do). */
  force(): Release {
    this.active++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
    };
  }

  stats(): LimitStats {
    return { limit: this.limit, active: this.active, overflow: this.overflow };
  }
}

export class CircuitBreaker {
  readonly #connections: Counter;
  readonly #pending: Counter;
  readonly #requests: Counter;
  readonly #retries: Counter;
  #perConnection: number | undefined;

  constructor(limits: ConnectionPool | undefined) {
    this.#connections = new Counter(undefined);
    this.#pending = new Counter(undefined);
    this.#requests = new Counter(undefined);
    this.#retries = new Counter(undefined);
    this.setLimits(limits);
  }

  /**
   * New limits from a changed DestinationPolicy. What is in progress stays counted; a lowered
   * limit refuses new work until enough of it finished.
   */
  setLimits(limits: ConnectionPool | undefined): void {
    this.#connections.limit = limitOf(limits?.maxConnections);
    this.#pending.limit = limitOf(limits?.http1MaxPendingRequests);
    this.#requests.limit = limitOf(limits?.http2MaxRequests);
    this.#retries.limit = limitOf(limits?.maxRetries);
    this.#perConnection = limitOf(limits?.maxRequestsPerConnection);
  }

  /** A request in flight to the destination (held until its response ended or it failed). */
  tryRequest(): Release | undefined {
    return this.#requests.take();
  }

  /** A request waiting for an upstream connection or stream (held until it got one). */
  tryPending(): Release | undefined {
    return this.#pending.take();
  }

  /** An upstream connection being opened or open (held until it closed). */
  tryConnection(): Release | undefined {
    return this.#connections.take();
  }

  /** Counts an upstream connection the pool opened (held until it closed), whatever the limit. */
  countConnection(): Release {
    return this.#connections.force();
  }

  /** A request had to wait because the cluster was at maxConnections (Envoy's upstream_cx_overflow). */
  noteConnectionOverflow(): void {
    this.#connections.overflow++;
  }

  /** maxConnections; undefined: unlimited. */
  get connectionLimit(): number | undefined {
    return this.#connections.limit;
  }

  /** A retry in flight (held until the retried attempt ended). */
  tryRetry(): Release | undefined {
    return this.#retries.take();
  }

  /** How many more retries may start now; Infinity when unlimited. */
  retryBudget(): number {
    const r = this.#retries;
    return r.limit === undefined ? Infinity : Math.max(0, r.limit - r.active);
  }

  /** Requests one upstream connection may carry before it is retired; undefined: unlimited. */
  get maxRequestsPerConnection(): number | undefined {
    return this.#perConnection;
  }

  stats(): Record<LimitName, LimitStats> {
    return {
      connections: this.#connections.stats(),
      pending: this.#pending.stats(),
      requests: this.#requests.stats(),
      retries: this.#retries.stats(),
    };
  }
}
