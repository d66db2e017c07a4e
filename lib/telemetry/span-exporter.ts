// Sends finished spans to an OTLP/HTTP collector (`POST <endpoint>`, protobuf) in batches: every
// `intervalMs` or as soon as `batchSize` spans wait, one export in flight at a time. The queue is
// bounded: a span that does not fit is dropped and counted, so a slow or absent collector costs
// memory up to the bound and never blocks or slows the proxy.
import { Counter, type Registry } from 'prom-client';
import type { Logger } from './log.js';
import { encodeSpans, type ResourceInfo } from './otlp.js';
import type { SpanRecord } from './span.js';

export interface SpanExporterOptions {
  /** Full URL, e.g. http://127.0.0.1:4318/v1/traces. */
  endpoint: string;
  resource: ResourceInfo;
  log: Logger;
  registry?: Registry;
  maxQueue?: number;
  batchSize?: number;
  intervalMs?: number;
  /** Per export request. */
  timeoutMs?: number;
}

export interface ExporterStats {
  queued: number;
  exported: number;
  dropped: number;
  failed: number;
}

export interface SpanSink {
  /** Cheap: queues the span, never waits. */
  add(span: SpanRecord): void;
}

export class SpanExporter implements SpanSink {
  readonly #o: Required<Omit<SpanExporterOptions, 'registry'>>;
  #queue: SpanRecord[] = [];
  #inFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout;
  #stats = { exported: 0, dropped: 0, failed: 0 };
  #warnedAt = 0;
  readonly #counters: { exported?: Counter<string>; dropped?: Counter<string> } = {};

  constructor(o: SpanExporterOptions) {
    this.#o = { maxQueue: 4096, batchSize: 512, intervalMs: 1000, timeoutMs: 5000, ...o };
    if (o.registry) {
      this.#counters.exported = new Counter({ name: 'ambit_trace_spans_exported_total', help: 'Spans the OTLP collector accepted', registers: [o.registry] });
      this.#counters.dropped = new Counter({ name: 'ambit_trace_spans_dropped_total', help: 'Spans dropped: the export queue was full, or the collector refused or could not be reached', labelNames: ['reason'], registers: [o.registry] });
    }
    this.#timer = setInterval(() => void this.flush(), this.#o.intervalMs);
    this.#timer.unref();
  }

  get stats(): ExporterStats {
    return { queued: this.#queue.length, ...this.#stats };
  }

  add(span: SpanRecord): void {
    if (this.#queue.length >= this.#o.maxQueue) {
      this.#stats.dropped++;
      this.#counters.dropped?.inc({ reason: 'queue_full' });
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#o.batchSize && !this.#inFlight) void this.flush();
  }

  /** Exports everything queued now (waiting for an export already in flight first). */
  async flush(): Promise<void> {
    while (this.#inFlight) await this.#inFlight;
    if (this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#o.batchSize);
    this.#inFlight = this.#send(batch).finally(() => (this.#inFlight = undefined));
    await this.#inFlight;
    if (this.#queue.length >= this.#o.batchSize) await this.flush();
  }

  async #send(batch: SpanRecord[]): Promise<void> {
    try {
      const res = await fetch(this.#o.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body: encodeSpans(this.#o.resource, batch),
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
      this.#stats.exported += batch.length;
      this.#counters.exported?.inc(batch.length);
    } catch (e) {
      this.#stats.failed += batch.length;
      this.#counters.dropped?.inc({ reason: 'export_failed' }, batch.length);
      // One warning a minute at most: a collector that is down must not flood the log.
      if (Date.now() - this.#warnedAt > 60_000) {
        this.#warnedAt = Date.now();
        const cause = (e as { cause?: { message?: string } }).cause?.message;
        this.#o.log.warn({ endpoint: this.#o.endpoint, spans: batch.length, err: (e as Error).message, ...(cause ? { cause } : {}) }, `exporting spans to ${this.#o.endpoint} failed; is the OTLP collector running there (--otlp-endpoint)?`);
      }
    }
  }

  /** Stops the timer and sends what is left. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
