// Istio's standard HTTP/gRPC request metrics (istio_requests_total,
// istio_request_duration_milliseconds, istio_request_bytes, istio_response_bytes) with Istio's
// label names; a waypoint reports them with reporter="waypoint". Missing values are "unknown".
import { Counter, Histogram, type Registry } from 'prom-client';
import { PEER_LABEL_NAMES, peerLabelValues, UNKNOWN, type PeerLabels, type ServiceLabels } from './metrics.js';

export const REQUEST_LABEL_NAMES = ['reporter', ...PEER_LABEL_NAMES, 'request_protocol', 'response_code', 'grpc_response_status', 'response_flags', 'connection_security_policy'] as const;

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

export function requestLabels(c: RequestLabelInput): RequestLabels {
  return {
    reporter: c.reporter,
    ...peerLabelValues(c),
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
