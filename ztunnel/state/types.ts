/**
 * The read-only shapes the proxy sees: xDS Workload and Service messages with defaults applied
 * (trust domain, service account, capacity, cluster), IPs as canonical text and enums as names.
 * Objects are immutable once stored: an update replaces them, so a connection may keep a reference.
 */
import type { Service, Workload } from '../../lib/proto/gen/istio/workload/workload_pb.js';

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
export const DEFAULT_SERVICE_ACCOUNT = 'default';
export const DEFAULT_CLUSTER_ID = 'Kubernetes';
export const HBONE_PORT = 15008;

/** Where a waypoint or network gateway is: a service/workload hostname, or an address. */
export type GatewayRef =
  | { kind: 'hostname'; namespace: string; hostname: string; hbonePort: number }
  | { kind: 'address'; network: string; ip: string; hbonePort: number };

export interface LocalityView {
  region: string;
  zone: string;
  subzone: string;
}

export interface WorkloadView {
  uid: string;
  name: string;
  namespace: string;
  /** Canonical IP text; empty for hostname-only workloads. */
  addresses: readonly string[];
  hostname: string;
  network: string;
  tunnelProtocol: 'HBONE' | 'NONE';
  trustDomain: string;
  serviceAccount: string;
  /** `spiffe://<td>/ns/<ns>/sa/<sa>`. */
  identity: string;
  waypoint?: GatewayRef;
  networkGateway?: GatewayRef;
  node: string;
  canonicalName: string;
  canonicalRevision: string;
  /** Lower case, as in baggage `k8s.<type>.name`. */
  workloadType: 'deployment' | 'cronjob' | 'pod' | 'job';
  workloadName: string;
  nativeTunnel: boolean;
  applicationTunnel?: { protocol: 'NONE' | 'PROXY'; port?: number };
  /** `<ns>/<hostname>` → service port → target port on this workload. */
  services: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** `<ns>/<name>` of selector policies (and converted PeerAuthentications) selecting it. */
  authorizationPolicies: readonly string[];
  status: 'HEALTHY' | 'UNHEALTHY';
  clusterId: string;
  locality: LocalityView;
  networkMode: 'STANDARD' | 'HOST_NETWORK';
  /** Load-balancing weight (1 when unset). */
  capacity: number;
  /** The message as received, for config dumps. */
  proto: Workload;
}

export type LbScope = 'REGION' | 'ZONE' | 'SUBZONE' | 'NODE' | 'CLUSTER' | 'NETWORK';

export interface LoadBalancingView {
  routingPreference: readonly LbScope[];
  /** STANDARD is the wire's UNSPECIFIED_MODE: locality is not considered. */
  mode: 'STANDARD' | 'STRICT' | 'FAILOVER' | 'PASSTHROUGH';
  healthPolicy: 'ONLY_HEALTHY' | 'ALLOW_ALL';
}

export interface ServiceView {
  /** `<ns>/<hostname>`: the xDS resource name and the key of Workload.services. */
  key: string;
  name: string;
  namespace: string;
  hostname: string;
  vips: ReadonlyArray<{ network: string; ip: string }>;
  /** VIPs given as a range (NetworkAddress.length shorter than the address). */
  cidrVips: ReadonlyArray<{ network: string; ip: string; length: number }>;
  /** service port → target port (0: named port, resolved per endpoint). */
  ports: ReadonlyMap<number, number>;
  subjectAltNames: readonly string[];
  waypoint?: GatewayRef;
  weightedWaypoints: ReadonlyArray<{ gateway: GatewayRef; weight: number }>;
  loadBalancing?: LoadBalancingView;
  ipFamilies: 'AUTOMATIC' | 'IPV4_ONLY' | 'IPV6_ONLY' | 'DUAL';
  canonical: boolean;
  ingressUseWaypoint: boolean;
  visibility: 'PUBLIC' | 'NAMESPACE';
  proto: Service;
}

/** A workload backing a service, with its own port mapping for that service. */
export interface EndpointView {
  workload: WorkloadView;
  /** service port → target port on this workload (may be empty). */
  ports: ReadonlyMap<number, number>;
}

export function spiffeUri(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export function gatewayText(g: GatewayRef): string {
  return g.kind === 'hostname' ? `${g.namespace}/${g.hostname}:${g.hbonePort}` : `${g.network}/${g.ip}:${g.hbonePort}`;
}
