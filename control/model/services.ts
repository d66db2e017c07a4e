/**
 * Kubernetes Services → `istio.workload.Service` (resource name `<ns>/<hostname>`). Parsing is a
 * separate step because waypoints need the Service list (to find the one fronting a waypoint)
 * before Services can be bound to waypoints.
 */
import { A, L, parseBool } from './labels.js';
import { canonicalIp, isV6 } from './net.js';
import { isRecord, parsePort, readMeta, readSpec, stringMap, type Meta, type Problems } from './objects.js';
import { bindService, type Waypoint } from './waypoints.js';
import type { AppProtocolName, LoadBalancingModel, ObjectStatus, ResolvedOptions, ServiceModel } from './types.js';

export interface NamespaceInfo {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export const NO_NAMESPACE: NamespaceInfo = { labels: {}, annotations: {} };

export interface ParsedPort {
  name: string;
  port: number;
  /** A number, or the name of a container port. */
  target: number | string;
  protocol: string;
  appProtocol: AppProtocolName;
}

export interface ParsedService {
  meta: Meta;
  hostname: string;
  /** `<ns>/<hostname>`: the xDS resource name and the key in Workload.services. */
  key: string;
  /** Undefined or non-empty: an empty selector selects no pods. */
  selector?: Record<string, string>;
  ports: ParsedPort[];
  addresses: string[];
  spec: Record<string, unknown>;
}

/** Only HTTP flavours are told apart, as Istio does; everything else is UNKNOWN. */
export function appProtocolOf(name: string, appProtocol: unknown): AppProtocolName {
  const p = (typeof appProtocol === 'string' && appProtocol ? appProtocol : name.split('-')[0] ?? '').toLowerCase();
  if (p === 'http') return 'HTTP11';
  if (p === 'http2' || p === 'h2c' || p === 'kubernetes.io/h2c') return 'HTTP2';
  if (p === 'grpc') return 'GRPC';
  return 'UNKNOWN';
}

function parsePorts(spec: Record<string, unknown>, id: string, problems: Problems): ParsedPort[] | undefined {
  if (spec.ports === undefined || spec.ports === null) return [];
  if (!Array.isArray(spec.ports)) {
    problems.add(id, 'spec.ports', 'must be a list');
    return undefined;
  }
  const out: ParsedPort[] = [];
  for (const [i, p] of spec.ports.entries()) {
    const f = `spec.ports[${i}]`;
    if (!isRecord(p)) return void problems.add(id, f, 'must be an object');
    const port = parsePort(p.port);
    if (port === undefined) return void problems.add(id, `${f}.port`, `${JSON.stringify(p.port)} is not a port number (1-65535)`);
    let target: number | string = port;
    if (typeof p.targetPort === 'string' && !/^\d+$/.test(p.targetPort)) {
      if (!p.targetPort) return void problems.add(id, `${f}.targetPort`, 'must not be empty');
      target = p.targetPort;
    } else if (p.targetPort !== undefined && p.targetPort !== null) {
      const t = parsePort(p.targetPort);
      if (t === undefined) return void problems.add(id, `${f}.targetPort`, `${JSON.stringify(p.targetPort)} is not a port number or name`);
      target = t;
    }
    const name = typeof p.name === 'string' ? p.name : '';
    const protocol = typeof p.protocol === 'string' ? p.protocol : 'TCP';
    out.push({ name, port, target, protocol, appProtocol: appProtocolOf(name, p.appProtocol) });
  }
  return out;
}

function parseAddresses(spec: Record<string, unknown>, id: string, problems: Problems): string[] | undefined {
  const raw = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : spec.clusterIP !== undefined ? [spec.clusterIP] : [];
  const out: string[] = [];
  for (const a of raw) {
    if (a === 'None' || a === '' || a === null) continue;
    const ip = canonicalIp(a);
    if (!ip) return void problems.add(id, Array.isArray(spec.clusterIPs) ? 'spec.clusterIPs' : 'spec.clusterIP', `${JSON.stringify(a)} is not an IP address`);
    if (!out.includes(ip)) out.push(ip);
  }
  return out;
}

/** Validated Services; ExternalName Services are left out (they have no endpoints in the mesh). */
export function parseServices(objs: readonly unknown[], opts: ResolvedOptions, problems: Problems): ParsedService[] {
  const out: ParsedService[] = [];
  const seen = new Set<string>();
  for (const o of objs) {
    const meta = readMeta(o, 'Service', true, problems);
    if (!meta) continue;
    const spec = readSpec(o, meta.id, problems);
    if (!spec || spec.type === 'ExternalName') continue;
    const selector = stringMap(spec.selector);
    if (selector === null) {
      problems.add(meta.id, 'spec.selector', 'must map strings to strings');
      continue;
    }
    const ports = parsePorts(spec, meta.id, problems);
    const addresses = ports && parseAddresses(spec, meta.id, problems);
    if (!ports || !addresses) continue;
    const hostname = `${meta.name}.${meta.namespace}.svc.${opts.domainSuffix}`;
    const key = `${meta.namespace}/${hostname}`;
    if (seen.has(key)) {
      problems.add(meta.id, 'metadata.name', 'duplicate Service; the first one is used');
      continue;
    }
    seen.add(key);
    const sel = selector && Object.keys(selector).length > 0 ? selector : undefined;
    out.push({ meta, hostname, key, selector: sel, ports, addresses, spec });
  }
  return out;
}

function loadBalancing(s: ParsedService, ns: NamespaceInfo): LoadBalancingModel | undefined {
  let lb: LoadBalancingModel | undefined;
  const dist = [s.spec.trafficDistribution, s.meta.annotations[L.trafficDistribution], ns.annotations[L.trafficDistribution]].find(
    (v): v is string => typeof v === 'string' && v !== '',
  );
  if (s.spec.internalTrafficPolicy === 'Local') lb = { routingPreference: ['NODE'], mode: 'STRICT', healthPolicy: 'ONLY_HEALTHY' };
  else if (dist === 'PreferClose' || dist === 'PreferSameZone') lb = { routingPreference: ['NETWORK', 'REGION', 'ZONE'], mode: 'FAILOVER', healthPolicy: 'ONLY_HEALTHY' };
  else if (dist === 'PreferSameNode') lb = { routingPreference: ['NETWORK', 'REGION', 'ZONE', 'SUBZONE', 'NODE'], mode: 'FAILOVER', healthPolicy: 'ONLY_HEALTHY' };
  if (s.spec.publishNotReadyAddresses === true) lb = { ...(lb ?? { routingPreference: [], mode: 'UNSPECIFIED' }), healthPolicy: 'ALLOW_ALL' };
  return lb;
}

function ipFamilies(s: ParsedService): ServiceModel['ipFamilies'] {
  const fams = Array.isArray(s.spec.ipFamilies) ? s.spec.ipFamilies : s.addresses.map((a) => (isV6(a) ? 'IPv6' : 'IPv4'));
  const v4 = fams.includes('IPv4');
  const v6 = fams.includes('IPv6');
  return v4 && v6 ? 'DUAL' : v4 ? 'IPV4_ONLY' : v6 ? 'IPV6_ONLY' : 'AUTOMATIC';
}

function subjectAltNames(meta: Meta, opts: ResolvedOptions): string[] {
  const list = (v: string | undefined): string[] => (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const sans = [
    ...list(meta.annotations[A.kubeServiceAccounts]).map((sa) => `spiffe://${opts.trustDomain}/ns/${meta.namespace}/sa/${sa}`),
    ...list(meta.annotations[A.canonicalServiceAccounts]),
  ];
  return [...new Set(sans)].sort();
}

export interface ServicesResult {
  services: Map<string, ServiceModel>;
  /** `istio.io/WaypointBound` conditions, by `<ns>/<name>`, for Services that asked for a waypoint. */
  status: Map<string, ObjectStatus>;
}

export function buildServices(
  parsed: readonly ParsedService[],
  namespaces: ReadonlyMap<string, NamespaceInfo>,
  waypoints: Map<string, Waypoint>,
  opts: ResolvedOptions,
): ServicesResult {
  const services = new Map<string, ServiceModel>();
  const status = new Map<string, ObjectStatus>();
  for (const s of parsed) {
    const ns = namespaces.get(s.meta.namespace) ?? NO_NAMESPACE;
    const binding = bindService(s.meta, ns.labels, waypoints);
    if (binding.condition) status.set(`${s.meta.namespace}/${s.meta.name}`, { kind: 'Service', namespace: s.meta.namespace, name: s.meta.name, conditions: [binding.condition] });
    const ingress = s.meta.labels[L.ingressUseWaypoint] ?? ns.labels[L.ingressUseWaypoint];
    services.set(s.key, {
      name: s.meta.name,
      namespace: s.meta.namespace,
      hostname: s.hostname,
      addresses: s.addresses.map((ip) => ({ network: opts.network, ip })),
      ports: s.ports.map((p) => ({ servicePort: p.port, targetPort: typeof p.target === 'number' ? p.target : 0, appProtocol: p.appProtocol })),
      subjectAltNames: subjectAltNames(s.meta, opts),
      waypoint: binding.waypoint,
      loadBalancing: loadBalancing(s, ns),
      ipFamilies: ipFamilies(s),
      canonical: true,
      ingressUseWaypoint: parseBool(ingress),
    });
  }
  return { services, status };
}
