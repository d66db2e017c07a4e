// The pure half of `ambit waypoint`: the Gateway `apply` writes (what `istioctl waypoint
// generate` emits), the rows of `list`, and what `--wait` tells the user while and after waiting.
import type { KubeObject } from '../../lib/store/types.js';
import {
  GATEWAY,
  GATEWAY_LABELS,
  WAYPOINT_CLASS,
  WAYPOINT_LISTENER,
  WAYPOINT_TRAFFIC_TYPES,
  gatewayAddresses,
  gatewayCondition,
  type Gateway,
  type WaypointTrafficType,
} from '../../lib/k8s/gateway.js';

/** The traffic types `--for` takes (`none` too, as istioctl does: a waypoint nothing binds to). */
export function parseTrafficType(v: string): WaypointTrafficType {
  if (!(WAYPOINT_TRAFFIC_TYPES as readonly string[]).includes(v)) throw new Error(`--for: "${v}" is not a traffic type; use ${WAYPOINT_TRAFFIC_TYPES.join(', ')}`);
  return v as WaypointTrafficType;
}

/** A Gateway name, checked as the store would, with a message about waypoints. */
export function checkWaypointName(name: string): void {
  if (name === 'none') throw new Error('--name: "none" is reserved (istio.io/use-waypoint=none opts objects out of waypoints); choose another name');
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) throw new Error(`--name: "${name}" is not a valid name; use lowercase letters, digits and '-' (at most 63)`);
}

export function waypointGateway(namespace: string, name: string, trafficType?: WaypointTrafficType): Gateway {
  return {
    ...GATEWAY,
    metadata: { name, namespace, ...(trafficType ? { labels: { [GATEWAY_LABELS.waypointFor]: trafficType } } : {}) },
    spec: { gatewayClassName: WAYPOINT_CLASS, listeners: [{ ...WAYPOINT_LISTENER }] },
  };
}

/** The Gateway `apply` writes over an existing one: its spec, plus labels others set kept. */
export function mergeForApply(desired: Gateway, current: KubeObject | undefined): Gateway {
  if (!current) return desired;
  const labels = { ...(current.metadata.labels ?? {}), ...(desired.metadata.labels ?? {}) };
  return { ...desired, metadata: { ...desired.metadata, ...(Object.keys(labels).length ? { labels } : {}), ...(current.metadata.annotations ? { annotations: current.metadata.annotations } : {}) } };
}

export function isWaypoint(gw: KubeObject): boolean {
  return (gw.spec as { gatewayClassName?: unknown } | undefined)?.gatewayClassName === WAYPOINT_CLASS;
}

export interface WaypointRow {
  namespace: string;
  name: string;
  trafficType: string;
  programmed: string;
  address: string;
}

export function waypointRow(gw: KubeObject): WaypointRow {
  const addrs = gatewayAddresses(gw);
  return {
    namespace: gw.metadata.namespace ?? '',
    name: gw.metadata.name,
    trafficType: gw.metadata.labels?.[GATEWAY_LABELS.waypointFor] ?? 'service',
    programmed: gatewayCondition(gw, 'Programmed')?.status ?? 'Unknown',
    address: addrs.length ? addrs.map((a) => a.value).join(',') : '<none>',
  };
}

/** True once the control plane reports the waypoint Programmed for this generation of it. */
export function isProgrammed(gw: KubeObject): boolean {
  const c = gatewayCondition(gw, 'Programmed');
  if (c?.status !== 'True') return false;
  const gen = gw.metadata.generation;
  return c.observedGeneration === undefined || gen === undefined || c.observedGeneration >= gen;
}

/** Why `--wait` gave up, and where to look next. */
export function waitTimeoutMessage(gw: KubeObject | undefined, namespace: string, name: string, timeout: string): string {
  const head = `waypoint ${namespace}/${name} was not programmed within ${timeout}`;
  if (!gw) return `${head}: the Gateway is gone (deleted meanwhile?)`;
  const accepted = gatewayCondition(gw, 'Accepted');
  const programmed = gatewayCondition(gw, 'Programmed');
  if (!accepted && !programmed) return `${head}: the control plane wrote no status for it; is the cluster running (ambit up) with its control plane?`;
  if (accepted?.status === 'False') return `${head}: it is not accepted (${accepted.reason}): ${accepted.message ?? ''}`;
  const pods = `ambit get pods -n ${namespace} -l ${GATEWAY_LABELS.gatewayName}=${name}`;
  return `${head}: Programmed=${programmed?.status ?? 'Unknown'} (${programmed?.reason ?? 'no reason'}): ${programmed?.message ?? ''}; see its pods with \`${pods}\` and their logs with \`ambit logs -n ${namespace} POD\``;
}
