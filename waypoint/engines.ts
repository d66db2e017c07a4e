// The policy engines the data path calls (load balancing, outlier detection, circuit breaking,
// L7 authorization, rate limiting), as interfaces. The pure implementations live in
// upstream/balancer.ts, outlier.ts, circuit-breaker.ts and filters/authz.ts, rate-limit.ts; the
// composition root (app.ts) builds them and hands them to the data path through `PolicyEngines`,
// so the data path depends on what it calls, not on how the engines are made.
import type { L7Authorization } from '../lib/proto/gen/ambit/l7/v1/authorization_pb.js';
import type { ConnectionPool, LoadBalancer, OutlierDetection } from '../lib/proto/gen/ambit/l7/v1/destination_pb.js';

// The data the engines and the data path exchange is defined once, next to the engine that reads it.
export type { Balancer, PickContext, UpstreamEndpoint } from './upstream/balancer.js';
export type { Release } from './upstream/circuit-breaker.js';
export type { L7Request } from './filters/l7-request.js';
import type { Balancer } from './upstream/balancer.js';
import type { Release } from './upstream/circuit-breaker.js';
import type { L7Request } from './filters/l7-request.js';

export type OutlierOutcome = 'success' | '5xx' | 'gateway-error' | 'connect-failure';

export interface OutlierTracker {
  setEndpoints(ids: Iterable<string>): void;
  report(endpointId: string, outcome: OutlierOutcome): void;
  isEjected(endpointId: string): boolean;
  ejectedCount(): number;
}

export interface Breaker {
  tryRequest(): Release | undefined;
  tryPending(): Release | undefined;
  tryConnection(): Release | undefined;
  /** Counts a connection the pool opened (it keeps within connectionLimit itself). */
  countConnection(): Release;
  /** A request waited because the cluster was at its connection limit. */
  noteConnectionOverflow(): void;
  /** maxConnections; undefined: unlimited. */
  readonly connectionLimit: number | undefined;
  /** Whether one more retry may start now (max_retries); returns its release when it may. */
  tryRetry(): Release | undefined;
}

export interface AuthzDecision {
  allow: boolean;
  /** The policy that decided, `<ns>/<name>`. */
  policy?: string;
  /** AUDIT (and dry-run) policies that matched. */
  audited: string[];
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetSeconds: number;
}

export interface Limiter {
  check(req: L7Request): Promise<RateLimitDecision>;
}

export interface PolicyEngines {
  balancer(lb: LoadBalancer | undefined): Balancer;
  outlier(settings: OutlierDetection): OutlierTracker;
  breaker(limits: ConnectionPool | undefined): Breaker;
  authorize(policies: readonly L7Authorization[], req: L7Request): AuthzDecision;
  /** The limiter for requests to the service `hostname` (every RateLimit targeting it applies). */
  limiter(hostname: string): Limiter;
}
