// The decision of leader election over a coordination.k8s.io/v1 Lease, pure. As in client-go, a
// lease held by another replica lapses when its record has not changed for the lease duration as
// measured on this replica's own clock (from when it last saw the record change), so clocks
// that differ between replicas do not matter.
import type { KubeObject } from '../../lib/store/types.js';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export type LeaseObject = KubeObject & { spec?: LeaseSpec };

export type LeaseAction =
  /** No lease yet: create it holding it. */
  | { action: 'create' }
  /** Ours: renew it. */
  | { action: 'renew' }
  /** Free or lapsed: take it over (one more transition). */
  | { action: 'take' }
  /** Another replica holds it; look again later. */
  | { action: 'wait'; holder: string; lapsesInMs: number };

/**
 * `observedAtMs`: when this replica first saw the lease's current resourceVersion. The holder's
 * own duration wins over ours, as it is the promise the holder made.
 */
export function decideLease(self: string, lease: LeaseObject | undefined, observedAtMs: number, nowMs: number, defaultDurationMs: number): LeaseAction {
  if (!lease) return { action: 'create' };
  const holder = lease.spec?.holderIdentity ?? '';
  if (holder === self) return { action: 'renew' };
  if (holder === '') return { action: 'take' };
  const seconds = lease.spec?.leaseDurationSeconds;
  const durationMs = typeof seconds === 'number' && seconds > 0 ? seconds * 1000 : defaultDurationMs;
  const lapsesInMs = observedAtMs + durationMs - nowMs;
  return lapsesInMs <= 0 ? { action: 'take' } : { action: 'wait', holder, lapsesInMs };
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The spec a replica writes when it creates, renews or takes the lease. Pure. */
export function leaseSpecFor(self: string, action: 'create' | 'renew' | 'take', current: LeaseSpec | undefined, durationMs: number, now: Date): LeaseSpec {
  const t = microTime(now);
  const seconds = Math.max(1, Math.ceil(durationMs / 1000));
  if (action === 'renew') return { holderIdentity: self, leaseDurationSeconds: seconds, renewTime: t };
  return {
    holderIdentity: self,
    leaseDurationSeconds: seconds,
    acquireTime: t,
    renewTime: t,
    leaseTransitions: action === 'create' ? 0 : (current?.leaseTransitions ?? 0) + 1,
  };
}
