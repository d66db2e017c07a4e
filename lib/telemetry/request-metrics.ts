// Istio's standard HTTP/gRPC request metrics (istio_requests_total,
// istio_request_duration_milliseconds, istio_request_bytes, istio_response_bytes) with Istio's
// label names; a waypoint reports them with reporter="waypoint". Missing values are "unknown".
import { Counter, Histogram, type Registry } from 'prom-client';
import { UNKNOWN, type PeerLabels, type ServiceLabels } from './metrics.js';

export const REQUEST_LABEL_NAMES = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_service',
  'destination_service_namespace',
  'destination_service_name',
  'destination_workload',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;

export type RequestLabelName = (typeof REQUEST_LABEL_NAMES)[number];
export type RequestLabels = Record<RequestLabelName, string>;

export interface RequestLabelInput {
  reporter: 'source' | 'destination' | 'waypoint';
  source: PeerLabels;
  destination: PeerLabels;
  destinationService?: ServiceLabels;
  /** `http`, `grpc` (HTTP/2 with content-type application/grpc*). */
  protocol: 'http' | 'grpc';
  /** 0 when no response was sent (the client went away). */
  responseCode: number;
  grpcStatus?: number;
  /** Envoy's flags, comma-separated; '-' for none. */
  responseFlags?: string;
  mtls: boolean;
}

const v = (s: string | undefined): string => (s === undefined || s === '' ? UNKNOWN : s);

export function requestLabels(c: RequestLabelInput): RequestLabels {
  const s = c.source;
  const d = c.destination;
  return {
    reporter: c.reporter,
    source_workload: v(s.workload),
    source_canonical_service: v(s.canonicalService),
    source_canonical_revision: v(s.canonicalRevision),
    source_workload_namespace: v(s.namespace),
    source_principal: v(s.principal),
    source_app: v(s.canonicalService),
    source_version: v(s.canonicalRevision),
    source_cluster: v(s.cluster),
    destination_service: v(c.destinationService?.hostname),
    destination_service_namespace: v(c.destinationService?.namespace),
    destination_service_name: v(c.destinationService?.name),
    destination_workload: v(d.workload),
    destination_canonical_service: v(d.canonicalService),
    destination_canonical_revision: v(d.canonicalRevision),
    destination_workload_namespace: v(d.namespace),
    destination_principal: v(d.principal),
    destination_app: v(d.canonicalService),
    destination_version: v(d.canonicalRevision),
    destination_cluster: v(d.cluster),
    request_protocol: c.protocol,
    response_code: String(c.responseCode),
    // Istio reports "-" for plain HTTP (no gRPC status).
    grpc_response_status: c.grpcStatus === undefined ? '-' : String(c.grpcStatus),
    response_flags: c.responseFlags || '-',
    connection_security_policy: c.mtls ? 'mutual_tls' : UNKNOWN,
  };
}

/** Istio's default buckets. */
const DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
const BYTES_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

export class RequestMetrics {
  readonly requests: Counter<RequestLabelName>;
  readonly duration: Histogram<RequestLabelName>;
  readonly requestBytes: Histogram<RequestLabelName>;
  readonly responseBytes: Histogram<RequestLabelName>;

  constructor(registry: Registry) {
    const labelNames = [...REQUEST_LABEL_NAMES];
    const registers = [registry];
    this.requests = new Counter({ name: 'istio_requests_total', help: 'Requests handled', labelNames, registers });
    this.duration = new Histogram({ name: 'istio_request_duration_milliseconds', help: 'Request duration in milliseconds', labelNames, registers, buckets: DURATION_BUCKETS });
    this.requestBytes = new Histogram({ name: 'istio_request_bytes', help: 'Request sizes in bytes (headers and body)', labelNames, registers, buckets: BYTES_BUCKETS });
    this.responseBytes = new Histogram({ name: 'istio_response_bytes', help: 'Response sizes in bytes (headers and body)', labelNames, registers, buckets: BYTES_BUCKETS });
  }

  record(l: RequestLabels, m: { durationMs: number; requestBytes: number; responseBytes: number }): void {
    this.requests.inc(l);
    this.duration.observe(l, m.durationMs);
    this.requestBytes.observe(l, m.requestBytes);
    this.responseBytes.observe(l, m.responseBytes);
  }
}
