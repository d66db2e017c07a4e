// Fault injection: whether this request is delayed and/or aborted, each with its percentage,
// decided with the injected random source. Pure.
import type { FaultInjection } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { durationMs } from './duration.js';

export type FaultAbort = { httpStatus: number } | { grpcStatus: number };

export interface FaultDecision {
  delayMs?: number;
  abort?: FaultAbort;
}

export function chance(percentage: number, random: () => number): boolean {
  if (!(percentage > 0)) return false;
  if (percentage >= 100) return true;
  return random() * 100 < percentage;
}

export function decideFault(f: FaultInjection | undefined, random: () => number): FaultDecision {
  if (!f) return {};
  const out: FaultDecision = {};
  if (f.delay && chance(f.delay.percentage, random)) {
    const ms = durationMs(f.delay.fixedDelay);
    if (ms !== undefined && ms > 0) out.delayMs = ms;
  }
  if (f.abort && chance(f.abort.percentage, random)) {
    const e = f.abort.error;
    if (e.case === 'httpStatus') out.abort = { httpStatus: e.value };
    else if (e.case === 'grpcStatus') out.abort = { grpcStatus: e.value };
  }
  return out;
}
