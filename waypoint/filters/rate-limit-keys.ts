/**
 * The counters a request counts against under a global rate limit: each GlobalLimit whose
 * descriptors all apply to the request gives one fixed-window counter, keyed by the policy, the
 * limit's index, the descriptor values and the window start (the ratelimit service's scheme).
 * Pure; the time is passed in.
 */
import { GlobalLimit_Unit, type GlobalLimit, type GlobalRateLimit } from '../../lib/proto/gen/ambit/l7/v1/ratelimit_pb.js';
import { headerValue, pathOnly, principalOf, type L7Request } from './l7-request.js';

export const UNIT_MS: Readonly<Record<GlobalLimit_Unit, number>> = {
  [GlobalLimit_Unit.SECOND]: 1_000,
  [GlobalLimit_Unit.MINUTE]: 60_000,
  [GlobalLimit_Unit.HOUR]: 3_600_000,
  [GlobalLimit_Unit.DAY]: 86_400_000,
};

export interface WindowCounter {
  /** The Redis key. */
  key: string;
  /** requests_per_unit. */
  limit: number;
  /** The window length (also the key's time to live). */
  windowMs: number;
  /** When this window ends. */
  windowEnd: number;
  /** Index of the limit in the policy, for logs. */
  index: number;
}

/**
 * The values of a limit's descriptors for `req`, or undefined when the limit does not apply: a
 * descriptor whose attribute the request lacks (no such header, no identity), or whose fixed
 * value differs.
 */
export function descriptorValues(limit: GlobalLimit, req: L7Request): string[] | undefined {
  const out: string[] = [];
  for (const d of limit.descriptors) {
    let v: string | undefined;
    switch (d.key.case) {
      case 'header':
        v = headerValue(req, d.key.value.toLowerCase());
        break;
      case 'sourceIdentity':
        v = principalOf(req);
        break;
      case 'path':
        v = pathOnly(req.path);
        break;
      default:
        return undefined;
    }
    if (v === undefined || (d.value !== '' && v !== d.value)) return undefined;
    out.push(v);
  }
  return out;
}

/** Key parts are percent-encoded, so a value holding `:` cannot collide with another tuple. */
const part = (s: string): string => encodeURIComponent(s);

export function windowCounters(policyKey: string, global: GlobalRateLimit, req: L7Request, nowMs: number): WindowCounter[] {
  const out: WindowCounter[] = [];
  for (const [index, limit] of global.limits.entries()) {
    const values = descriptorValues(limit, req);
    if (!values) continue;
    const windowMs = UNIT_MS[limit.unit] ?? UNIT_MS[GlobalLimit_Unit.SECOND];
    const start = nowMs - (nowMs % windowMs);
    out.push({
      key: ['ambit', 'rl', part(policyKey), String(index), ...values.map(part), String(start)].join(':'),
      limit: Number(limit.requestsPerUnit),
      windowMs,
      windowEnd: start + windowMs,
      index,
    });
  }
  return out;
}
