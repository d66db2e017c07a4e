// Metrics and access log of one proxied connection: labels from the xDS view of both ends,
// counted once at open and once at close (or once as failed), one log line at the end.
import { buildBaggage } from '../../lib/hbone/headers.js';
import { durationText, type AccessLog, type AccessLogEntry } from '../../lib/telemetry/access-log.js';
import { tcpLabels, type PeerLabels, type ServiceLabels, type TcpConnectionLabels, type TcpLabels, type TcpMetrics } from '../../lib/telemetry/metrics.js';
import type { ServiceView, WorkloadView } from '../state/types.js';
import { errorText, ProxyError } from './errors.js';

export interface ProxyTelemetry {
  metrics: TcpMetrics;
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

/** Baggage describing a workload (reference §1.2): the source on requests, the destination on answers. */
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

/** One connection's telemetry. `open` at most once; then exactly one of `close` / `fail`. */
export class ConnectionRecord {
  private readonly startedAt = performance.now();
  private labels: TcpLabels | undefined;
  private ended = false;

  constructor(
    private readonly t: ProxyTelemetry,
    private entry: AccessLogEntry,
  ) {}

  /** Adds access-log fields learnt along the way. */
  note(more: Partial<AccessLogEntry>): void {
    this.entry = { ...this.entry, ...more };
  }

  open(l: TcpConnectionLabels, more: Partial<AccessLogEntry> = {}): void {
    this.note(more);
    this.labels = tcpLabels(l);
    this.t.metrics.connectionOpened(this.labels);
    this.t.accessLog.opened(this.entry);
  }

  close(bytes: { received: number; sent: number }, error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const err = error === undefined ? undefined : errorText(error);
    if (this.labels) {
      const labels = err && error instanceof ProxyError ? { ...this.labels, response_flags: error.responseFlag } : this.labels;
      this.t.metrics.connectionClosed(labels, bytes);
    }
    this.t.accessLog.complete({ ...this.entry, bytes_sent: bytes.received, bytes_recv: bytes.sent, duration: durationText(this.startedAt), ...(err ? { error: err } : {}) });
  }

  /** The connection never got going. `l`: labels, when enough was known to count it. */
  fail(error: ProxyError, l?: TcpConnectionLabels): void {
    if (this.ended) return;
    this.ended = true;
    if (l) this.t.metrics.connectionFailed(tcpLabels({ ...l, responseFlags: error.responseFlag }));
    const e = { ...this.entry, response_flags: error.responseFlag, error: `${error.code}: ${error.message}` };
    if (l) this.t.accessLog.complete({ ...e, bytes_sent: 0, bytes_recv: 0, duration: durationText(this.startedAt) });
    else this.t.accessLog.failed(e);
  }
}
