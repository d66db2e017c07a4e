// The dashboard's JSON, as pure functions from the mesh model and the traffic numbers: the service
// graph (workloads, services and waypoints as nodes; traffic through a waypoint drawn via it), and
// a service's or a workload's page (golden signals, endpoints, nodes, the policies and routes that
// apply with their validity, its waypoint, certificate identity and expiry).
import type { KubeObject } from '../../lib/store/types.js';
import type { IssuedCertificate } from '../ca/issued.js';
import type { AuthorizationModel, GatewayAddr, ObjectStatus, ServiceModel, WorkloadModel } from '../model/types.js';
import type { GoldenPoint, TrafficEdge } from './signals.js';

export interface MeshView {
  workloads: readonly WorkloadModel[];
  services: readonly ServiceModel[];
  authorizations: readonly AuthorizationModel[];
  /** The conditions the control plane writes back (policies, services, routes). */
  status: readonly ObjectStatus[];
  /** The AuthorizationPolicy objects as stored (their targetRefs say which waypoint enforces them). */
  policyObjects: readonly KubeObject[];
  certificates: ReadonlyMap<string, IssuedCertificate>;
  trustDomain: string;
  rootNamespace: string;
}

export type NodeKind = 'workload' | 'service' | 'waypoint';

export interface GraphNode {
  /** `<kind>:<ns>/<name>`. */
  id: string;
  kind: NodeKind;
  namespace: string;
  name: string;
}

/** An edge between two nodes: the numbers of the traffic edges drawn on it. */
export interface GraphEdge extends Omit<TrafficEdge, 'source' | 'destination' | 'destinationIsService' | 'viaWaypoint'> {
  from: string;
  to: string;
  /** The waypoint (`ns/name`) the traffic of this edge passed, when it was drawn via one. */
  via?: string;
}

export interface Graph {
  windowSeconds: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** Namespaces of the platform, left off the graph unless traffic touches them. */
const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

export const nodeId = (kind: NodeKind, nsName: string): string => `${kind}:${nsName}`;

/** `ns/name` of the waypoint a GatewayAddr names (its Service's name is the Gateway's). */
export function waypointName(w: GatewayAddr | undefined): string | undefined {
  if (!w || !('hostname' in w)) return undefined;
  return `${w.hostname.namespace}/${w.hostname.hostname.split('.')[0]}`;
}

function waypoints(m: MeshView): Set<string> {
  const out = new Set<string>();
  for (const x of [...m.services, ...m.workloads]) {
    const w = waypointName(x.waypoint);
    if (w) out.add(w);
  }
  return out;
}

function split(nsName: string): [string, string] {
  const i = nsName.indexOf('/');
  return [nsName.slice(0, i), nsName.slice(i + 1)];
}

function mergeInto(a: GraphEdge, b: GraphEdge): void {
  const req = a.requestsPerSecond + b.requestsPerSecond;
  const weight = (e: GraphEdge): number => e.requestsPerSecond || e.connectionsPerSecond || 1;
  a.errorRatio = (a.errorRatio * weight(a) + b.errorRatio * weight(b)) / (weight(a) + weight(b));
  a.requestsPerSecond = req;
  a.connectionsPerSecond += b.connectionsPerSecond;
  a.tcpBytesPerSecond += b.tcpBytesPerSecond;
  a.mtls ||= b.mtls;
  if (b.p50Ms !== undefined) a.p50Ms = Math.max(a.p50Ms ?? 0, b.p50Ms);
  if (b.p99Ms !== undefined) a.p99Ms = Math.max(a.p99Ms ?? 0, b.p99Ms);
  if (b.via) a.via = b.via;
}

/** The service graph over a window: every mesh service, the callers seen, waypoints between. */
export function graphView(m: MeshView, traffic: readonly TrafficEdge[], windowSeconds: number): Graph {
  const wps = waypoints(m);
  const svcWaypoint = new Map(m.services.map((s) => [`${s.namespace}/${s.name}`, waypointName(s.waypoint)]));
  const nodes = new Map<string, GraphNode>();
  const node = (kind: NodeKind, nsName: string): string => {
    const id = nodeId(kind, nsName);
    const [namespace, name] = split(nsName);
    if (!nodes.has(id)) nodes.set(id, { id, kind, namespace, name });
    return id;
  };
  for (const s of m.services) {
    const key = `${s.namespace}/${s.name}`;
    if (SYSTEM_NAMESPACES.has(s.namespace) || (s.namespace === 'default' && s.name === 'kubernetes')) continue;
    node(wps.has(key) ? 'waypoint' : 'service', key);
  }
  const edges = new Map<string, GraphEdge>();
  const add = (e: GraphEdge): void => {
    const k = `${e.from}\u0001${e.to}`;
    const seen = edges.get(k);
    if (seen) mergeInto(seen, e);
    else edges.set(k, e);
  };
  for (const t of traffic) {
    const from = node(wps.has(t.source) ? 'waypoint' : 'workload', t.source);
    const to = node(t.destinationIsService ? (wps.has(t.destination) ? 'waypoint' : 'service') : wps.has(t.destination) ? 'waypoint' : 'workload', t.destination);
    const numbers = {
      requestsPerSecond: t.requestsPerSecond,
      connectionsPerSecond: t.connectionsPerSecond,
      errorRatio: t.errorRatio,
      tcpBytesPerSecond: t.tcpBytesPerSecond,
      mtls: t.mtls,
      ...(t.p50Ms !== undefined ? { p50Ms: t.p50Ms } : {}),
      ...(t.p99Ms !== undefined ? { p99Ms: t.p99Ms } : {}),
    };
    const wp = t.viaWaypoint && t.destinationIsService ? svcWaypoint.get(t.destination) : undefined;
    if (wp && wp !== t.source) {
      const w = node('waypoint', wp);
      add({ from, to: w, ...numbers, via: wp });
      // The waypoint's own connections to the backends are counted on its TCP edge, not twice.
      add({ from: w, to, ...numbers, connectionsPerSecond: 0, tcpBytesPerSecond: 0, via: wp });
    } else {
      add({ from, to, ...numbers });
    }
  }
  return {
    windowSeconds,
    nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)),
    edges: [...edges.values()].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to)),
  };
}

export interface ApplyingObject {
  kind: string;
  namespace: string;
  name: string;
  /** Who enforces it: ztunnel (selector, namespace or mesh-wide) or the waypoint (targetRefs). */
  enforcedBy?: 'ztunnel' | 'waypoint';
  /** Every condition True (or none written yet). */
  valid: boolean;
  conditions: ObjectStatus['conditions'];
}

export interface Endpoint {
  pod: string;
  workload: string;
  addresses: string[];
  node: string;
  status: string;
  identity: string;
  certificate: IssuedCertificate | null;
}

export interface ServicePage {
  kind: 'service';
  namespace: string;
  name: string;
  hostname: string;
  addresses: string[];
  ports: Array<{ port: number; targetPort: number; protocol: string }>;
  waypoint: string | null;
  endpoints: Endpoint[];
  nodes: string[];
  policies: ApplyingObject[];
  routes: ApplyingObject[];
  inbound: GraphEdge[];
  outbound: GraphEdge[];
  series: GoldenPoint[];
}

export interface WorkloadPage {
  kind: 'workload';
  namespace: string;
  name: string;
  pods: Endpoint[];
  services: string[];
  nodes: string[];
  waypoint: string | null;
  policies: ApplyingObject[];
  inbound: GraphEdge[];
  outbound: GraphEdge[];
  series: GoldenPoint[];
}

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

function statusOf(m: MeshView, kind: string, namespace: string, name: string): ObjectStatus['conditions'] {
  return m.status.filter((s) => s.kind === kind && s.namespace === namespace && s.name === name).flatMap((s) => s.conditions);
}

function applying(m: MeshView, kind: string, namespace: string, name: string, enforcedBy?: 'ztunnel' | 'waypoint'): ApplyingObject {
  const conditions = statusOf(m, kind, namespace, name);
  return { kind, namespace, name, ...(enforcedBy ? { enforcedBy } : {}), valid: conditions.every((c) => c.status === 'True'), conditions };
}

function endpointOf(m: MeshView, w: WorkloadModel): Endpoint {
  const identity = spiffeId(m.trustDomain, w.namespace, w.serviceAccount);
  return { pod: w.name, workload: w.workloadName, addresses: w.addresses, node: w.node, status: w.status, identity, certificate: m.certificates.get(identity) ?? null };
}

interface TargetRef {
  kind?: string;
  name?: string;
}

function targetRefsOf(o: KubeObject): TargetRef[] {
  const spec = (o as { spec?: { targetRefs?: TargetRef[]; targetRef?: TargetRef } }).spec;
  return [...(Array.isArray(spec?.targetRefs) ? spec.targetRefs : []), ...(spec?.targetRef ? [spec.targetRef] : [])];
}

/** The AuthorizationPolicies that apply to traffic to these workloads, or through this service's waypoint. */
function policiesFor(m: MeshView, namespace: string, workloads: readonly WorkloadModel[], service?: { name: string; waypoint?: string }): ApplyingObject[] {
  const out = new Map<string, ApplyingObject>();
  const put = (ns: string, name: string, by: 'ztunnel' | 'waypoint'): void => {
    if (!out.has(`${ns}/${name}`)) out.set(`${ns}/${name}`, applying(m, 'AuthorizationPolicy', ns, name, by));
  };
  for (const w of workloads) for (const p of w.authorizationPolicies) put(...split(p), 'ztunnel');
  for (const a of m.authorizations) {
    if ((a.scope === 'NAMESPACE' && a.namespace === namespace) || a.scope === 'GLOBAL') {
      // Converted PeerAuthentications carry a generated name; show the policies a user wrote.
      if (!a.name.startsWith('converted_peer_authentication')) put(a.namespace, a.name, 'ztunnel');
    }
  }
  if (service) {
    const [wpNs, wpName] = service.waypoint ? split(service.waypoint) : ['', ''];
    for (const o of m.policyObjects) {
      const ns = o.metadata.namespace ?? '';
      const hit = targetRefsOf(o).some((r) => (r.kind === 'Service' && ns === namespace && r.name === service.name) || (r.kind === 'Gateway' && ns === wpNs && r.name === wpName));
      if (hit) put(ns, o.metadata.name, 'waypoint');
    }
  }
  return [...out.values()].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

const ROUTE_KINDS = new Set(['HTTPRoute', 'GRPCRoute', 'VirtualService', 'DestinationRule', 'RateLimitPolicy']);

/** The routes whose status names the service as a parent (the GAMMA way to attach a route). */
function routesFor(m: MeshView, namespace: string, name: string): ApplyingObject[] {
  const out: ApplyingObject[] = [];
  for (const s of m.status as ReadonlyArray<ObjectStatus & { parentRefs?: Array<{ kind: string; namespace: string; name: string }> }>) {
    if (!ROUTE_KINDS.has(s.kind)) continue;
    if ((s.parentRefs ?? []).some((p) => p.kind === 'Service' && p.namespace === namespace && p.name === name)) out.push({ kind: s.kind, namespace: s.namespace, name: s.name, valid: s.conditions.every((c) => c.status === 'True'), conditions: s.conditions });
  }
  return out;
}

function sortedUnique(xs: Iterable<string>): string[] {
  return [...new Set(xs)].filter((x) => x !== '').sort();
}

/** A service's page, or undefined when the model has no such service. */
export function servicePage(m: MeshView, namespace: string, name: string, graph: Graph, series: GoldenPoint[]): ServicePage | undefined {
  const s = m.services.find((x) => x.namespace === namespace && x.name === name);
  if (!s) return undefined;
  const key = `${s.namespace}/${s.hostname}`;
  const members = m.workloads.filter((w) => key in w.services).sort((a, b) => a.name.localeCompare(b.name));
  const waypoint = waypointName(s.waypoint) ?? null;
  const ids = new Set([nodeId('service', `${namespace}/${name}`), nodeId('waypoint', `${namespace}/${name}`)]);
  return {
    kind: 'service',
    namespace,
    name,
    hostname: s.hostname,
    addresses: s.addresses.map((a) => a.ip),
    ports: s.ports.map((p) => ({ port: p.servicePort, targetPort: p.targetPort, protocol: p.appProtocol ?? 'UNKNOWN' })),
    waypoint,
    endpoints: members.map((w) => endpointOf(m, w)),
    nodes: sortedUnique(members.map((w) => w.node)),
    policies: policiesFor(m, namespace, members, { name, ...(waypoint ? { waypoint } : {}) }),
    routes: routesFor(m, namespace, name),
    inbound: graph.edges.filter((e) => ids.has(e.to)),
    outbound: graph.edges.filter((e) => ids.has(e.from)),
    series,
  };
}

/** A workload's page (pods grouped by their workload name), or undefined when it has no pods. */
export function workloadPage(m: MeshView, namespace: string, name: string, graph: Graph, series: GoldenPoint[]): WorkloadPage | undefined {
  const pods = m.workloads.filter((w) => w.namespace === namespace && w.workloadName === name).sort((a, b) => a.name.localeCompare(b.name));
  if (pods.length === 0) return undefined;
  const hostnames = new Set(pods.flatMap((w) => Object.keys(w.services)));
  const ids = new Set([nodeId('workload', `${namespace}/${name}`), nodeId('waypoint', `${namespace}/${name}`)]);
  return {
    kind: 'workload',
    namespace,
    name,
    pods: pods.map((w) => endpointOf(m, w)),
    services: sortedUnique(m.services.filter((s) => hostnames.has(`${s.namespace}/${s.hostname}`)).map((s) => `${s.namespace}/${s.name}`)),
    nodes: sortedUnique(pods.map((w) => w.node)),
    waypoint: waypointName(pods[0]?.waypoint) ?? null,
    policies: policiesFor(m, namespace, pods),
    inbound: graph.edges.filter((e) => ids.has(e.to)),
    outbound: graph.edges.filter((e) => ids.has(e.from)),
    series,
  };
}
