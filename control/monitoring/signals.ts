// The dashboard's numbers (traffic edges and golden-signal series) from Istio's metrics, through one
// interface that two sources answer: the control plane's own scrape history (history-queries.ts)
// and a Prometheus server over PromQL (prometheus-source.ts). Everything here is computed from
// counter increases, so both sources give the same answers for the same samples.
import type { Labels } from './exposition.js';
import { bucketQuantile } from './history.js';

/** Maps a series' labels to the key its increase is summed under; undefined leaves it out. */
export type Group = (l: Labels) => string | undefined;

export interface CounterQueries {
  /** For each `at` (ms, ascending, evenly spaced when more than one), the increase of counter `name` over (at − windowMs, at], summed per group. */
  increase(name: string, ats: readonly number[], windowMs: number, group: Group): Promise<Array<Map<string, number>>>;
  now(): number;
}

/** One edge of the traffic graph: a workload calling a service (or a workload without one) over a window. */
export interface TrafficEdge {
  /** `ns/workload`. */
  source: string;
  /** `ns/service`, or `ns/workload` when the destination has no service. */
  destination: string;
  destinationIsService: boolean;
  /** True when a waypoint reported HTTP requests on it (the traffic passed one). */
  viaWaypoint: boolean;
  requestsPerSecond: number;
  /** New TCP connections per second (the server side's ztunnel). */
  connectionsPerSecond: number;
  /** Share of failed requests (4xx, 5xx) or, without requests, of failed connections; 0..1. */
  errorRatio: number;
  p50Ms?: number;
  p99Ms?: number;
  tcpBytesPerSecond: number;
  /** The reporter said connection_security_policy="mutual_tls". */
  mtls: boolean;
}

/** The Istio metrics the dashboard reads; the same names for both sources. */
export const METRICS = {
  requests: 'istio_requests_total',
  duration: 'istio_request_duration_milliseconds',
  sent: 'istio_tcp_sent_bytes_total',
  received: 'istio_tcp_received_bytes_total',
  opened: 'istio_tcp_connections_opened_total',
  closed: 'istio_tcp_connections_closed_total',
  failed: 'istio_tcp_connections_failed_total',
} as const;

/** The labels any query here groups by; a Prometheus query keeps exactly these. */
export const GROUP_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'destination_workload',
  'destination_workload_namespace',
  'destination_service_name',
  'destination_service_namespace',
  'response_code',
  'response_flags',
  'connection_security_policy',
  'le',
] as const;

const known = (v: string | undefined): v is string => v !== undefined && v !== '' && v !== 'unknown';

export function sourceOf(l: Labels): string {
  return `${l.source_workload_namespace ?? 'unknown'}/${l.source_workload ?? 'unknown'}`;
}

/** `[destination, isService]`: the service when the reporter knew it, else the workload. */
export function destinationOf(l: Labels): [string, boolean] {
  if (known(l.destination_service_name)) return [`${l.destination_service_namespace ?? 'unknown'}/${l.destination_service_name}`, true];
  return [`${l.destination_workload_namespace ?? 'unknown'}/${l.destination_workload ?? 'unknown'}`, false];
}

const SEP = '\u0001';
const SVC = 's';
const WL = 'w';
function edgeKey(l: Labels): string {
  const [dest, isService] = destinationOf(l);
  return `${sourceOf(l)}${SEP}${dest}${SEP}${isService ? SVC : WL}`;
}

/** A request failed: HTTP 4xx/5xx, or no response at all (code 0). */
export function isErrorCode(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('4') || code.startsWith('5') || code === '0');
}

// HTTP from the waypoints' reports, TCP from the server side's ztunnel: nothing counted twice.
const isHttp = (l: Labels): boolean => l.reporter === 'waypoint';
const isTcp = (l: Labels): boolean => l.reporter === 'destination';

/** The groups one set of numbers needs, restricted by `keep` and keyed by `key`. */
function groups(key: Group, keep: (l: Labels) => boolean = () => true) {
  const when = (cond: (l: Labels) => boolean): Group => (l) => (keep(l) && cond(l) ? key(l) : undefined);
  return {
    http: when(isHttp),
    httpErr: when((l) => isHttp(l) && isErrorCode(l.response_code)),
    tcp: when(isTcp),
    tcpClosedFailed: when((l) => isTcp(l) && (l.response_flags ?? '-') !== '-'),
    mtls: when((l) => (isHttp(l) || isTcp(l)) && l.connection_security_policy === 'mutual_tls'),
  };
}

interface Numbers {
  requests: number;
  errors: number;
  opened: number;
  failed: number;
  closedFailed: number;
  bytes: number;
  secure: number;
  p50?: number;
  p99?: number;
}

/** The raw increases for every `at`, per key. */
async function numbers(q: CounterQueries, ats: readonly number[], windowMs: number, key: Group, keep?: (l: Labels) => boolean): Promise<Array<Map<string, Numbers>>> {
  const g = groups(key, keep);
  const withLe: Group = (l) => {
    const k = g.http(l);
    return k === undefined || l.le === undefined ? undefined : `${k}\u0000${l.le}`;
  };
  const [requests, errors, sent, received, opened, failed, closedFailed, secureReq, secureTcp, secureFailed, buckets] = await Promise.all([
    q.increase(METRICS.requests, ats, windowMs, g.http),
    q.increase(METRICS.requests, ats, windowMs, g.httpErr),
    q.increase(METRICS.sent, ats, windowMs, g.tcp),
    q.increase(METRICS.received, ats, windowMs, g.tcp),
    q.increase(METRICS.opened, ats, windowMs, g.tcp),
    q.increase(METRICS.failed, ats, windowMs, g.tcp),
    q.increase(METRICS.closed, ats, windowMs, g.tcpClosedFailed),
    q.increase(METRICS.requests, ats, windowMs, g.mtls),
    q.increase(METRICS.opened, ats, windowMs, g.mtls),
    q.increase(METRICS.failed, ats, windowMs, g.mtls),
    q.increase(`${METRICS.duration}_bucket`, ats, windowMs, withLe),
  ]);
  return ats.map((_, i) => {
    const out = new Map<string, Numbers>();
    const at = (k: string): Numbers => {
      let n = out.get(k);
      if (!n) out.set(k, (n = { requests: 0, errors: 0, opened: 0, failed: 0, closedFailed: 0, bytes: 0, secure: 0 }));
      return n;
    };
    const add = (m: Map<string, number> | undefined, f: (n: Numbers, v: number) => void): void => m?.forEach((v, k) => f(at(k), v));
    add(requests[i], (n, v) => (n.requests += v));
    add(errors[i], (n, v) => (n.errors += v));
    add(sent[i], (n, v) => (n.bytes += v));
    add(received[i], (n, v) => (n.bytes += v));
    add(opened[i], (n, v) => (n.opened += v));
    add(failed[i], (n, v) => (n.failed += v));
    add(closedFailed[i], (n, v) => (n.closedFailed += v));
    add(secureReq[i], (n, v) => (n.secure += v));
    add(secureTcp[i], (n, v) => (n.secure += v));
    // A refused connection that came over mTLS (HBONE) still says so.
    add(secureFailed[i], (n, v) => (n.secure += v));
    const perKey = new Map<string, Array<{ le: number; count: number }>>();
    buckets[i]?.forEach((count, k) => {
      const cut = k.lastIndexOf('\u0000');
      const le = k.slice(cut + 1);
      const list = perKey.get(k.slice(0, cut)) ?? [];
      list.push({ le: le === '+Inf' ? Infinity : Number(le), count });
      perKey.set(k.slice(0, cut), list);
    });
    for (const [k, list] of perKey) {
      const p50 = bucketQuantile(0.5, list);
      const p99 = bucketQuantile(0.99, list);
      if (p50 !== undefined) at(k).p50 = p50;
      if (p99 !== undefined) at(k).p99 = p99;
    }
    return out;
  });
}

/** Error share: of requests when there were any, else of connection attempts. */
function errorRatio(n: Numbers): number {
  if (n.requests > 0) return n.errors / n.requests;
  const attempts = n.opened + n.failed - n.closedFailed;
  return attempts > 0 ? Math.min(1, n.failed / attempts) : 0;
}

/** The traffic graph's edges over (at − windowMs, at]. */
export async function trafficEdges(q: CounterQueries, at: number, windowMs: number): Promise<TrafficEdge[]> {
  const [all] = await numbers(q, [at], windowMs, edgeKey);
  const seconds = windowMs / 1000;
  const out: TrafficEdge[] = [];
  for (const [key, n] of all ?? []) {
    if (n.requests === 0 && n.opened === 0 && n.failed === 0 && n.bytes === 0) continue;
    const [source = '', destination = '', kind] = key.split(SEP);
    const edge: TrafficEdge = {
      source,
      destination,
      destinationIsService: kind === SVC,
      viaWaypoint: n.requests > 0,
      requestsPerSecond: n.requests / seconds,
      connectionsPerSecond: n.opened / seconds,
      errorRatio: errorRatio(n),
      tcpBytesPerSecond: n.bytes / seconds,
      mtls: n.secure > 0,
    };
    if (n.p50 !== undefined) edge.p50Ms = n.p50;
    if (n.p99 !== undefined) edge.p99Ms = n.p99;
    out.push(edge);
  }
  return out.sort((a, b) => a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination));
}

/** One step of a golden-signal chart. */
export interface GoldenPoint {
  /** End of the step, ms. */
  at: number;
  requestsPerSecond: number;
  errorRatio: number;
  p50Ms: number | null;
  p99Ms: number | null;
  tcpBytesPerSecond: number;
  connectionsPerSecond: number;
}

/** Which inbound traffic a chart is about. */
export type Target = { kind: 'service'; namespace: string; name: string } | { kind: 'workload'; namespace: string; name: string };

export function inboundOf(t: Target): (l: Labels) => boolean {
  return t.kind === 'service'
    ? (l) => l.destination_service_namespace === t.namespace && l.destination_service_name === t.name
    : (l) => l.destination_workload_namespace === t.namespace && l.destination_workload === t.name;
}

/** The step ends of a chart: `(to − rangeMs, to]` in steps of `stepMs`, oldest first. */
export function stepsOf(to: number, rangeMs: number, stepMs: number): number[] {
  if (!(stepMs > 0) || !(rangeMs >= stepMs)) throw new Error(`a chart needs a positive step no longer than its range (range ${rangeMs} ms, step ${stepMs} ms)`);
  const end = Math.floor(to / stepMs) * stepMs;
  const n = Math.floor(rangeMs / stepMs);
  return Array.from({ length: n }, (_, i) => end - (n - 1 - i) * stepMs);
}

/** Rate, errors, latency and TCP bytes of a target's inbound traffic, per step. */
export async function goldenSeries(q: CounterQueries, target: Target, to: number, rangeMs: number, stepMs: number): Promise<GoldenPoint[]> {
  const ats = stepsOf(to, rangeMs, stepMs);
  const per = await numbers(q, ats, stepMs, () => 'all', inboundOf(target));
  const seconds = stepMs / 1000;
  return ats.map((at, i) => {
    const n = per[i]?.get('all');
    return {
      at,
      requestsPerSecond: (n?.requests ?? 0) / seconds,
      errorRatio: n ? errorRatio(n) : 0,
      p50Ms: n?.p50 ?? null,
      p99Ms: n?.p99 ?? null,
      tcpBytesPerSecond: (n?.bytes ?? 0) / seconds,
      connectionsPerSecond: (n?.opened ?? 0) / seconds,
    };
  });
}
