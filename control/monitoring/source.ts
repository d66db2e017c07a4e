// Where the dashboard's numbers come from: one interface, answered either from the control plane's
// own scrapes (scrape-source.ts) or, later, from a Prometheus server.
import type { Labels } from './exposition.js';
import type { MetricHistory } from './history.js';

/** One edge of the service graph: traffic from a workload to a service over a window. */
export interface TrafficEdge {
  source: string;
  destination: string;
  /** True when a waypoint reported the requests (the traffic passed one). */
  viaWaypoint: boolean;
  requestsPerSecond: number;
  /** Share of requests answered 5xx, 0..1. */
  errorRatio: number;
  p50Ms?: number;
  p99Ms?: number;
  tcpBytesPerSecond: number;
  mtls: boolean;
}

export interface MetricsSource {
  edges(windowMs: number): Promise<TrafficEdge[]>;
}

function workload(l: Labels, side: 'source' | 'destination'): string {
  return `${l[`${side}_workload_namespace`] ?? 'unknown'}/${l[`${side}_workload`] ?? 'unknown'}`;
}

function destination(l: Labels): string {
  const svc = l.destination_service_name;
  if (svc && svc !== 'unknown') return `${l.destination_service_namespace ?? 'unknown'}/${svc}`;
  return workload(l, 'destination');
}

const SEP = '\u0001';
const edgeKey = (l: Labels): string => `${workload(l, 'source')}${SEP}${destination(l)}`;

/**
 * The graph over [now - windowMs, now] from a history of Istio metrics. HTTP edges come from the
 * waypoints' reports (reporter="waypoint"), TCP edges from the server side's ztunnel
 * (reporter="destination"), so no connection is counted twice.
 */
export function edgesFromHistory(h: MetricHistory, now: number, windowMs: number): TrafficEdge[] {
  const from = now - windowMs;
  const seconds = windowMs / 1000;
  const http = (l: Labels): string | undefined => (l.reporter === 'waypoint' ? edgeKey(l) : undefined);
  const httpErr = (l: Labels): string | undefined => (l.reporter === 'waypoint' && (l.response_code ?? '').startsWith('5') ? edgeKey(l) : undefined);
  const tcp = (l: Labels): string | undefined => (l.reporter === 'destination' ? edgeKey(l) : undefined);
  const mtls = (l: Labels): string | undefined => (l.connection_security_policy === 'mutual_tls' ? edgeKey(l) : undefined);

  const requests = h.increase('istio_requests_total', from, now, http);
  const errors = h.increase('istio_requests_total', from, now, httpErr);
  const p50 = h.quantile(0.5, 'istio_request_duration_milliseconds', from, now, http);
  const p99 = h.quantile(0.99, 'istio_request_duration_milliseconds', from, now, http);
  const sent = h.increase('istio_tcp_sent_bytes_total', from, now, tcp);
  const received = h.increase('istio_tcp_received_bytes_total', from, now, tcp);
  const opened = h.increase('istio_tcp_connections_opened_total', from, now, tcp);
  const secure = new Map([...h.increase('istio_tcp_connections_opened_total', from, now, mtls), ...h.increase('istio_requests_total', from, now, mtls)]);

  const keys = new Set([...requests.keys(), ...opened.keys(), ...sent.keys()]);
  const out: TrafficEdge[] = [];
  for (const key of keys) {
    const [source = '', dest = ''] = key.split(SEP);
    const req = requests.get(key) ?? 0;
    const edge: TrafficEdge = {
      source,
      destination: dest,
      viaWaypoint: requests.has(key),
      requestsPerSecond: req / seconds,
      errorRatio: req > 0 ? (errors.get(key) ?? 0) / req : 0,
      tcpBytesPerSecond: ((sent.get(key) ?? 0) + (received.get(key) ?? 0)) / seconds,
      mtls: (secure.get(key) ?? 0) > 0,
    };
    const a = p50.get(key);
    const b = p99.get(key);
    if (a !== undefined) edge.p50Ms = a;
    if (b !== undefined) edge.p99Ms = b;
    out.push(edge);
  }
  return out.sort((a, b) => a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination));
}
