// The pure half of `ambit proxy-status`: which proxies hold an xDS stream to the control plane and,
// per resource type, whether they are SYNCED (the last response ACKed), STALE (a response not yet
// answered) or NACKED, from the control plane's `/debug/connections` (lib/xds/server.ts streams()).
import type { Table } from './ztunnel-config-view.js';

export interface DebugType {
  typeUrl: string;
  state?: string;
  sentVersion?: string;
  ackedVersion?: string;
  nackedVersion?: string;
  acks?: number;
  nacks?: number;
  lastNack?: string;
  resources?: number;
}

export interface DebugConnection {
  id: number;
  peer: string;
  nodeId?: string;
  cluster?: string;
  version?: string;
  controlPlane?: string;
  connectedAt?: string;
  caller?: string;
  types?: DebugType[];
}

/** Column names per type URL, in the order columns are shown; others use their message name. */
const SHORT: ReadonlyArray<[string, string]> = [
  ['type.googleapis.com/istio.workload.Address', 'ADDRESS'],
  ['type.googleapis.com/istio.security.Authorization', 'AUTHORIZATION'],
  ['type.googleapis.com/ambit.l7.v1.RouteConfig', 'ROUTES'],
  ['type.googleapis.com/ambit.l7.v1.DestinationPolicy', 'DESTINATIONS'],
  ['type.googleapis.com/ambit.l7.v1.L7Authorization', 'L7-AUTHZ'],
  ['type.googleapis.com/ambit.l7.v1.RateLimit', 'RATE-LIMITS'],
];
const SHORT_MAP = new Map(SHORT);

export function typeColumn(typeUrl: string): string {
  return SHORT_MAP.get(typeUrl) ?? (typeUrl.split('.').pop() ?? typeUrl).toUpperCase();
}

/** Istio's proxy name from its node id `type~ip~pod.namespace~namespace.svc.domain`. */
export function proxyName(c: DebugConnection): string {
  const parts = (c.nodeId ?? '').split('~');
  return parts.length === 4 && parts[2] ? parts[2] : c.nodeId || c.peer;
}

/** The proxy's type from its node id: ztunnel, waypoint (Istio's `router`), or as sent. */
export function proxyType(c: DebugConnection): string {
  const t = (c.nodeId ?? '').split('~')[0] ?? '';
  return t === 'router' ? 'waypoint' : t || 'unknown';
}

/** Every type URL any proxy subscribes to, known ones first. */
function columns(conns: DebugConnection[]): string[] {
  const seen = new Set(conns.flatMap((c) => (c.types ?? []).map((t) => t.typeUrl)));
  const known = SHORT.map(([u]) => u).filter((u) => seen.has(u));
  return [...known, ...[...seen].filter((u) => !SHORT_MAP.has(u)).sort()];
}

/** NAME CLUSTER TYPE <one column per type> ISTIOD VERSION; `NOT SENT` where a proxy does not subscribe. */
export function proxyStatusTable(conns: DebugConnection[]): Table {
  const types = columns(conns);
  const rows = conns.map((c) => {
    const byUrl = new Map((c.types ?? []).map((t) => [t.typeUrl, t]));
    return [proxyName(c), c.cluster ?? 'Kubernetes', proxyType(c), ...types.map((u) => byUrl.get(u)?.state ?? 'NOT SENT'), c.controlPlane ?? 'unknown', c.version ?? 'unknown'];
  });
  rows.sort((a, b) => a[0]!.localeCompare(b[0]!));
  return { header: ['NAME', 'CLUSTER', 'TYPE', ...types.map(typeColumn), 'ISTIOD', 'VERSION'], rows };
}

/** One proxy in detail: per type its state, the versions sent, ACKed and NACKed, and the last NACK. */
export function proxyDetailTable(c: DebugConnection): Table {
  const order = new Map(SHORT.map(([u], i) => [u, i]));
  const types = [...(c.types ?? [])].sort((a, b) => (order.get(a.typeUrl) ?? 99) - (order.get(b.typeUrl) ?? 99) || a.typeUrl.localeCompare(b.typeUrl));
  return {
    header: ['TYPE', 'STATE', 'RESOURCES', 'SENT', 'ACKED', 'NACKED', 'ACKS', 'NACKS', 'LAST NACK'],
    rows: types.map((t) => [typeColumn(t.typeUrl), t.state ?? 'UNKNOWN', String(t.resources ?? 0), t.sentVersion ?? '-', t.ackedVersion ?? '-', t.nackedVersion ?? '-', String(t.acks ?? 0), String(t.nacks ?? 0), t.lastNack ?? '']),
  };
}

/** The connections whose proxy name is `name`, or starts with `name` (a pod name without namespace). */
export function findProxy(conns: DebugConnection[], name: string): DebugConnection[] {
  const exact = conns.filter((c) => proxyName(c) === name);
  return exact.length ? exact : conns.filter((c) => proxyName(c).startsWith(name));
}

/** The control plane's monitoring forward among `ambit up`'s port-forwards. */
export function controlForward(forwards: Record<string, string>): string | undefined {
  return Object.entries(forwards).find(([n]) => /^control\b/.test(n))?.[1];
}
