// Retry policy decisions with Envoy's retry_on condition names, and the jittered exponential
// back-off between tries (base 25 ms unless configured, capped at 10× the base as Envoy does).
// Pure: the outcome of a try is described, and the random source injected.
import type { RetryPolicy } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { durationMs } from './duration.js';

/** How one try ended. `timeout`: the per-try timeout fired; `reset`: the stream or connection broke after it was sent. */
export type TryOutcome =
  | { kind: 'response'; status: number; grpcStatus?: number }
  | { kind: 'connect-failure' }
  | { kind: 'refused-stream' }
  | { kind: 'reset' }
  | { kind: 'timeout' };

const GRPC_CONDITIONS: Record<string, number> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
};

/** Whether `outcome` is retried under `policy`'s conditions (not counting attempts). */
export function isRetriable(policy: RetryPolicy, outcome: TryOutcome): boolean {
  const on = new Set(policy.retryOn);
  switch (outcome.kind) {
    case 'connect-failure':
      return on.has('connect-failure') || on.has('5xx') || on.has('gateway-error');
    case 'refused-stream':
      return on.has('refused-stream') || on.has('5xx');
    case 'reset':
      return on.has('reset') || on.has('5xx');
    case 'timeout':
      // Envoy turns a per-try timeout into a 504, which 5xx and gateway-error cover.
      return on.has('5xx') || on.has('gateway-error') || on.has('reset');
    case 'response': {
      const s = outcome.status;
      if (on.has('5xx') && s >= 500) return true;
      if (on.has('gateway-error') && (s === 502 || s === 503 || s === 504)) return true;
      if (on.has('retriable-4xx') && s === 409) return true;
      if (on.has('retriable-status-codes') && policy.retriableStatusCodes.includes(s)) return true;
      if (outcome.grpcStatus !== undefined) {
        for (const [name, code] of Object.entries(GRPC_CONDITIONS)) if (on.has(name) && outcome.grpcStatus === code) return true;
      }
      return false;
    }
  }
}

export const DEFAULT_BACKOFF_MS = 25;

/** Delay before retry number `retry` (1 = the first retry): uniform in [0, min(base·2^(retry-1)·2, 10·base)). */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number): number {
  const base = durationMs(policy.backoff) ?? DEFAULT_BACKOFF_MS;
  const upper = Math.min(base * 2 ** Math.max(0, retry), base * 10);
  return Math.floor(random() * upper);
}

export function perTryTimeoutMs(policy: RetryPolicy | undefined): number | undefined {
  const ms = durationMs(policy?.perTryTimeout);
  return ms && ms > 0 ? ms : undefined;
}
