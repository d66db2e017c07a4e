// One finished span as Ambit's proxies record it and the control plane's trace store keeps it.
// Times are nanoseconds since the Unix epoch (bigint: a number cannot hold them exactly).

export type SpanKind = 'internal' | 'server' | 'client' | 'producer' | 'consumer' | 'unspecified';
export type AttributeValue = string | number | boolean;

export interface SpanStatus {
  code: 'unset' | 'ok' | 'error';
  message?: string;
}

export interface SpanRecord {
  /** 32 hex digits. */
  traceId: string;
  /** 16 hex digits. */
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: SpanKind;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, AttributeValue>;
  status: SpanStatus;
}

/** A span with the service (OTLP resource `service.name`) that reported it. */
export interface StoredSpan extends SpanRecord {
  service: string;
}

// performance.now() is monotonic; anchored once to the wall clock so spans carry epoch times.
const originNs = BigInt(Math.round(performance.timeOrigin * 1e6));

/** Now, in nanoseconds since the epoch (sub-millisecond resolution). */
export function nowNs(): bigint {
  return originNs + BigInt(Math.round(performance.now() * 1e6));
}

/** A performance.now() reading as nanoseconds since the epoch. */
export function perfToNs(ms: number): bigint {
  return originNs + BigInt(Math.round(ms * 1e6));
}
