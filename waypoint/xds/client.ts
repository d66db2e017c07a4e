// The waypoint's subscription to the control plane: delta ADS for istio.workload.Address and the
// waypoint types (RouteConfig, DestinationPolicy, L7Authorization, RateLimit), with the bearer
// credential re-read for every stream. A response that does not decode is NACKed and the state
// keeps the last good one; while the stream is down nothing is removed.
import * as grpc from '@grpc/grpc-js';
import { controlPlaneMetadata } from '../../lib/ca-client/control-plane-auth.js';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { L7AuthorizationSchema } from '../../lib/proto/gen/ambit/l7/v1/authorization_pb.js';
import { DestinationPolicySchema } from '../../lib/proto/gen/ambit/l7/v1/destination_pb.js';
import { RateLimitSchema } from '../../lib/proto/gen/ambit/l7/v1/ratelimit_pb.js';
import { RouteConfigSchema } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { AddressSchema } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import type { Logger } from '../../lib/telemetry/log.js';
import { messageDecoder, type DeltaHandler } from '../../lib/xds/cache.js';
import { XdsClient } from '../../lib/xds/client.js';
import { TYPE_ADDRESS, TYPE_DESTINATION_POLICY, TYPE_L7_AUTHORIZATION, TYPE_RATE_LIMIT, TYPE_ROUTE_CONFIG, type BackoffOptions } from '../../lib/xds/types.js';
import type { WaypointState } from '../state/state.js';
import { AMBIT_VERSION } from '../../lib/version.js';

export interface WaypointNode {
  gatewayName: string;
  podName: string;
  namespace: string;
  instanceIp: string;
  nodeName: string;
  clusterId: string;
}

export interface XdsWiring {
  address: string;
  credentials: grpc.ChannelCredentials;
  /** The bearer token, read fresh for every stream. */
  token: () => Promise<string | undefined>;
  node: WaypointNode;
  backoff?: Partial<BackoffOptions>;
  logger: Logger;
}

/** Istio's node id of a waypoint (a router): `router~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`. */
export function nodeId(n: WaypointNode): string {
  return `router~${n.instanceIp}~${n.podName}.${n.namespace}~${n.namespace}.svc.cluster.local`;
}

/** The credential in `file`, read at each call (it may be rotated on disk). */
function handler<D extends DescMessage>(schema: D, apply: (upserts: { name: string; value: MessageShape<D> }[], removals: readonly string[]) => void): DeltaHandler {
  const decode = messageDecoder(schema);
  return (upserts, removals) => apply(upserts.map((r) => ({ name: r.name, value: decode(r) })), removals);
}

export function createXdsClient(state: WaypointState, w: XdsWiring): XdsClient {
  return new XdsClient({
    address: w.address,
    credentials: w.credentials,
    node: {
      id: nodeId(w.node),
      cluster: w.node.clusterId,
      metadata: {
        NAME: w.node.podName,
        NAMESPACE: w.node.namespace,
        INSTANCE_IPS: w.node.instanceIp,
        NODE_NAME: w.node.nodeName,
        CLUSTER_ID: w.node.clusterId,
        ISTIO_VERSION: AMBIT_VERSION,
        // Istio's waypoints identify their Gateway this way.
        'gateway.networking.k8s.io/gateway-name': w.node.gatewayName,
      },
    },
    metadata: controlPlaneMetadata(w.token, w.node.clusterId),
    types: [
      { typeUrl: TYPE_ADDRESS, handler: handler(AddressSchema, (u, r) => state.applyAddresses(u, r)) },
      { typeUrl: TYPE_ROUTE_CONFIG, handler: handler(RouteConfigSchema, (u, r) => state.applyRouteConfigs(u, r)) },
      { typeUrl: TYPE_DESTINATION_POLICY, handler: handler(DestinationPolicySchema, (u, r) => state.applyDestinationPolicies(u, r)) },
      { typeUrl: TYPE_L7_AUTHORIZATION, handler: handler(L7AuthorizationSchema, (u, r) => state.applyAuthorizations(u, r)) },
      { typeUrl: TYPE_RATE_LIMIT, handler: handler(RateLimitSchema, (u, r) => state.applyRateLimits(u, r)) },
    ],
    ...(w.backoff ? { backoff: w.backoff } : {}),
    logger: w.logger,
  });
}
