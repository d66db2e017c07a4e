// The embedded trace store: spans the control plane's OTLP receiver took in, grouped by trace,
// bounded by span count (the oldest traces go first) and by age. Pure apart from the injected
// clock; the dashboard reads it through findTraces and getTrace, or over /api/traces.
import type { StoredSpan } from '../../lib/telemetry/span.js';

export interface TraceStoreOptions {
  /** Spans kept in all; whole traces are evicted, oldest first, beyond it. */
  maxSpans?: number;
  /** A trace whose last span arrived longer ago than this is forgotten. */
  maxAgeMs?: number;
  now?: () => number;
}

export interface Trace {
  traceId: string;
  /** Ordered by start time. */
  spans: StoredSpan[];
}

export interface FindQuery {
  /** Traces with at least one span of this service. */
  service?: string;
  /** Newest first; default 20. */
  limit?: number;
}

interface Entry {
  spans: StoredSpan[];
  lastAt: number;
}

export class TraceStore {
  readonly #maxSpans: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  // Map order = order of the last update: the first entry is always the oldest.
  readonly #traces = new Map<string, Entry>();
  #spans = 0;
  #evicted = 0;

  constructor(o: TraceStoreOptions = {}) {
    this.#maxSpans = o.maxSpans ?? 10_000;
    this.#maxAgeMs = o.maxAgeMs ?? 15 * 60_000;
    this.#now = o.now ?? Date.now;
  }

  get stats(): { traces: number; spans: number; evictedSpans: number } {
    this.#expire();
    return { traces: this.#traces.size, spans: this.#spans, evictedSpans: this.#evicted };
  }

  add(spans: readonly StoredSpan[]): void {
    const now = this.#now();
    for (const s of spans) {
      const e = this.#traces.get(s.traceId) ?? { spans: [], lastAt: now };
      this.#traces.delete(s.traceId);
      // A span sent twice (an exporter retrying) is kept once.
      const i = e.spans.findIndex((x) => x.spanId === s.spanId);
      if (i >= 0) e.spans[i] = s;
      else {
        e.spans.push(s);
        this.#spans++;
      }
      e.lastAt = now;
      this.#traces.set(s.traceId, e);
    }
    while (this.#spans > this.#maxSpans) {
      const [id, e] = this.#traces.entries().next().value as [string, Entry];
      this.#drop(id, e);
    }
    this.#expire();
  }

  findTraces(q: FindQuery = {}): Trace[] {
    this.#expire();
    const limit = q.limit ?? 20;
    const out: Trace[] = [];
    for (const [traceId, e] of [...this.#traces.entries()].reverse()) {
      if (out.length >= limit) break;
      if (q.service !== undefined && !e.spans.some((s) => s.service === q.service)) continue;
      out.push({ traceId, spans: sorted(e.spans) });
    }
    return out;
  }

  getTrace(traceId: string): Trace | undefined {
    this.#expire();
    const e = this.#traces.get(traceId.toLowerCase());
    return e ? { traceId: traceId.toLowerCase(), spans: sorted(e.spans) } : undefined;
  }

  /** Every service that reported a span still kept. */
  services(): string[] {
    this.#expire();
    const names = new Set<string>();
    for (const e of this.#traces.values()) for (const s of e.spans) names.add(s.service);
    return [...names].sort();
  }

  #expire(): void {
    const cutoff = this.#now() - this.#maxAgeMs;
    for (const [id, e] of this.#traces) {
      if (e.lastAt >= cutoff) break;
      this.#drop(id, e);
    }
  }

  #drop(id: string, e: Entry): void {
    this.#traces.delete(id);
    this.#spans -= e.spans.length;
    this.#evicted += e.spans.length;
  }
}

function sorted(spans: readonly StoredSpan[]): StoredSpan[] {
  return [...spans].sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
}
