// Gateway API Gateways as waypoints: the kind, Istio's class and label names, and the few reads of
// a Gateway's status that both the control plane (which writes it) and the CLI (which waits for
// it) need. Istio's names, so manifests and habits from istioctl keep working.
import type { KubeObject, ObjectMeta } from '../store/types.js';
import type { StatusCondition } from './types.js';

export const GATEWAY = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway' } as const;

/** The class of waypoints; its controller is `istio.io/mesh-controller`. */
export const WAYPOINT_CLASS = 'istio-waypoint';
/** The one listener a waypoint has: HBONE on 15008. */
export const WAYPOINT_LISTENER = { name: 'mesh', port: 15008, protocol: 'HBONE' } as const;
export const DEFAULT_WAYPOINT_NAME = 'waypoint';

export const GATEWAY_LABELS = {
  gatewayName: 'gateway.networking.k8s.io/gateway-name',
  gatewayClassName: 'gateway.networking.k8s.io/gateway-class-name',
  managed: 'gateway.istio.io/managed',
  waypointFor: 'istio.io/waypoint-for',
  useWaypoint: 'istio.io/use-waypoint',
  dataplaneMode: 'istio.io/dataplane-mode',
} as const;

/** The value of `gateway.istio.io/managed` on what the control plane deploys for a waypoint. */
export const MANAGED_BY_MESH_CONTROLLER = 'istio.io-mesh-controller';

export const WAYPOINT_TRAFFIC_TYPES = ['service', 'workload', 'all', 'none'] as const;
export type WaypointTrafficType = (typeof WAYPOINT_TRAFFIC_TYPES)[number];

export interface GatewayListener {
  name: string;
  port: number;
  protocol: string;
  allowedRoutes?: unknown;
  [key: string]: unknown;
}

export type GatewayCondition = StatusCondition;

export interface GatewayAddress {
  type?: 'IPAddress' | 'Hostname' | string;
  value: string;
}

export interface Gateway extends KubeObject {
  metadata: ObjectMeta & { namespace: string };
  spec: { gatewayClassName: string; listeners: GatewayListener[]; [key: string]: unknown };
  status?: { addresses?: GatewayAddress[]; conditions?: GatewayCondition[]; [key: string]: unknown };
}

/** A condition of a Gateway's status by type, if present and well-formed. */
export function gatewayCondition(gw: KubeObject, type: string): GatewayCondition | undefined {
  const list = (gw.status as { conditions?: unknown } | undefined)?.conditions;
  if (!Array.isArray(list)) return undefined;
  return list.find((c): c is GatewayCondition => typeof c === 'object' && c !== null && (c as GatewayCondition).type === type && typeof (c as GatewayCondition).status === 'string');
}

/** `status.addresses` values, well-formed entries only. */
export function gatewayAddresses(gw: KubeObject): GatewayAddress[] {
  const list = (gw.status as { addresses?: unknown } | undefined)?.addresses;
  if (!Array.isArray(list)) return [];
  return list.filter((a): a is GatewayAddress => typeof a === 'object' && a !== null && typeof (a as GatewayAddress).value === 'string');
}
