// Traces in the JSON shape of Jaeger's query API (`GET /api/traces`), so one client reads both the
// control plane's embedded store and a real Jaeger. Times are microseconds, as Jaeger's are. Pure.
import type { AttributeValue, StoredSpan } from '../../lib/telemetry/span.js';
import type { Trace } from './store.js';

export interface JaegerTag {
  key: string;
  type: 'string' | 'bool' | 'int64' | 'float64';
  value: AttributeValue;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: 'CHILD_OF'; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: JaegerTag[];
  logs: never[];
  processID: string;
  warnings: null;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: JaegerTag[] }>;
  warnings: null;
}

function tag(key: string, value: AttributeValue): JaegerTag {
  const type = typeof value === 'string' ? 'string' : typeof value === 'boolean' ? 'bool' : Number.isInteger(value) ? 'int64' : 'float64';
  return { key, type, value };
}

function tags(s: StoredSpan): JaegerTag[] {
  const out = Object.entries(s.attributes).map(([k, v]) => tag(k, v));
  out.push(tag('span.kind', s.kind));
  if (s.status.code !== 'unset') out.push(tag('otel.status_code', s.status.code.toUpperCase()));
  if (s.status.code === 'error') {
    out.push(tag('error', true));
    if (s.status.message) out.push(tag('otel.status_description', s.status.message));
  }
  return out;
}

export function toJaegerTrace(t: Trace): JaegerTrace {
  const processes: JaegerTrace['processes'] = {};
  const pid = new Map<string, string>();
  for (const s of t.spans) {
    if (pid.has(s.service)) continue;
    const id = `p${pid.size + 1}`;
    pid.set(s.service, id);
    processes[id] = { serviceName: s.service, tags: [] };
  }
  return {
    traceID: t.traceId,
    spans: t.spans.map((s) => ({
      traceID: s.traceId,
      spanID: s.spanId,
      operationName: s.name,
      references: s.parentSpanId ? [{ refType: 'CHILD_OF', traceID: s.traceId, spanID: s.parentSpanId }] : [],
      startTime: Number(s.startNs / 1000n),
      duration: Number((s.endNs - s.startNs) / 1000n),
      tags: tags(s),
      logs: [],
      processID: pid.get(s.service)!,
      warnings: null,
    })),
    processes,
    warnings: null,
  };
}

/** Jaeger's envelope: `{data, total, limit, offset, errors}`. */
export function envelope<T>(data: T, errors: { code: number; msg: string }[] | null = null): { data: T; total: number; limit: number; offset: number; errors: typeof errors } {
  return { data, total: Array.isArray(data) ? data.length : 0, limit: 0, offset: 0, errors };
}
