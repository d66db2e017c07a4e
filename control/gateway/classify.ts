// Which Gateways the waypoint deployment controller acts on, and why it refuses the ones it does.
// Pure. A Gateway of class istio-waypoint is deployed when its listeners and labels are what a
// waypoint can serve; a Gateway of another class is left to its own controller unless it looks
// like a waypoint (an HBONE listener or an `istio.io/waypoint-for` label) and nobody gave it an
// address: then its class is the mistake, and the status says so.
import type { KubeObject } from '../../lib/store/types.js';
import { GATEWAY_LABELS, WAYPOINT_CLASS, WAYPOINT_LISTENER, WAYPOINT_TRAFFIC_TYPES, gatewayAddresses, type GatewayListener } from '../../lib/k8s/gateway.js';

/** Why a Gateway is not accepted: the Gateway API reason, the field at fault and what to do. */
export interface Refusal {
  reason: 'InvalidParameters' | 'ListenersNotValid';
  field: string;
  message: string;
}

export type Classification =
  | { kind: 'ignore' }
  | { kind: 'waypoint'; listener: GatewayListener }
  | { kind: 'invalid'; refusal: Refusal };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function listenersOf(gw: KubeObject): unknown[] {
  const spec = isRecord(gw.spec) ? gw.spec : {};
  return Array.isArray(spec.listeners) ? spec.listeners : [];
}

const isHbone = (l: unknown): boolean => isRecord(l) && l.protocol === WAYPOINT_LISTENER.protocol;

function describeListener(l: unknown): string {
  if (!isRecord(l)) return JSON.stringify(l);
  return `${typeof l.name === 'string' ? l.name : '?'} (port ${String(l.port)}, protocol ${String(l.protocol)})`;
}

export function classify(gw: KubeObject): Classification {
  const spec = isRecord(gw.spec) ? gw.spec : {};
  const cls = spec.gatewayClassName;
  const labels = gw.metadata.labels ?? {};
  const listeners = listenersOf(gw);
  if (cls !== WAYPOINT_CLASS) {
    const looksLikeWaypoint = listeners.some(isHbone) || GATEWAY_LABELS.waypointFor in labels;
    if (!looksLikeWaypoint || gatewayAddresses(gw).length > 0) return { kind: 'ignore' };
    const named = typeof cls === 'string' && cls ? `"${cls}"` : 'missing';
    return {
      kind: 'invalid',
      refusal: {
        reason: 'InvalidParameters',
        field: 'spec.gatewayClassName',
        message: `spec.gatewayClassName is ${named}, but this Gateway is a waypoint (${listeners.some(isHbone) ? 'it has an HBONE listener' : `it has the label ${GATEWAY_LABELS.waypointFor}`}); set spec.gatewayClassName: ${WAYPOINT_CLASS}`,
      },
    };
  }
  const tt = labels[GATEWAY_LABELS.waypointFor];
  if (tt !== undefined && !(WAYPOINT_TRAFFIC_TYPES as readonly string[]).includes(tt)) {
    return {
      kind: 'invalid',
      refusal: {
        reason: 'InvalidParameters',
        field: `metadata.labels['${GATEWAY_LABELS.waypointFor}']`,
        message: `metadata.labels['${GATEWAY_LABELS.waypointFor}'] is "${tt}"; use one of ${WAYPOINT_TRAFFIC_TYPES.join(', ')}`,
      },
    };
  }
  if (gw.metadata.name === 'none') {
    return { kind: 'invalid', refusal: { reason: 'InvalidParameters', field: 'metadata.name', message: 'metadata.name "none" is reserved (istio.io/use-waypoint=none opts objects out of waypoints); rename the Gateway' } };
  }
  const good = listeners.filter((l) => isRecord(l) && Number(l.port) === WAYPOINT_LISTENER.port && l.protocol === WAYPOINT_LISTENER.protocol);
  if (good.length !== 1 || listeners.length !== 1) {
    const found = listeners.length === 0 ? 'none' : listeners.map(describeListener).join(', ');
    return {
      kind: 'invalid',
      refusal: {
        reason: 'ListenersNotValid',
        field: 'spec.listeners',
        message: `spec.listeners: expected a single listener on port ${WAYPOINT_LISTENER.port} with protocol "${WAYPOINT_LISTENER.protocol}" (found: ${found})`,
      },
    };
  }
  return { kind: 'waypoint', listener: good[0] as GatewayListener };
}
