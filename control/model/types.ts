/**
 * Inputs and the internal (pre-protobuf) shapes of the model. The internal shapes mirror Istio's
 * `istio.workload.Address` and `istio.security.Authorization` field by field, but keep IPs as text
 * and enums as names, so tables in tests stay readable; to-proto.ts is the one place that turns them
 * into wire messages.
 */
import type { KubeObject } from '../../lib/store/types.js';

/** Everything the model reads: plain objects as the ClusterStore hands them out (not trusted). */
export interface ModelSnapshot {
  namespaces?: readonly KubeObject[];
  pods?: readonly KubeObject[];
  services?: readonly KubeObject[];
  /** Accepted for completeness; identities come from the pods' `spec.serviceAccountName`. */
  serviceAccounts?: readonly KubeObject[];
  gateways?: readonly KubeObject[];
  authorizationPolicies?: readonly KubeObject[];
  peerAuthentications?: readonly KubeObject[];
  /** Optional: only read for workload locality (topology labels). */
  nodes?: readonly KubeObject[];
  /** The L7 kinds (control/model/l7): compiled for waypoints, never read for ztunnel's resources. */
  httpRoutes?: readonly KubeObject[];
  grpcRoutes?: readonly KubeObject[];
  virtualServices?: readonly KubeObject[];
  destinationRules?: readonly KubeObject[];
  rateLimitPolicies?: readonly KubeObject[];
}

export interface ModelOptions {
  /** Default `Kubernetes`. */
  clusterId?: string;
  /** Default `cluster.local`. */
  trustDomain?: string;
  /** Default `istio-system`: policies here without a selector are mesh-wide. */
  rootNamespace?: string;
  /** Default `` (single network). */
  network?: string;
  /** DNS suffix of service hostnames; default `cluster.local`. */
  domainSuffix?: string;
}

/** ModelOptions plus what only the L7 part reads. */
export interface FullModelOptions extends ModelOptions {
  /** Redis `host:port` for global rate limits that do not name one. */
  rateLimitRedis?: string;
}

export type ResolvedOptions = Required<ModelOptions>;

export function resolveOptions(o: ModelOptions = {}): ResolvedOptions {
  return {
    clusterId: o.clusterId || 'Kubernetes',
    trustDomain: o.trustDomain || 'cluster.local',
    rootNamespace: o.rootNamespace || 'istio-system',
    network: o.network ?? '',
    domainSuffix: o.domainSuffix || 'cluster.local',
  };
}

/** A skipped or partly ignored object: `{ object: 'Service default/web', field: 'spec.ports[0].port', message }`. */
export interface Problem {
  object: string;
  field: string;
  message: string;
}

/** A status condition in the Kubernetes style, for the status writer to patch onto the object. */
export interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface ObjectStatus {
  kind: string;
  namespace: string;
  name: string;
  conditions: Condition[];
}

// ---- internal Address shapes ------------------------------------------------------------------

export type GatewayAddr =
  | { hostname: { namespace: string; hostname: string }; hboneMtlsPort: number }
  | { address: { network: string; ip: string }; hboneMtlsPort: number };

export type AppProtocolName = 'UNKNOWN' | 'HTTP11' | 'HTTP2' | 'GRPC' | 'TCP' | 'TLS';

export interface PortModel {
  servicePort: number;
  /** 0 for a named target port: each workload's `services` entry carries the number. */
  targetPort: number;
  appProtocol?: AppProtocolName;
}

export interface LoadBalancingModel {
  routingPreference: Array<'REGION' | 'ZONE' | 'SUBZONE' | 'NODE' | 'CLUSTER' | 'NETWORK'>;
  mode: 'UNSPECIFIED' | 'STRICT' | 'FAILOVER' | 'PASSTHROUGH';
  healthPolicy: 'ONLY_HEALTHY' | 'ALLOW_ALL';
}

export interface ServiceModel {
  name: string;
  namespace: string;
  hostname: string;
  addresses: Array<{ network: string; ip: string }>;
  ports: PortModel[];
  subjectAltNames: string[];
  waypoint?: GatewayAddr;
  loadBalancing?: LoadBalancingModel;
  ipFamilies: 'AUTOMATIC' | 'IPV4_ONLY' | 'IPV6_ONLY' | 'DUAL';
  canonical: boolean;
  ingressUseWaypoint: boolean;
}

export type WorkloadTypeName = 'DEPLOYMENT' | 'CRONJOB' | 'POD' | 'JOB';

export interface WorkloadModel {
  uid: string;
  name: string;
  namespace: string;
  addresses: string[];
  network: string;
  tunnelProtocol: 'NONE' | 'HBONE';
  nativeTunnel: boolean;
  /** '' when the trust domain is cluster.local, as Istio sends it. */
  trustDomain: string;
  serviceAccount: string;
  waypoint?: GatewayAddr;
  node: string;
  canonicalName: string;
  canonicalRevision: string;
  workloadType: WorkloadTypeName;
  workloadName: string;
  /** `<ns>/<hostname>` → ports (service port → resolved target port). */
  services: Record<string, Array<{ servicePort: number; targetPort: number }>>;
  /** Sorted `<ns>/<name>` of selector-scoped policies (and converted PeerAuthentications). */
  authorizationPolicies: string[];
  status: 'HEALTHY' | 'UNHEALTHY';
  clusterId: string;
  locality?: { region: string; zone: string; subzone: string };
  networkMode: 'STANDARD' | 'HOST_NETWORK';
}

// ---- internal Authorization shapes ------------------------------------------------------------

export type StringMatchModel = { exact: string } | { prefix: string } | { suffix: string } | { presence: true };

/** A CIDR; `length` 32/128 for a single address. */
export interface CidrModel {
  ip: string;
  length: number;
}

export interface ServiceAccountMatchModel {
  namespace: string;
  serviceAccount: string;
}

/** Fields AND-ed, values of one field OR-ed; `not*`: none may match. Absent = no constraint. */
export interface MatchModel {
  namespaces?: StringMatchModel[];
  notNamespaces?: StringMatchModel[];
  serviceAccounts?: ServiceAccountMatchModel[];
  notServiceAccounts?: ServiceAccountMatchModel[];
  principals?: StringMatchModel[];
  notPrincipals?: StringMatchModel[];
  sourceIps?: CidrModel[];
  notSourceIps?: CidrModel[];
  destinationIps?: CidrModel[];
  notDestinationIps?: CidrModel[];
  destinationPorts?: number[];
  notDestinationPorts?: number[];
}

/** Clauses AND-ed; matches inside a clause OR-ed. */
export interface RuleModel {
  clauses: Array<{ matches: MatchModel[] }>;
}

export interface AuthorizationModel {
  name: string;
  namespace: string;
  scope: 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';
  action: 'ALLOW' | 'DENY';
  /** Any rule matching = policy matches; no rules = never matches. */
  rules: RuleModel[];
  dryRun: boolean;
}

/** The whole model before encoding; keys are the xDS resource names. */
export interface InternalModel {
  workloads: Map<string, WorkloadModel>;
  services: Map<string, ServiceModel>;
  authorizations: Map<string, AuthorizationModel>;
  problems: Problem[];
  policyStatus: Map<string, ObjectStatus>;
  serviceStatus: Map<string, ObjectStatus>;
}
