/**
 * The read interface the proxy uses (ARCHITECTURE.md §5: the data path reads state only through this,
 * never through xds/ or admin/). Implemented by ProxyState.
 */
import type { Policy } from '../rbac/policy.js';
import type { EndpointView, GatewayRef, ServiceView, WorkloadView } from './types.js';

/** How to find a workload: xDS uid, an IP (on the local network unless given), or pod name. */
export type WorkloadKey =
  | { uid: string }
  | { ip: string; network?: string }
  | { namespace: string; name: string; serviceAccount?: string };

/** Where the proxy connects and how (HBONE: mTLS + CONNECT; TCP: plain). */
export interface Target {
  protocol: 'HBONE' | 'TCP';
  /** The TCP peer: `<pod ip>:15008` for HBONE, `<ip>:<port>` for TCP. */
  ip: string;
  port: number;
  /** HBONE `:authority`: `<pod ip>:<target port>`, or the original destination via a waypoint. */
  authority?: string;
  /** HBONE: the server certificate must carry one of these SPIFFE ids. Empty for TCP. */
  expectedIdentities: readonly string[];
}

export interface ResolvedEndpoint {
  workload: WorkloadView;
  /** The IP chosen among the workload's addresses. */
  ip: string;
  targetPort: number;
}

export interface ResolvedWaypoint {
  gateway: GatewayRef;
  workload: WorkloadView;
  /** The waypoint's service when the gateway names one. */
  service?: ServiceView;
  ip: string;
  port: number;
}

export type ResolveErrorCode =
  /** A known service (not PASSTHROUGH) with no usable endpoint for the port. */
  | 'NoHealthyUpstream'
  /** The waypoint a service or workload names is not known (or has no usable endpoint). */
  | 'UnknownWaypoint'
  /** The chosen workload has no address usable from here (hostname-only needs DNS; no suitable family). */
  | 'NoValidDestination'
  /** The destination is on another network: double HBONE through an E/W gateway is not implemented. */
  | 'CrossNetwork';

export type Resolution =
  | { kind: 'service'; service: ServiceView; endpoint: ResolvedEndpoint; waypoint?: undefined; target: Target }
  | { kind: 'service'; service: ServiceView; waypoint: ResolvedWaypoint; endpoint?: undefined; target: Target }
  | { kind: 'workload'; workload: WorkloadView; port: number; waypoint?: ResolvedWaypoint; target: Target }
  /** Unknown destination, or a PASSTHROUGH service: plain TCP to the original destination. */
  | { kind: 'passthrough'; service?: ServiceView; target: Target }
  | { kind: 'error'; reason: ResolveErrorCode; message: string; service?: ServiceView; workload?: WorkloadView };

export interface ResolveOptions {
  /** The downstream source IP (to recognise traffic coming from a waypoint); default: the source's IPs. */
  srcIp?: string;
}

export interface ChangeSet {
  upserted: readonly string[];
  removed: readonly string[];
}

/** What one committed update changed (keys: workload uids, service keys, policy names). */
export interface StateChange {
  workloads: ChangeSet;
  services: ChangeSet;
  policies: ChangeSet;
  /** True when a decision of authorize() may differ: policies or a workload's policy list changed. */
  authorization: boolean;
}

export interface StateView {
  /** The network this ztunnel is on (lookups by IP default to it). */
  readonly network: string;
  workloadByUid(uid: string): WorkloadView | undefined;
  workloadByAddr(ip: string, network?: string): WorkloadView | undefined;
  findWorkload(key: WorkloadKey): WorkloadView | undefined;
  /** Resolves once the workload is known (immediately if it is), or undefined after `timeoutMs`. */
  waitForWorkload(key: WorkloadKey, timeoutMs: number): Promise<WorkloadView | undefined>;
  /** Best service at this VIP for a client in `clientNamespace` (visibility, namespace, canonical; CIDR fallback). */
  serviceByVip(ip: string, opts?: { network?: string; clientNamespace?: string }): ServiceView | undefined;
  /** The service `<ns>/<hostname>` exactly. */
  serviceByHost(namespace: string, hostname: string): ServiceView | undefined;
  /** Best service with this FQDN for a client in `clientNamespace` (DNS, `Forwarded host=`). */
  serviceByHostname(hostname: string, clientNamespace?: string): ServiceView | undefined;
  /** Every workload naming the service, healthy or not, with its port mapping. */
  endpointsOf(service: ServiceView | string): readonly EndpointView[];
  /** The known services a workload backs (inbound telemetry). */
  servicesOf(workload: WorkloadView): readonly ServiceView[];
  /** Policies applying to a workload as its destination: GLOBAL, its namespace's, and those it lists. */
  policiesFor(workload: WorkloadView): readonly Policy[];
  /** Outbound decision for a connection from `source` to `dstIp:dstPort` (ARCHITECTURE.md §3, step 3). */
  resolveDestination(source: WorkloadView, dstIp: string, dstPort: number, opts?: ResolveOptions): Resolution;
  /** Whether `workload` is (one of) the workloads behind a waypoint/gateway reference. */
  gatewayIncludes(gateway: GatewayRef, workload: WorkloadView): boolean;
  /** Service port → port on `workload` (inbound HBONE with a hostname authority). */
  targetPortFor(service: ServiceView, workload: WorkloadView, servicePort: number): number | undefined;
  /** Called after each committed update. Returns a function that unregisters. */
  onChange(listener: (change: StateChange) => void): () => void;
}
