// Trace context propagation: W3C `traceparent` and Zipkin's B3 (the single `b3` header and the
// multi-header `x-b3-*` form), read from a request and written for the next hop. Pure apart from
// the injected random bytes. Each hop gets a new span id; the caller's span becomes its parent.
import { pooledRandomBytes } from './random-pool.js';

export type Carrier = Record<string, string | string[] | undefined>;

export type B3Form = 'single' | 'multi';

export interface TraceContext {
  /** 32 hex digits. */
  traceId: string;
  /** The caller's span, when there was one. */
  parentSpanId: string | undefined;
  /** This hop's span, 16 hex digits. */
  spanId: string;
  sampled: boolean;
  /** W3C trace flags, two hex digits. */
  flags: string;
  /** The `traceparent` to send on. */
  traceparent: string;
  /** Headers to set on the upstream request: traceparent, plus B3 in the form(s) the caller used. */
  headers: Record<string, string>;
}

/** What the incoming headers said; `sampled` undefined = the caller left the decision to us. */
export interface Incoming {
  traceId: string | undefined;
  spanId: string | undefined;
  sampled: boolean | undefined;
  /** The B3 forms present (propagated on in the same forms). */
  b3: B3Form[];
  /** The B3 trace id had 16 hex digits; B3 is sent on with the same length. */
  shortB3TraceId: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const HEX16 = /^[0-9a-f]{16}$/;
const TRACE_ID = /^([0-9a-f]{16}|[0-9a-f]{32})$/;

const nonZero = (hex: string): boolean => !/^0+$/.test(hex);

function one(c: Carrier, name: string): string | undefined {
  const v = c[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? undefined : s.trim().toLowerCase();
}

/** A W3C traceparent, or undefined when absent or malformed (version ff, all-zero ids, extra fields on 00). */
export function parseTraceparent(value: string | undefined): { traceId: string; spanId: string; flags: string } | undefined {
  const m = value ? TRACEPARENT.exec(value.trim().toLowerCase()) : null;
  if (!m || m[1] === 'ff' || !nonZero(m[2]!) || !nonZero(m[3]!) || (m[1] === '00' && m[5] !== undefined)) return undefined;
  return { traceId: m[2]!, spanId: m[3]!, flags: m[4]! };
}

function b3Sampled(v: string | undefined): boolean | undefined {
  if (v === '1' || v === 'd' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  return undefined;
}

interface B3 {
  traceId?: string;
  spanId?: string;
  sampled: boolean | undefined;
  short: boolean;
}

/** `b3: {trace}-{span}[-{sampling}[-{parent}]]` or just `b3: {sampling}`. */
export function parseB3Single(value: string | undefined): B3 | undefined {
  if (!value) return undefined;
  const parts = value.split('-');
  if (parts.length === 1) {
    const sampled = b3Sampled(parts[0]);
    return sampled === undefined ? undefined : { sampled, short: false };
  }
  const [traceId, spanId, sampling, parent] = parts;
  if (parts.length > 4 || !TRACE_ID.test(traceId!) || !HEX16.test(spanId!) || !nonZero(traceId!) || !nonZero(spanId!)) return undefined;
  if (parent !== undefined && !HEX16.test(parent)) return undefined;
  const sampled = sampling === undefined ? undefined : b3Sampled(sampling);
  if (sampling !== undefined && sampled === undefined) return undefined;
  return { traceId: traceId!.padStart(32, '0'), spanId: spanId!, sampled, short: traceId!.length === 16 };
}

/** `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`, `x-b3-flags` (1 = debug, which implies sampled). */
export function parseB3Multi(c: Carrier): B3 | undefined {
  const traceId = one(c, 'x-b3-traceid');
  const spanId = one(c, 'x-b3-spanid');
  const sampled = one(c, 'x-b3-flags') === '1' ? true : b3Sampled(one(c, 'x-b3-sampled'));
  if (traceId === undefined && spanId === undefined) return sampled === undefined ? undefined : { sampled, short: false };
  if (!traceId || !spanId || !TRACE_ID.test(traceId) || !HEX16.test(spanId) || !nonZero(traceId) || !nonZero(spanId)) return undefined;
  return { traceId: traceId.padStart(32, '0'), spanId, sampled, short: traceId.length === 16 };
}

/** W3C first; B3 single, then multi, when there is no valid traceparent. */
export function readIncoming(c: Carrier): Incoming {
  const single = parseB3Single(one(c, 'b3'));
  const multi = parseB3Multi(c);
  const b3: B3Form[] = [];
  if (one(c, 'b3') !== undefined) b3.push('single');
  if (one(c, 'x-b3-traceid') !== undefined || one(c, 'x-b3-sampled') !== undefined || one(c, 'x-b3-flags') !== undefined) b3.push('multi');
  const w3c = parseTraceparent(one(c, 'traceparent'));
  const short = (single?.traceId ? single.short : multi?.short) ?? false;
  if (w3c) return { traceId: w3c.traceId, spanId: w3c.spanId, sampled: (parseInt(w3c.flags, 16) & 1) === 1, b3, shortB3TraceId: short && w3c.traceId.startsWith('0'.repeat(16)) };
  const b = single?.traceId || !multi ? single : multi;
  return { traceId: b?.traceId, spanId: b?.spanId, sampled: b?.sampled ?? (single ?? multi)?.sampled, b3, shortB3TraceId: b?.short ?? false };
}

const defaultBytes = pooledRandomBytes();

function nonZeroHex(bytes: (n: number) => Buffer, n: number): string {
  for (;;) {
    const hex = bytes(n).toString('hex');
    if (nonZero(hex)) return hex;
  }
}

export interface NextOptions {
  bytes?: (n: number) => Buffer;
  /** Decides for a trace that arrives without a decision (or starts here); default: sample all. */
  sample?: () => boolean;
  /** Used as the parent when the headers carry no context (the HBONE tunnel's traceparent). */
  fallbackParent?: string | undefined;
}

/** This hop's context: the caller's trace continued (or a new one started) with a new span id. */
export function nextTrace(c: Carrier, o: NextOptions = {}): TraceContext {
  const bytes = o.bytes ?? defaultBytes;
  let inc = readIncoming(c);
  if (inc.traceId === undefined && inc.sampled === undefined && o.fallbackParent) {
    const f = parseTraceparent(o.fallbackParent);
    if (f) inc = { ...inc, traceId: f.traceId, spanId: f.spanId, sampled: (parseInt(f.flags, 16) & 1) === 1 };
  }
  const spanId = nonZeroHex(bytes, 8);
  const traceId = inc.traceId ?? nonZeroHex(bytes, 16);
  const sampled = inc.sampled ?? (o.sample ? o.sample() : true);
  const flags = sampled ? '01' : '00';
  const traceparent = `00-${traceId}-${spanId}-${flags}`;
  const headers: Record<string, string> = { traceparent };
  const b3Trace = inc.shortB3TraceId ? traceId.slice(16) : traceId;
  if (inc.b3.includes('single')) headers.b3 = `${b3Trace}-${spanId}-${sampled ? '1' : '0'}${inc.spanId ? `-${inc.spanId}` : ''}`;
  if (inc.b3.includes('multi')) {
    headers['x-b3-traceid'] = b3Trace;
    headers['x-b3-spanid'] = spanId;
    headers['x-b3-sampled'] = sampled ? '1' : '0';
    if (inc.spanId) headers['x-b3-parentspanid'] = inc.spanId;
  }
  return { traceId, parentSpanId: inc.spanId, spanId, sampled, flags, traceparent, headers };
}

/** The trace headers a hop replaces (the caller's are never forwarded as they came). */
export const TRACE_HEADERS = ['traceparent', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'] as const;
