// Istio's standard TCP metrics (istio_tcp_*, with Istio's label names), shared by ztunnel and
// the waypoint: the names, the label set, and pure label building from what a proxy knows about
// each end of a connection. Missing values are "unknown", as Istio reports them.
import { Counter, Gauge, Registry } from 'prom-client';
import { collectProcessMetrics } from './process-metrics.js';
import { AMBIT_VERSION } from '../version.js';

export const UNKNOWN = 'unknown';

/** The labels naming both ends (and the service) of a connection or a request, in Istio's order. */
export const PEER_LABEL_NAMES = [
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
] as const;

/** Every label of the four istio_tcp_* metrics, in Istio's order (locality labels left out: prom-client needs a fixed set). */
export const TCP_LABEL_NAMES = ['reporter', ...PEER_LABEL_NAMES, 'request_protocol', 'response_flags', 'connection_security_policy'] as const;

export type TcpLabelName = (typeof TCP_LABEL_NAMES)[number];
export type TcpLabels = Record<TcpLabelName, string>;

/** What a proxy knows of one end of a connection; everything optional. */
export interface PeerLabels {
  /** Deployment-level name (Workload.workload_name), not the pod name. */
  workload?: string;
  namespace?: string;
  /** SPIFFE id; only from a verified certificate. */
  principal?: string;
  canonicalService?: string;
  canonicalRevision?: string;
  cluster?: string;
}

export interface ServiceLabels {
  /** FQDN, e.g. reviews.default.svc.cluster.local. */
  hostname: string;
  namespace?: string;
  name?: string;
}

/**
 * Response flags of Istio's TCP metrics: '-' for none; the others say where a connection failed.
 * DENY: authorization; CONNECT: the upstream connect; NETWORK_POLICY: HBONE connect timeout;
 * TLS_FAILURE / H2_HANDSHAKE_FAILURE / IDENTITY_ERROR: the tunnel could not be set up.
 */
export type ResponseFlag = '-' | 'DENY' | 'CONNECT' | 'TLS_FAILURE' | 'H2_HANDSHAKE_FAILURE' | 'NETWORK_POLICY' | 'IDENTITY_ERROR' | 'CERT_REVOKED' | 'NO_HEALTHY_UPSTREAM';

export interface TcpConnectionLabels {
  reporter: 'source' | 'destination';
  source: PeerLabels;
  destination: PeerLabels;
  destinationService?: ServiceLabels;
  /** mutual_tls for HBONE, unknown for plaintext. */
  mtls: boolean;
  responseFlags?: ResponseFlag;
}

const v = (s: string | undefined): string => (s === undefined || s === '' ? UNKNOWN : s);

/** Both ends' and the service's label values (what is not known is "unknown"). Pure. */
export function peerLabelValues(c: { source: PeerLabels; destination: PeerLabels; destinationService?: ServiceLabels }): Record<(typeof PEER_LABEL_NAMES)[number], string> {
  const s = c.source;
  const d = c.destination;
  return {
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
  };
}

/** The label values of one connection. Pure. */
export function tcpLabels(c: TcpConnectionLabels): TcpLabels {
  return {
    reporter: c.reporter,
    ...peerLabelValues(c),
    request_protocol: 'tcp',
    response_flags: c.responseFlags ?? '-',
    connection_security_policy: c.mtls ? 'mutual_tls' : UNKNOWN,
  };
}

/** The istio_tcp_* counters on one registry. */
export class TcpMetrics {
  readonly opened: Counter<TcpLabelName>;
  readonly closed: Counter<TcpLabelName>;
  readonly received: Counter<TcpLabelName>;
  readonly sent: Counter<TcpLabelName>;
  readonly failed: Counter<TcpLabelName>;
  readonly socketsOpen: Gauge<'reporter'>;

  constructor(registry: Registry) {
    const labelNames = [...TCP_LABEL_NAMES];
    const registers = [registry];
    this.opened = new Counter({ name: 'istio_tcp_connections_opened_total', help: 'TCP connections opened', labelNames, registers });
    this.closed = new Counter({ name: 'istio_tcp_connections_closed_total', help: 'TCP connections closed', labelNames, registers });
    this.received = new Counter({ name: 'istio_tcp_received_bytes_total', help: 'Bytes received from the downstream (client to server)', labelNames, registers });
    this.sent = new Counter({ name: 'istio_tcp_sent_bytes_total', help: 'Bytes sent to the downstream (server to client)', labelNames, registers });
    this.failed = new Counter({ name: 'istio_tcp_connections_failed_total', help: 'TCP connections that failed (response_flags other than -)', labelNames, registers });
    this.socketsOpen = new Gauge({ name: 'istio_tcp_sockets_open', help: 'Proxied connections open now', labelNames: ['reporter'], registers });
  }

  connectionOpened(l: TcpLabels): void {
    this.opened.inc(l);
    this.socketsOpen.inc({ reporter: l.reporter });
  }

  /** `received`: downstream → upstream bytes; `sent`: upstream → downstream. */
  connectionClosed(l: TcpLabels, bytes: { received: number; sent: number }): void {
    this.closed.inc(l);
    this.socketsOpen.dec({ reporter: l.reporter });
    if (bytes.received > 0) this.received.inc(l, bytes.received);
    if (bytes.sent > 0) this.sent.inc(l, bytes.sent);
    if (l.response_flags !== '-') this.failed.inc(l);
  }

  /** A connection that failed before it was ever counted as opened (refused, no upstream). */
  connectionFailed(l: TcpLabels): void {
    this.failed.inc(l);
  }
}

/** The HBONE server's own counters (Ambit's, no Istio equivalent). */
export class HboneMetrics {
  readonly handshakesShed: Counter;

  constructor(registry: Registry) {
    this.handshakesShed = new Counter({
      name: 'ambit_hbone_handshakes_shed_total',
      help: 'Sockets reset on accept because their HBONE listener already had the maximum number of TLS handshakes in progress',
      registers: [registry],
    });
  }
}

export interface RegistryOptions {
  /** istio_build{component, tag}. */
  component: string;
  tag?: string;
  /** Node.js process metrics (CPU, memory, event loop lag); default true. */
  processMetrics?: boolean;
}

/** A fresh registry (never prom-client's global one) with istio_build and, by default, process metrics. */
export function createMetricsRegistry(o: RegistryOptions): Registry {
  const registry = new Registry();
  const build = new Gauge({ name: 'istio_build', help: 'Build of the running component', labelNames: ['component', 'tag'], registers: [registry] });
  build.set({ component: o.component, tag: o.tag ?? AMBIT_VERSION }, 1);
  if (o.processMetrics ?? true) collectProcessMetrics(registry);
  return registry;
}
