// W3C trace context (traceparent): keep the caller's trace id and flags, give this hop a new span
// id (the waypoint is a hop of its own), or start a trace when there is none or it is malformed.
// Pure apart from the injected random bytes.
import { pooledRandomBytes } from './random-pool.js';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

export interface TraceContext {
  traceId: string;
  /** The caller's span, when there was one. */
  parentSpanId: string | undefined;
  spanId: string;
  flags: string;
  /** The header to send upstream. */
  traceparent: string;
}

function valid(hex: string): boolean {
  return !/^0+$/.test(hex);
}

const defaultBytes = pooledRandomBytes();

export function nextTrace(incoming: string | undefined, bytes: (n: number) => Buffer = defaultBytes): TraceContext {
  const spanId = bytes(8).toString('hex');
  const m = incoming ? TRACEPARENT.exec(incoming.trim().toLowerCase()) : null;
  if (m && m[1] !== 'ff' && valid(m[2]!) && valid(m[3]!) && (m[1] !== '00' || m[5] === undefined)) {
    const flags = m[4]!;
    return { traceId: m[2]!, parentSpanId: m[3]!, spanId, flags, traceparent: `00-${m[2]}-${spanId}-${flags}` };
  }
  const traceId = bytes(16).toString('hex');
  return { traceId, parentSpanId: undefined, spanId, flags: '01', traceparent: `00-${traceId}-${spanId}-01` };
}
