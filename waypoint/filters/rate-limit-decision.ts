/**
 * The outcome of the rate limits for one request and how the waypoint answers it: 429 with
 * `x-envoy-ratelimited: true` and the draft-03 `x-ratelimit-*` headers of the limit closest to
 * running out (Envoy's enable_x_ratelimit_headers), which the waypoint also adds to allowed
 * responses when a limit applied.
 */

export const RATE_LIMITED_STATUS = 429;

export interface RateLimitDecision {
  allowed: boolean;
  /** The limit reported (requests per window or bucket size); 0 when no limit applied. */
  limit: number;
  remaining: number;
  /** Until the window resets or the bucket refills. */
  resetSeconds: number;
  /** `<ns>/<name>` of the policy whose limit is reported; absent when no limit applied. */
  policy?: string;
  /** Set when Redis could not be asked and the policy's failure mode decided. */
  failure?: 'open' | 'closed';
  /** For the access log. */
  reason?: string;
}

export const UNLIMITED: RateLimitDecision = Object.freeze({ allowed: true, limit: 0, remaining: 0, resetSeconds: 0 });

/**
 * The decision of several limits that all apply: refused if any refuses; the one reported is a
 * refusing one, else the one with the fewest requests left.
 */
export function combine(decisions: readonly RateLimitDecision[]): RateLimitDecision {
  let best: RateLimitDecision | undefined;
  for (const d of decisions) {
    if (d.policy === undefined && d.allowed) continue;
    if (!best) best = d;
    else if (best.allowed !== d.allowed) best = d.allowed ? best : d;
    else if (d.remaining < best.remaining) best = d;
  }
  return best ?? UNLIMITED;
}

/** Headers for the response; none when no limit applied. */
export function rateLimitHeaders(d: RateLimitDecision): Record<string, string> {
  if (d.policy === undefined) return {};
  const h: Record<string, string> = {
    'x-ratelimit-limit': String(d.limit),
    'x-ratelimit-remaining': String(Math.max(0, d.remaining)),
    'x-ratelimit-reset': String(Math.max(0, d.resetSeconds)),
  };
  if (!d.allowed) h['x-envoy-ratelimited'] = 'true';
  return h;
}
