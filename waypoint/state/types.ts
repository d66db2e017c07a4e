// The waypoint's read interface to its configuration (ARCHITECTURE.md §5: the data path reads state
// through this interface and never imports xds/ or admin/). Everything here is already decoded,
// validated and filtered to what targets this waypoint.
import type { L7Authorization } from '../../lib/proto/gen/ambit/l7/v1/authorization_pb.js';
import type { DestinationPolicy } from '../../lib/proto/gen/ambit/l7/v1/destination_pb.js';
import type { RateLimit } from '../../lib/proto/gen/ambit/l7/v1/ratelimit_pb.js';
import type { RouteConfig } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';

export type AppProtocolName = 'UNKNOWN' | 'HTTP11' | 'HTTP2' | 'GRPC' | 'TCP' | 'TLS';

export interface ServicePortInfo {
  port: number;
  /** 0: a named port, resolved per endpoint. */
  targetPort: number;
  appProtocol: AppProtocolName;
}

export interface ServiceInfo {
  /** `<namespace>/<hostname>`, the xDS resource name. */
  key: string;
  name: string;
  namespace: string;
  hostname: string;
  vips: string[];
  ports: ServicePortInfo[];
  /** Identities the service's endpoints may present besides their own. */
  subjectAltNames: string[];
}

export interface EndpointInfo {
  /** Workload uid (stable across updates): the endpoint id for load balancing and outlier detection. */
  uid: string;
  name: string;
  namespace: string;
  /** The pod IP (the first address). */
  ip: string;
  /** spiffe://<trust domain>/ns/<ns>/sa/<sa>. */
  identity: string;
  workloadName: string;
  canonicalService: string;
  canonicalRevision: string;
  cluster: string;
  healthy: boolean;
  /** Load-balancing weight (Workload.capacity, default 1). */
  weight: number;
  /** What subsets select on; see addresses.ts for where they come from. */
  labels: Readonly<Record<string, string>>;
  /** Service key → service port → target port, for the services this workload backs. */
  servicePorts: ReadonlyMap<string, ReadonlyMap<number, number>>;
}

export interface WaypointView {
  /** The Service a `:authority` ip:port names (a VIP), if any. */
  serviceByVip(ip: string): ServiceInfo | undefined;
  serviceByHostname(hostname: string): ServiceInfo | undefined;
  /** Endpoints of a service (healthy or not; the caller filters). */
  endpoints(serviceKey: string): readonly EndpointInfo[];
  /** A workload by its IP (a pod addressed directly, or the source of a request). */
  workloadByIp(ip: string): EndpointInfo | undefined;
  routeConfig(hostname: string): RouteConfig | undefined;
  destinationPolicy(hostname: string): DestinationPolicy | undefined;
  /** The L7 authorization policies that apply to requests for `hostname` at this waypoint. */
  authorizations(hostname: string): readonly L7Authorization[];
  /** The rate limits that apply to requests for `hostname` at this waypoint. */
  rateLimits(hostname: string): readonly RateLimit[];
  /** Grows by one with every applied change; callers cache derived objects per generation. */
  readonly generation: number;
}
