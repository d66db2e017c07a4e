// Metrics and access log of one proxied connection: labels from the xDS view of both ends,
// counted once at open and once at close (or once as failed), one log line at the end.
import { buildBaggage } from '../../lib/hbone/headers.js';
import { durationText, type AccessLog, type AccessLogEntry } from '../../lib/telemetry/access-log.js';
import { tcpLabels, type HboneMetrics, type PeerLabels, type ServiceLabels, type TcpConnectionLabels, type TcpLabels, type TcpMetrics } from '../../lib/telemetry/metrics.js';
import { nowNs, perfToNs, type SpanRecord } from '../../lib/telemetry/span.js';
import type { Tracer } from '../../lib/telemetry/tracing.js';
import type { ServiceView, WorkloadView } from '../state/types.js';
import { errorText, ProxyError } from './errors.js';

/** A connection span's identity; times, attributes (the access-log fields) and status come at its end. */
export type ConnectionSpan = Pick<SpanRecord, 'traceId' | 'spanId' | 'parentSpanId' | 'name' | 'kind'>;

export interface ProxyTelemetry {
  metrics: TcpMetrics;
  /** Absent in tests that do not look at it. */
  hbone?: HboneMetrics;
  accessLog: AccessLog;
}

export function peerLabels(w: WorkloadView | undefined, principal?: string): PeerLabels {
  return {
    ...(w ? { workload: w.workloadName || w.name, namespace: w.namespace, canonicalService: w.canonicalName, canonicalRevision: w.canonicalRevision, cluster: w.clusterId } : {}),
    ...(principal ? { principal } : {}),
  };
}

export function serviceLabels(s: ServiceView | undefined): ServiceLabels | undefined {
  return s ? { hostname: s.hostname, namespace: s.namespace, name: s.name } : undefined;
}

/** Baggage describing a workload (Istio's peer-metadata keys): the source on requests, the destination on answers. */
export function workloadBaggage(w: WorkloadView): string {
  return buildBaggage({
    clusterName: w.clusterId,
    namespace: w.namespace,
    workloadType: w.workloadType,
    workloadName: w.workloadName || w.name,
    serviceName: w.canonicalName,
    serviceVersion: w.canonicalRevision,
    region: w.locality.region,
    zone: w.locality.zone,
  });
}

/** Access-log fields naming a workload (`src` or `dst`). */
export function workloadFields(side: 'src' | 'dst', w: WorkloadView | undefined, identity?: string): Partial<AccessLogEntry> {
  const out: Record<string, string> = {};
  if (w) {
    out[`${side}.workload`] = w.name;
    out[`${side}.namespace`] = w.namespace;
    out[`${side}.cluster`] = w.clusterId;
  }
  if (identity) out[`${side}.identity`] = identity;
  return out as Partial<AccessLogEntry>;
}

/** Byte counts of a live connection so far: `received` downstream → upstream, `sent` the other way. */
export type ByteSource = () => { received: number; sent: number };

/** How often the byte counters of live connections are brought up to date. */
export const LIVE_BYTES_FLUSH_MS = 1000;

// Connections whose bytes are counted while they live, so that a long transfer shows in
// istio_tcp_{received,sent}_bytes_total as it goes rather than all at once at its close. One timer
// for all of them: a counter update costs a label lookup, too much to do per chunk.
const live = new Set<ConnectionRecord>();
let liveTimer: NodeJS.Timeout | undefined;

function watchLive(r: ConnectionRecord): void {
  live.add(r);
  if (liveTimer) return;
  liveTimer = setInterval(() => {
    for (const c of live) c.flushBytes();
  }, LIVE_BYTES_FLUSH_MS);
  liveTimer.unref();
}

function unwatchLive(r: ConnectionRecord): void {
  live.delete(r);
  if (live.size === 0 && liveTimer) {
    clearInterval(liveTimer);
    liveTimer = undefined;
  }
}

/** One connection's telemetry. `open` at most once; then exactly one of `close` / `fail`. */
export class ConnectionRecord {
  private readonly startedAt = performance.now();
  private labels: TcpLabels | undefined;
  private ended = false;
  private bytesSource: ByteSource | undefined;
  /** Bytes already added to the counters. */
  private readonly counted = { received: 0, sent: 0 };

  private span: { tracer: Tracer; s: ConnectionSpan } | undefined;

  constructor(
    private readonly t: ProxyTelemetry,
    private entry: AccessLogEntry,
  ) {}

  /** Records a span for this connection when it ends (only sampled connections are traced). */
  traced(tracer: Tracer, s: ConnectionSpan): void {
    this.span = { tracer, s };
  }

  private endSpan(error: string | undefined, flag: string | undefined, bytes?: { received: number; sent: number }): void {
    if (!this.span) return;
    const { tracer, s } = this.span;
    const attributes: SpanRecord['attributes'] = {};
    for (const [k, v] of Object.entries(this.entry)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') attributes[k] = v;
    if (bytes) Object.assign(attributes, { bytes_sent: bytes.received, bytes_recv: bytes.sent });
    if (flag) attributes.response_flags = flag;
    tracer.record({ ...s, startNs: perfToNs(this.startedAt), endNs: nowNs(), attributes, status: error ? { code: 'error', message: error } : { code: 'unset' } });
  }

  /** Adds access-log fields learnt along the way. */
  note(more: Partial<AccessLogEntry>): void {
    this.entry = { ...this.entry, ...more };
  }

  /** `bytes`: where the byte counts of the live connection are read, until `close`. */
  open(l: TcpConnectionLabels, more: Partial<AccessLogEntry> = {}, bytes?: ByteSource): void {
    this.note(more);
    this.labels = tcpLabels(l);
    this.t.metrics.connectionOpened(this.labels);
    this.t.accessLog.opened(this.entry);
    if (bytes && !this.ended) {
      this.bytesSource = bytes;
      watchLive(this);
    }
  }

  /** Adds the bytes moved since the last call to the counters (labels of the open connection). */
  flushBytes(): void {
    if (!this.labels || !this.bytesSource || this.ended) return;
    const now = this.bytesSource();
    this.addBytes(this.labels, now.received - this.counted.received, now.sent - this.counted.sent);
  }

  private addBytes(labels: TcpLabels, received: number, sent: number): void {
    if (received > 0) {
      this.t.metrics.received.inc(labels, received);
      this.counted.received += received;
    }
    if (sent > 0) {
      this.t.metrics.sent.inc(labels, sent);
      this.counted.sent += sent;
    }
  }

  close(bytes: { received: number; sent: number }, error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (this.bytesSource) unwatchLive(this);
    const err = error === undefined ? undefined : errorText(error);
    if (this.labels) {
      const labels = err && error instanceof ProxyError ? { ...this.labels, response_flags: error.responseFlag } : this.labels;
      // What the live updates already counted is not counted again.
      this.t.metrics.connectionClosed(labels, { received: bytes.received - this.counted.received, sent: bytes.sent - this.counted.sent });
    }
    this.t.accessLog.complete({ ...this.entry, bytes_sent: bytes.received, bytes_recv: bytes.sent, duration: durationText(this.startedAt), ...(err ? { error: err } : {}) });
    this.endSpan(err, err && error instanceof ProxyError ? error.responseFlag : undefined, bytes);
  }

  /** The connection never got going. `l`: labels, when enough was known to count it. */
  fail(error: ProxyError, l?: TcpConnectionLabels): void {
    if (this.ended) return;
    this.ended = true;
    if (this.bytesSource) unwatchLive(this);
    if (l) this.t.metrics.connectionFailed(tcpLabels({ ...l, responseFlags: error.responseFlag }));
    const e = { ...this.entry, response_flags: error.responseFlag, error: `${error.code}: ${error.message}` };
    if (l) this.t.accessLog.complete({ ...e, bytes_sent: 0, bytes_recv: 0, duration: durationText(this.startedAt) });
    else this.t.accessLog.failed(e);
    this.endSpan(`${error.code}: ${error.message}`, error.responseFlag);
  }
}
