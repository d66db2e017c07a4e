/**
 * The waypoint's L7 model before encoding: the shapes of lib/proto/src/ambit/l7/v1 with durations
 * in milliseconds and enums as names, so tables in tests stay readable; to-proto.ts turns them
 * into wire messages. Every value here is validated and resolved.
 */
import type { KubeObject } from '../../../lib/store/types.js';
import type { Condition, ModelOptions, ObjectStatus, Problem } from '../types.js';

/** What the L7 compiler reads (plain objects as the store hands them out; not trusted). */
export interface L7Snapshot {
  namespaces?: readonly KubeObject[];
  services?: readonly KubeObject[];
  gateways?: readonly KubeObject[];
  httpRoutes?: readonly KubeObject[];
  grpcRoutes?: readonly KubeObject[];
  virtualServices?: readonly KubeObject[];
  destinationRules?: readonly KubeObject[];
  authorizationPolicies?: readonly KubeObject[];
  rateLimitPolicies?: readonly KubeObject[];
}

export interface L7Options extends ModelOptions {
  /** Redis `host:port` for global rate limits that do not name one. */
  rateLimitRedis?: string;
}

export type StringMatchModel = { exact: string } | { prefix: string } | { suffix: string } | { presence: true };

export type PathMatchModel = { exact: string } | { prefix: string } | { regex: string } | { plainPrefix: string };

export type HeaderMatchModel = { name: string; invert?: boolean } & ({ exact: string } | { prefix: string } | { regex: string } | { present: boolean });

export type QueryParamMatchModel = { name: string } & ({ exact: string } | { prefix: string } | { regex: string } | { present: boolean });

export interface RouteMatchModel {
  path?: PathMatchModel;
  headers?: HeaderMatchModel[];
  queryParams?: QueryParamMatchModel[];
  method?: string;
  port?: number;
}

export interface HeaderMutationModel {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface DestinationModel {
  hostname: string;
  namespace: string;
  /** 0: the port the request arrived on. */
  port: number;
  subset?: string;
  subsetLabels?: Record<string, string>;
  weight: number;
  /** Set when the destination does not resolve: answer this instead of forwarding. */
  failureStatus?: number;
  requestHeaders?: HeaderMutationModel;
  responseHeaders?: HeaderMutationModel;
}

export interface RedirectModel {
  scheme?: string;
  host?: string;
  port?: number;
  fullPath?: string;
  prefix?: string;
  statusCode: number;
}

export interface RewriteModel {
  host?: string;
  fullPath?: string;
  prefix?: string;
}

export interface RetryModel {
  attempts: number;
  perTryTimeoutMs?: number;
  retryOn: string[];
  retriableStatusCodes?: number[];
  backoffMs?: number;
}

export interface FaultModel {
  delay?: { fixedDelayMs: number; percentage: number };
  abort?: ({ httpStatus: number } | { grpcStatus: number }) & { percentage: number };
}

export type RouteActionModel = { forward: DestinationModel[] } | { redirect: RedirectModel } | { directResponse: { status: number; body?: string } };

export interface RouteModel {
  name: string;
  matches: RouteMatchModel[];
  action: RouteActionModel;
  requestHeaders?: HeaderMutationModel;
  responseHeaders?: HeaderMutationModel;
  rewrite?: RewriteModel;
  mirrors?: Array<{ destination: DestinationModel; percentage: number }>;
  timeoutMs?: number;
  retry?: RetryModel;
  fault?: FaultModel;
}

export interface RouteConfigModel {
  name: string;
  hostname: string;
  namespace: string;
  waypoint: string;
  routes: RouteModel[];
  sources: string[];
}

export type LbPolicyName = 'LEAST_REQUEST' | 'ROUND_ROBIN' | 'RANDOM' | 'CONSISTENT_HASH';

export interface LoadBalancerModel {
  policy: LbPolicyName;
  consistentHash?: ({ headerName: string } | { cookie: { name: string; path?: string; ttlMs?: number } } | { useSourceIp: true } | { queryParameterName: string }) & {
    minimumRingSize: number;
  };
}

export interface ConnectionPoolModel {
  maxConnections?: number;
  http1MaxPendingRequests?: number;
  http2MaxRequests?: number;
  maxRequestsPerConnection?: number;
  maxRetries?: number;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
}

export interface OutlierDetectionModel {
  consecutive5xxErrors: number;
  consecutiveGatewayErrors: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  minHealthPercent: number;
}

export interface PortPolicyModel {
  port: number;
  loadBalancer: LoadBalancerModel;
  connectionPool?: ConnectionPoolModel;
  outlierDetection?: OutlierDetectionModel;
}

export interface TrafficPolicyModel {
  loadBalancer: LoadBalancerModel;
  connectionPool?: ConnectionPoolModel;
  outlierDetection?: OutlierDetectionModel;
  ports: PortPolicyModel[];
}

export interface DestinationPolicyModel {
  name: string;
  hostname: string;
  namespace: string;
  waypoint: string;
  source: string;
  trafficPolicy: TrafficPolicyModel;
  subsets: Array<{ name: string; labels: Record<string, string>; trafficPolicy: TrafficPolicyModel }>;
}

export interface PolicyTargetModel {
  waypoint: string;
  /** Empty: everything the waypoint serves. */
  hostnames: string[];
}

export interface CidrModel {
  ip: string;
  length: number;
}

export interface SourceModel {
  principals?: StringMatchModel[];
  notPrincipals?: StringMatchModel[];
  namespaces?: StringMatchModel[];
  notNamespaces?: StringMatchModel[];
  ipBlocks?: CidrModel[];
  notIpBlocks?: CidrModel[];
}

export interface OperationModel {
  hosts?: StringMatchModel[];
  notHosts?: StringMatchModel[];
  ports?: number[];
  notPorts?: number[];
  methods?: string[];
  notMethods?: string[];
  paths?: StringMatchModel[];
  notPaths?: StringMatchModel[];
}

export interface ConditionModel {
  attribute: 'REQUEST_HEADER' | 'SOURCE_NAMESPACE' | 'SOURCE_PRINCIPAL';
  header?: string;
  values?: StringMatchModel[];
  notValues?: StringMatchModel[];
}

export interface L7RuleModel {
  from: SourceModel[];
  to: OperationModel[];
  when: ConditionModel[];
}

export interface L7AuthorizationModel {
  name: string;
  namespace: string;
  targets: PolicyTargetModel[];
  action: 'ALLOW' | 'DENY' | 'AUDIT';
  rules: L7RuleModel[];
  dryRun: boolean;
}

export type DescriptorModel = ({ header: string } | { sourceIdentity: true } | { path: true }) & { value?: string };

export interface RateLimitModel {
  name: string;
  namespace: string;
  targets: PolicyTargetModel[];
  local?: { maxTokens: number; tokensPerFill: number; fillIntervalMs: number };
  global?: {
    redisAddress: string;
    failureMode: 'OPEN' | 'CLOSED';
    timeoutMs: number;
    limits: Array<{ descriptors: DescriptorModel[]; requestsPerUnit: number; unit: 'SECOND' | 'MINUTE' | 'HOUR' | 'DAY' }>;
  };
}

/** A Gateway API parent reference, as written back in a route's `status.parents[]`. */
export interface ParentRefModel {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  port?: number;
}

/** Conditions of one object; routes carry the parents the conditions are about. */
export interface L7ObjectStatus extends ObjectStatus {
  parentRefs?: ParentRefModel[];
}

/**
 * One thing wrong with an object: the condition it sets (type, reason), the field and what to
 * do. Errors make the object (or the reference) unusable; `warning` ones leave it in force.
 */
export interface L7Problem extends Problem {
  kind: string;
  namespace: string;
  name: string;
  condition: string;
  reason: string;
}

export interface L7Model {
  /** By `<ns>/<hostname>` of the service. */
  routeConfigs: Map<string, RouteConfigModel>;
  /** By `<ns>/<hostname>`; only services a DestinationRule configures. */
  destinationPolicies: Map<string, DestinationPolicyModel>;
  /** By `<ns>/<name>` of the AuthorizationPolicy. */
  authorizations: Map<string, L7AuthorizationModel>;
  /** By `<ns>/<name>` of the RateLimitPolicy. */
  rateLimits: Map<string, RateLimitModel>;
  /** By `<Kind>/<ns>/<name>`. */
  status: Map<string, L7ObjectStatus>;
  problems: L7Problem[];
}

export type { Condition };
