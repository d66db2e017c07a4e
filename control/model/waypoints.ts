/**
 * Gateways → waypoints, and `istio.io/use-waypoint` binding of services and workloads.
 * A waypoint is a Gateway of class `istio-waypoint` (or any Gateway that already reports an
 * address, so another gateway can be put in the path); its address comes from `status.addresses`
 * (hostname preferred) or, before a status writer has run, from the Service labelled with its name.
 */
import { isGatewayInfrastructure, L, labelsMatch, useWaypoint } from './labels.js';
import { canonicalIp } from './net.js';
import { isRecord, readMeta, readSpec, stringMap, type Meta, type Problems } from './objects.js';
import type { Condition, GatewayAddr, ResolvedOptions } from './types.js';

export const WAYPOINT_CLASS = 'istio-waypoint';
export const HBONE_PORT = 15008;

export type TrafficType = 'service' | 'workload' | 'all' | 'none';
const TRAFFIC_TYPES: readonly string[] = ['service', 'workload', 'all', 'none'];

interface Requirement {
  key: string;
  operator: string;
  values: string[];
}

type AllowedFrom = { from: 'Same' } | { from: 'All' } | { from: 'Selector'; matchLabels: Record<string, string>; expressions: Requirement[] };

export interface Waypoint {
  namespace: string;
  name: string;
  trafficType: TrafficType;
  /** Undefined while the waypoint has no address yet (not ready). */
  address?: GatewayAddr;
  allowed: AllowedFrom;
}

/** What waypoints.ts needs to know about Services, to find the one fronting a waypoint. */
export interface ServiceRef {
  name: string;
  namespace: string;
  labels: Record<string, string>;
}

function readAllowed(listeners: unknown, id: string, problems: Problems): AllowedFrom | undefined {
  const list = Array.isArray(listeners) ? listeners.filter(isRecord) : [];
  const hbone = list.find((l) => Number(l.port) === HBONE_PORT && l.protocol === 'HBONE') ?? list[0];
  const ar = isRecord(hbone?.allowedRoutes) ? hbone.allowedRoutes : undefined;
  const ns = isRecord(ar?.namespaces) ? ar.namespaces : undefined;
  const from = ns?.from ?? 'Same';
  if (from === 'Same' || from === 'All') return { from };
  if (from !== 'Selector') {
    problems.add(id, 'spec.listeners[].allowedRoutes.namespaces.from', `unknown value ${JSON.stringify(from)} (expected Same, All or Selector)`);
    return undefined;
  }
  const sel = isRecord(ns?.selector) ? ns.selector : {};
  const matchLabels = stringMap(sel.matchLabels);
  const exprs = Array.isArray(sel.matchExpressions) ? sel.matchExpressions : [];
  const expressions: Requirement[] = [];
  for (const e of exprs) {
    const ok = isRecord(e) && typeof e.key === 'string' && ['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(String(e.operator));
    if (!ok || matchLabels === null) {
      problems.add(id, 'spec.listeners[].allowedRoutes.namespaces.selector', 'malformed label selector');
      return undefined;
    }
    const values = Array.isArray(e.values) ? e.values.filter((v): v is string => typeof v === 'string') : [];
    expressions.push({ key: e.key as string, operator: e.operator as string, values });
  }
  return { from: 'Selector', matchLabels: matchLabels ?? {}, expressions };
}

function statusAddress(gw: Record<string, unknown>, meta: Meta, opts: ResolvedOptions): GatewayAddr | undefined {
  const addrs = isRecord(gw.status) && Array.isArray(gw.status.addresses) ? gw.status.addresses.filter(isRecord) : [];
  const host = addrs.find((a) => a.type === 'Hostname' && typeof a.value === 'string' && a.value);
  if (host) return { hostname: { namespace: meta.namespace, hostname: host.value as string }, hboneMtlsPort: HBONE_PORT };
  for (const a of addrs) {
    const ip = (a.type ?? 'IPAddress') === 'IPAddress' ? canonicalIp(a.value) : undefined;
    if (ip) return { address: { network: opts.network, ip }, hboneMtlsPort: HBONE_PORT };
  }
  return undefined;
}

function frontingService(meta: Meta, services: readonly ServiceRef[], opts: ResolvedOptions): GatewayAddr | undefined {
  const mine = services.filter((s) => s.namespace === meta.namespace && s.labels[L.gatewayName] === meta.name);
  const svc = mine.find((s) => s.name === meta.name) ?? mine.sort((a, b) => (a.name < b.name ? -1 : 1))[0];
  if (!svc) return undefined;
  return { hostname: { namespace: svc.namespace, hostname: `${svc.name}.${svc.namespace}.svc.${opts.domainSuffix}` }, hboneMtlsPort: HBONE_PORT };
}

/** Waypoints by `<ns>/<name>`. Bad Gateways are skipped with a problem; other Gateways are ignored. */
export function buildWaypoints(gateways: readonly unknown[], services: readonly ServiceRef[], opts: ResolvedOptions, problems: Problems): Map<string, Waypoint> {
  const out = new Map<string, Waypoint>();
  for (const gw of gateways) {
    const meta = readMeta(gw, 'Gateway', true, problems);
    if (!meta || !isRecord(gw)) continue;
    const spec = readSpec(gw, meta.id, problems);
    if (!spec) continue;
    const cls = spec.gatewayClassName;
    if (typeof cls !== 'string' || !cls) {
      problems.add(meta.id, 'spec.gatewayClassName', 'a gateway class name is required');
      continue;
    }
    const fromStatus = statusAddress(gw, meta, opts);
    if (cls !== WAYPOINT_CLASS && !fromStatus) continue;
    const tt = meta.labels[L.waypointFor] ?? 'service';
    if (!TRAFFIC_TYPES.includes(tt)) {
      problems.add(meta.id, `metadata.labels['${L.waypointFor}']`, `unknown value "${tt}" (expected service, workload, all or none)`);
      continue;
    }
    if (meta.name === 'none') {
      problems.add(meta.id, 'metadata.name', '"none" is reserved: it opts objects out of waypoints');
      continue;
    }
    const allowed = readAllowed(spec.listeners, meta.id, problems);
    if (!allowed) continue;
    const key = `${meta.namespace}/${meta.name}`;
    if (out.has(key)) {
      problems.add(meta.id, 'metadata.name', 'duplicate Gateway; the first one is used');
      continue;
    }
    const address = fromStatus ?? frontingService(meta, services, opts);
    out.set(key, { namespace: meta.namespace, name: meta.name, trafficType: tt as TrafficType, address, allowed });
  }
  return out;
}

function requirementMatches(r: Requirement, labels: Record<string, string>): boolean {
  const v = labels[r.key];
  switch (r.operator) {
    case 'In':
      return v !== undefined && r.values.includes(v);
    case 'NotIn':
      return v === undefined || !r.values.includes(v);
    case 'Exists':
      return v !== undefined;
    default:
      return v === undefined;
  }
}

export function allowsAttachment(w: Waypoint, namespace: string, nsLabels: Record<string, string>): boolean {
  if (w.allowed.from === 'All') return true;
  if (w.allowed.from === 'Same') return namespace === w.namespace;
  return labelsMatch(w.allowed.matchLabels, nsLabels) && w.allowed.expressions.every((r) => requirementMatches(r, nsLabels));
}

export interface Binding {
  waypoint?: GatewayAddr;
  /** The `istio.io/WaypointBound` condition for Services that asked for a waypoint. */
  condition?: Condition;
}

const bound = (status: 'True' | 'False', reason: string, message: string): Condition => ({ type: 'istio.io/WaypointBound', status, reason, message });

function resolve(target: 'service' | 'workload', meta: Meta, nsLabels: Record<string, string>, waypoints: Map<string, Waypoint>): Binding {
  if (isGatewayInfrastructure(meta.labels)) return {};
  const use = useWaypoint(meta.labels, meta.namespace, nsLabels);
  if (use.kind !== 'ref') return {};
  const ref = `${use.namespace}/${use.name}`;
  const w = waypoints.get(ref);
  if (!w) return { condition: bound('False', 'WaypointNotFound', `waypoint ${ref} does not exist (no Gateway of class ${WAYPOINT_CLASS} with that name)`) };
  if (!w.address) return { condition: bound('False', 'WaypointNotReady', `waypoint ${ref} has no address yet (no status.addresses and no Service labelled ${L.gatewayName}=${w.name})`) };
  if (!allowsAttachment(w, meta.namespace, nsLabels)) {
    return { condition: bound('False', 'AttachmentDenied', `waypoint ${ref} does not accept objects from namespace ${meta.namespace} (see its listener's allowedRoutes)`) };
  }
  if (w.trafficType !== target && w.trafficType !== 'all') {
    // A namespace-wide label naming a waypoint of the other kind is not a mistake for workloads.
    if (target === 'workload' && use.from === 'namespace') return {};
    return { condition: bound('False', 'UnsupportedTrafficType', `waypoint ${ref} is for ${w.trafficType} traffic, not ${target} traffic (label ${L.waypointFor})`) };
  }
  return { waypoint: w.address, condition: bound('True', 'WaypointAccepted', `bound to ${ref}`) };
}

export function bindService(meta: Meta, nsLabels: Record<string, string>, waypoints: Map<string, Waypoint>): Binding {
  return resolve('service', meta, nsLabels, waypoints);
}

export function bindWorkload(meta: Meta, nsLabels: Record<string, string>, waypoints: Map<string, Waypoint>): GatewayAddr | undefined {
  return resolve('workload', meta, nsLabels, waypoints).waypoint;
}
