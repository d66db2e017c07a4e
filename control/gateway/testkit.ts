// Gateways and the objects the cluster reports, for the controller's tests.
import type { KubeObject } from '../../lib/store/types.js';
import type { Deployment, Service } from '../../lib/k8s/types.js';
import { GATEWAY, WAYPOINT_CLASS } from '../../lib/k8s/gateway.js';
import type { RenderOptions } from './render.js';

export const RENDER: RenderOptions = { xdsAddress: '10.0.0.2:15012', caAddress: '10.0.0.2:15012', trustDomain: 'cluster.local', clusterId: 'Kubernetes' };

export interface GatewayParts {
  name?: string;
  namespace?: string;
  uid?: string;
  className?: string;
  labels?: Record<string, string>;
  listeners?: unknown[];
  status?: Record<string, unknown>;
  generation?: number;
  /** `spec.infrastructure.parametersRef`, as written. */
  parametersRef?: unknown;
}

/** What `ambit waypoint apply` (and `istioctl waypoint generate`) writes, with overrides. */
export function gateway(p: GatewayParts = {}): KubeObject {
  return {
    ...GATEWAY,
    metadata: {
      name: p.name ?? 'waypoint',
      namespace: p.namespace ?? 'demo',
      uid: p.uid ?? 'gw-uid-1',
      ...(p.generation !== undefined ? { generation: p.generation } : {}),
      ...(p.labels ? { labels: p.labels } : {}),
    },
    spec: {
      gatewayClassName: p.className ?? WAYPOINT_CLASS,
      listeners: p.listeners ?? [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
      ...(p.parametersRef !== undefined ? { infrastructure: { parametersRef: p.parametersRef } } : {}),
    },
    ...(p.status ? { status: p.status } : {}),
  };
}

export function readyDeployment(d: Deployment, ready: number): Deployment {
  return { ...d, status: { replicas: 1, readyReplicas: ready, availableReplicas: ready, updatedReplicas: 1 } };
}

export function withClusterIp(s: Service, ip: string): Service {
  return { ...s, spec: { ...s.spec, clusterIP: ip, clusterIPs: [ip] } };
}
