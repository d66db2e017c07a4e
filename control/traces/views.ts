// The dashboard's view of the trace store: a list of recent traces (one line each) and one trace's
// spans laid out for a waterfall (tree order, depth, offsets from the trace's start). Pure: store
// output in, JSON-ready objects out; served by control/monitoring/dashboard.ts.
import type { AttributeValue, SpanKind, SpanStatus, StoredSpan } from '../../lib/telemetry/span.js';
import type { Trace } from './store.js';

export interface TraceSummary {
  traceId: string;
  /** The root span's name and service (the earliest span without a parent in the trace). */
  root: string;
  rootService: string;
  /** Reporting services, in order of their first span. */
  services: string[];
  startedAt: string;
  durationMs: number;
  spanCount: number;
  /** Some span's status is error. */
  error: boolean;
}

export interface WaterfallSpan {
  spanId: string;
  parentSpanId: string | null;
  /** 0 for a root; a span whose parent is not in the trace (not received, or evicted) is a root too. */
  depth: number;
  missingParent: boolean;
  service: string;
  name: string;
  kind: SpanKind;
  /** From the trace's first start. */
  offsetMs: number;
  durationMs: number;
  attributes: Record<string, AttributeValue>;
  status: SpanStatus;
}

export interface TraceDetail extends TraceSummary {
  /** Depth-first, children by start time: the order a waterfall draws them. */
  spans: WaterfallSpan[];
}

const ms = (ns: bigint): number => Number(ns) / 1e6;

function bounds(spans: readonly StoredSpan[]): { start: bigint; end: bigint } {
  let start = spans[0]!.startNs;
  let end = spans[0]!.endNs;
  for (const s of spans) {
    if (s.startNs < start) start = s.startNs;
    if (s.endNs > end) end = s.endNs;
  }
  return { start, end };
}

const byStart = (a: StoredSpan, b: StoredSpan): number => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0);

function roots(spans: readonly StoredSpan[]): StoredSpan[] {
  const ids = new Set(spans.map((s) => s.spanId));
  return spans.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId)).sort(byStart);
}

export function traceSummary(t: Trace): TraceSummary {
  if (t.spans.length === 0) throw new Error(`trace ${t.traceId}: no spans`);
  const { start, end } = bounds(t.spans);
  const root = roots(t.spans)[0] ?? [...t.spans].sort(byStart)[0]!;
  const services: string[] = [];
  for (const s of [...t.spans].sort(byStart)) if (!services.includes(s.service)) services.push(s.service);
  return {
    traceId: t.traceId,
    root: root.name,
    rootService: root.service,
    services,
    startedAt: new Date(Number(start / 1_000_000n)).toISOString(),
    durationMs: ms(end - start),
    spanCount: t.spans.length,
    error: t.spans.some((s) => s.status.code === 'error'),
  };
}

export function traceDetail(t: Trace): TraceDetail {
  const summary = traceSummary(t);
  const { start } = bounds(t.spans);
  const children = new Map<string, StoredSpan[]>();
  for (const s of t.spans) if (s.parentSpanId) children.set(s.parentSpanId, [...(children.get(s.parentSpanId) ?? []), s]);
  const out: WaterfallSpan[] = [];
  const seen = new Set<string>();
  const visit = (s: StoredSpan, depth: number, missingParent: boolean): void => {
    // A span that names itself as an ancestor (a broken exporter) is drawn once.
    if (seen.has(s.spanId)) return;
    seen.add(s.spanId);
    out.push({
      spanId: s.spanId,
      parentSpanId: s.parentSpanId ?? null,
      depth,
      missingParent,
      service: s.service,
      name: s.name,
      kind: s.kind,
      offsetMs: ms(s.startNs - start),
      durationMs: ms(s.endNs - s.startNs),
      attributes: s.attributes,
      status: s.status,
    });
    for (const c of (children.get(s.spanId) ?? []).sort(byStart)) visit(c, depth + 1, false);
  };
  for (const r of roots(t.spans)) visit(r, 0, r.parentSpanId !== undefined && r.parentSpanId !== '');
  // Spans only reachable through a cycle have no root: list them flat after the tree.
  for (const s of [...t.spans].sort(byStart)) visit(s, 0, true);
  return { ...summary, spans: out };
}

/** Destination attributes the proxies put on their spans: ztunnel's and the waypoint's. */
const DESTINATION_KEYS = ['dst.service', 'istio.destination_service'];

/**
 * The dashboard's filter: a trace is about `service` when a span was reported by it (`ztunnel`,
 * `waypoint.bookinfo`) or was headed for it (a service hostname such as reviews.bookinfo.svc.cluster.local).
 */
export function traceConcerns(t: Trace, service: string): boolean {
  return t.spans.some((s) => s.service === service || DESTINATION_KEYS.some((k) => s.attributes[k] === service));
}
