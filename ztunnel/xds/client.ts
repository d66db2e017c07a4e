// ztunnel's subscription to the control plane: delta ADS for Address and
// Authorization over TLS, with the node credential as a bearer token re-read for every stream.
// The XdsClient NACKs a bad response and ProxyState keeps the last good state; while the control
// plane is unreachable nothing is removed, so traffic keeps flowing on the last configuration.
import * as grpc from '@grpc/grpc-js';
import { controlPlaneMetadata } from '../../lib/ca-client/control-plane-auth.js';
import type { Logger } from '../../lib/telemetry/log.js';
import { XdsClient } from '../../lib/xds/client.js';
import { TYPE_ADDRESS, TYPE_AUTHORIZATION, type BackoffOptions } from '../../lib/xds/types.js';
import { addressHandler, authorizationHandler } from '../state/feed.js';
import type { ProxyState } from '../state/state.js';
import { AMBIT_VERSION } from '../../lib/version.js';

export interface NodeIdentity {
  nodeName: string;
  /** This ztunnel's pod (Istio node id `ztunnel~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`). */
  podName: string;
  podNamespace: string;
  instanceIp: string;
  clusterId: string;
}

export interface XdsWiring {
  address: string;
  /** TLS in production; tests pass insecure credentials for a fake server. */
  credentials: grpc.ChannelCredentials;
  /** The bearer token, read fresh for every stream (it may be rotated on disk). */
  token: () => Promise<string | undefined>;
  node: NodeIdentity;
  /** Name to verify in the control plane's certificate instead of the host of `address`. */
  serverName?: string;
  backoff?: Partial<BackoffOptions>;
  logger: Logger;
}

export function nodeId(n: NodeIdentity): string {
  return `ztunnel~${n.instanceIp}~${n.podName}.${n.podNamespace}~${n.podNamespace}.svc.cluster.local`;
}

export function createXdsClient(state: ProxyState, w: XdsWiring): XdsClient {
  const channelOptions: grpc.ChannelOptions = {};
  if (w.serverName) {
    channelOptions['grpc.ssl_target_name_override'] = w.serverName;
    channelOptions['grpc.default_authority'] = w.serverName;
  }
  const client = new XdsClient({
    address: w.address,
    credentials: w.credentials,
    channelOptions,
    node: {
      id: nodeId(w.node),
      cluster: w.node.clusterId,
      metadata: { NAME: w.node.podName, NAMESPACE: w.node.podNamespace, INSTANCE_IPS: w.node.instanceIp, NODE_NAME: w.node.nodeName, CLUSTER_ID: w.node.clusterId, ISTIO_VERSION: AMBIT_VERSION },
    },
    metadata: controlPlaneMetadata(w.token, w.node.clusterId),
    types: [
      { typeUrl: TYPE_ADDRESS, handler: addressHandler(state) },
      { typeUrl: TYPE_AUTHORIZATION, handler: authorizationHandler(state) },
    ],
    ...(w.backoff ? { backoff: w.backoff } : {}),
    logger: w.logger,
  });
  client.on('state', (s, detail) => w.logger.debug({ state: s, detail }, 'xDS connection state'));
  return client;
}
