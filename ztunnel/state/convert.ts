/**
 * xDS Workload / Service messages → the views of types.ts, validated: a value ztunnel could not
 * use (bad IP bytes, unknown enum, LEGACY_ISTIO_MTLS, malformed service key) throws a StateError
 * naming the resource and the field, so the whole update is NACKed and the last good state stays.
 */
import {
  ApplicationTunnel_Protocol,
  IPFamilies,
  LoadBalancing_HealthPolicy,
  LoadBalancing_Mode,
  LoadBalancing_Scope,
  NetworkMode,
  Service_Visibility,
  TunnelProtocol,
  WorkloadStatus,
  WorkloadType,
  type GatewayAddress,
  type Service,
  type Workload,
} from '../../lib/proto/gen/istio/workload/workload_pb.js';
import { ipFromBytes } from './ip.js';
import {
  DEFAULT_CLUSTER_ID,
  DEFAULT_SERVICE_ACCOUNT,
  DEFAULT_TRUST_DOMAIN,
  HBONE_PORT,
  spiffeUri,
  type GatewayRef,
  type LbScope,
  type LoadBalancingView,
  type ServiceView,
  type WorkloadView,
} from './types.js';

export class StateError extends Error {
  readonly code = 'INVALID_RESOURCE';
  constructor(
    readonly resource: string,
    readonly field: string,
    message: string,
  ) {
    super(`${resource}: ${field}: ${message}`);
    this.name = 'StateError';
  }
}

type Ctx = (field: string, message: string) => never;

function ctx(resource: string): Ctx {
  return (field, message) => {
    throw new StateError(resource, field, message);
  };
}

/** The name of a known enum value, else a StateError (protobuf enums are open). */
function enumName<E extends Record<string, string | number>>(e: E, v: number, fail: Ctx, field: string): keyof E & string {
  const n = e[v as unknown as keyof E];
  if (typeof n !== 'string') fail(field, `unknown value ${v}`);
  return n as keyof E & string;
}

function ip(b: Uint8Array, fail: Ctx, field: string): string {
  return ipFromBytes(b) ?? fail(field, `address has ${b.length} bytes (expected 4 or 16)`);
}

function port(p: number, fail: Ctx, field: string, allowZero: boolean): number {
  if (!Number.isInteger(p) || p > 65535 || (!allowZero && p === 0)) fail(field, `${p} is not a valid port`);
  return p;
}

function gateway(g: GatewayAddress | undefined, fail: Ctx, field: string): GatewayRef | undefined {
  if (!g) return undefined;
  // A zero port comes from producers that leave it unset; HBONE is always 15008 then.
  const hbonePort = port(g.hboneMtlsPort, fail, `${field}.hbone_mtls_port`, true) || HBONE_PORT;
  const d = g.destination;
  if (d.case === 'hostname') {
    if (!d.value.namespace || !d.value.hostname) fail(`${field}.hostname`, 'namespace and hostname are required');
    return { kind: 'hostname', namespace: d.value.namespace, hostname: d.value.hostname, hbonePort };
  }
  if (d.case === 'address') return { kind: 'address', network: d.value.network, ip: ip(d.value.address, fail, `${field}.address.address`), hbonePort };
  return fail(field, 'has neither a hostname nor an address');
}

function portMap(ports: ReadonlyArray<{ servicePort: number; targetPort: number }>, fail: Ctx, field: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const [i, p] of ports.entries()) {
    out.set(port(p.servicePort, fail, `${field}[${i}].service_port`, false), port(p.targetPort, fail, `${field}[${i}].target_port`, true));
  }
  return out;
}

export function workloadView(resource: string, w: Workload): WorkloadView {
  const fail = ctx(`Workload "${resource}"`);
  if (!w.uid) fail('uid', 'is required');
  if (!w.namespace) fail('namespace', 'is required');
  const tunnel = enumName(TunnelProtocol, w.tunnelProtocol, fail, 'tunnel_protocol');
  if (tunnel === 'LEGACY_ISTIO_MTLS') fail('tunnel_protocol', 'LEGACY_ISTIO_MTLS is not supported by ztunnel');
  const addresses = [...new Set(w.addresses.map((b, i) => ip(b, fail, `addresses[${i}]`)))];
  const services = new Map<string, ReadonlyMap<number, number>>();
  for (const [key, list] of Object.entries(w.services)) {
    const slash = key.indexOf('/');
    if (slash <= 0 || slash === key.length - 1) fail(`services["${key}"]`, 'key must be "<namespace>/<hostname>"');
    services.set(key, portMap(list.ports, fail, `services["${key}"].ports`));
  }
  const at = w.applicationTunnel;
  const trustDomain = w.trustDomain || DEFAULT_TRUST_DOMAIN;
  const serviceAccount = w.serviceAccount || DEFAULT_SERVICE_ACCOUNT;
  return {
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    addresses,
    hostname: w.hostname,
    network: w.network,
    tunnelProtocol: tunnel as 'HBONE' | 'NONE',
    trustDomain,
    serviceAccount,
    identity: spiffeUri(trustDomain, w.namespace, serviceAccount),
    waypoint: gateway(w.waypoint, fail, 'waypoint'),
    networkGateway: gateway(w.networkGateway, fail, 'network_gateway'),
    node: w.node,
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    workloadType: enumName(WorkloadType, w.workloadType, fail, 'workload_type').toLowerCase() as WorkloadView['workloadType'],
    workloadName: w.workloadName,
    nativeTunnel: w.nativeTunnel,
    applicationTunnel: at && {
      protocol: enumName(ApplicationTunnel_Protocol, at.protocol, fail, 'application_tunnel.protocol') as 'NONE' | 'PROXY',
      port: port(at.port, fail, 'application_tunnel.port', true) || undefined,
    },
    services,
    authorizationPolicies: [...new Set(w.authorizationPolicies)],
    status: enumName(WorkloadStatus, w.status, fail, 'status') as 'HEALTHY' | 'UNHEALTHY',
    clusterId: w.clusterId || DEFAULT_CLUSTER_ID,
    locality: { region: w.locality?.region ?? '', zone: w.locality?.zone ?? '', subzone: w.locality?.subzone ?? '' },
    networkMode: enumName(NetworkMode, w.networkMode, fail, 'network_mode') as 'STANDARD' | 'HOST_NETWORK',
    capacity: w.capacity ?? 1,
    proto: w,
  };
}

function loadBalancing(s: Service, fail: Ctx): LoadBalancingView | undefined {
  const lb = s.loadBalancing;
  if (!lb) return undefined;
  const routingPreference = lb.routingPreference.map((r, i) => {
    const n = enumName(LoadBalancing_Scope, r, fail, `load_balancing.routing_preference[${i}]`);
    if (n === 'UNSPECIFIED_SCOPE') fail(`load_balancing.routing_preference[${i}]`, 'UNSPECIFIED_SCOPE is not a scope');
    return n as LbScope;
  });
  const mode = enumName(LoadBalancing_Mode, lb.mode, fail, 'load_balancing.mode');
  return {
    routingPreference,
    mode: mode === 'UNSPECIFIED_MODE' ? 'STANDARD' : (mode as LoadBalancingView['mode']),
    healthPolicy: enumName(LoadBalancing_HealthPolicy, lb.healthPolicy, fail, 'load_balancing.health_policy') as LoadBalancingView['healthPolicy'],
  };
}

export function serviceView(resource: string, s: Service): ServiceView {
  const fail = ctx(`Service "${resource}"`);
  if (!s.namespace) fail('namespace', 'is required');
  if (!s.hostname) fail('hostname', 'is required');
  const vips: Array<{ network: string; ip: string }> = [];
  const cidrVips: Array<{ network: string; ip: string; length: number }> = [];
  for (const [i, a] of s.addresses.entries()) {
    const addr = ip(a.address, fail, `addresses[${i}].address`);
    const max = addr.includes(':') ? 128 : 32;
    if (a.length !== undefined && a.length > max) fail(`addresses[${i}].length`, `${a.length} is longer than ${max}`);
    if (a.length === undefined || a.length === max) vips.push({ network: a.network, ip: addr });
    else cidrVips.push({ network: a.network, ip: addr, length: a.length });
  }
  const weightedWaypoints = s.weightedWaypoints.map((w, i) => ({
    gateway: gateway(w.destination, fail, `weighted_waypoints[${i}].destination`) ?? fail(`weighted_waypoints[${i}].destination`, 'is required'),
    weight: w.weight,
  }));
  return {
    key: `${s.namespace}/${s.hostname}`,
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    vips,
    cidrVips,
    ports: portMap(s.ports, fail, 'ports'),
    subjectAltNames: [...s.subjectAltNames],
    waypoint: gateway(s.waypoint, fail, 'waypoint'),
    weightedWaypoints,
    loadBalancing: loadBalancing(s, fail),
    ipFamilies: enumName(IPFamilies, s.ipFamilies, fail, 'ip_families') as ServiceView['ipFamilies'],
    canonical: s.canonical,
    ingressUseWaypoint: s.ingressUseWaypoint,
    visibility: enumName(Service_Visibility, s.visibility, fail, 'visibility') as ServiceView['visibility'],
    proto: s,
  };
}
