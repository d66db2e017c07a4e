// Which xDS streams a credential may open, as a pure decision. Every stream serves the whole
// mesh's Addresses and Authorizations, so only node agents and waypoints may subscribe:
// - a node credential (ztunnel, or a waypoint in `ambit up` that carries its node's credential)
//   must name its own node: the request's `NODE_NAME` metadata equals the credential's node;
// - a workload credential (a waypoint in Kubernetes, with its service-account token) must be a
//   router whose node id names the credential's namespace, and its service account must be that
//   of an `istio-waypoint` Gateway in that namespace (the account the deployment controller gives
//   the Gateway's pods);
// - node ids follow Istio's `<type>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>`.
import { parseSpiffeId } from '../../lib/identity/spiffe.js';
import type { KubeObject } from '../../lib/store/types.js';
import type { Caller } from '../ca/authn.js';

export interface NodeClaim {
  /** `node.id` of the stream's first request. */
  id: string;
  /** `node.metadata` as strings (non-string values are absent). */
  metadata: Readonly<Record<string, string>>;
}

export interface ParsedNodeId {
  type: 'ztunnel' | 'router';
  ip: string;
  podName: string;
  namespace: string;
}

export type Admission = { admitted: true } | { admitted: false; reason: string };

const NODE_TYPES = new Set(['ztunnel', 'router']);

/** Istio's node id, or the problem with it. */
export function parseNodeId(id: string): ParsedNodeId | string {
  const parts = id.split('~');
  if (parts.length !== 4) return `node id ${JSON.stringify(id)} is not <type>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>`;
  const [type, ip, podDotNs, domain] = parts as [string, string, string, string];
  if (!NODE_TYPES.has(type)) return `node id ${JSON.stringify(id)}: type "${type}" is neither "ztunnel" nor "router"; only node agents and waypoints may subscribe`;
  const dot = podDotNs.indexOf('.');
  const podName = dot > 0 ? podDotNs.slice(0, dot) : '';
  const namespace = dot > 0 ? podDotNs.slice(dot + 1) : '';
  if (!podName || !namespace) return `node id ${JSON.stringify(id)}: "${podDotNs}" is not <pod>.<namespace>`;
  if (!domain.startsWith(`${namespace}.`)) return `node id ${JSON.stringify(id)}: domain "${domain}" is not in namespace "${namespace}"`;
  return { type: type as ParsedNodeId['type'], ip, podName, namespace };
}

export interface AdmissionContext {
  /** True when `serviceAccount` in `namespace` is the account of an istio-waypoint Gateway there. */
  isWaypointAccount: (namespace: string, serviceAccount: string) => boolean;
}

export function admitStream(caller: Caller, node: NodeClaim, ctx: AdmissionContext): Admission {
  const parsed = parseNodeId(node.id);
  if (typeof parsed === 'string') return { admitted: false, reason: parsed };
  if (caller.kind === 'node') {
    const claimed = node.metadata['NODE_NAME'] ?? '';
    if (claimed === '') return { admitted: false, reason: `node ${node.id}: metadata NODE_NAME is missing; a node credential serves only the node it names (${caller.nodeName})` };
    if (claimed !== caller.nodeName) {
      return { admitted: false, reason: `node ${node.id} claims node "${claimed}" (metadata NODE_NAME) but its credential is for node "${caller.nodeName}"` };
    }
    return { admitted: true };
  }
  let ns: string;
  let sa: string;
  try {
    const id = parseSpiffeId(caller.identity);
    ns = id.namespace;
    sa = id.serviceAccount;
  } catch (e) {
    return { admitted: false, reason: `credential identity ${caller.identity}: ${(e as Error).message}` };
  }
  if (parsed.type !== 'router') {
    return { admitted: false, reason: `node ${node.id} is a ztunnel, but its credential is the workload ${caller.identity}; a ztunnel presents its node credential` };
  }
  if (parsed.namespace !== ns) {
    return { admitted: false, reason: `node ${node.id} is in namespace "${parsed.namespace}" but its credential is ${caller.identity} (namespace "${ns}")` };
  }
  if (!ctx.isWaypointAccount(ns, sa)) {
    return { admitted: false, reason: `${caller.identity} is not the service account of an istio-waypoint Gateway in namespace "${ns}"; workload credentials may not subscribe to the mesh's addresses and policies` };
  }
  return { admitted: true };
}

/** `node.metadata` (a protobuf Struct as JSON) reduced to its string values. */
export function stringMetadata(md: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (md && typeof md === 'object') for (const [k, v] of Object.entries(md as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** The deployment controller runs an istio-waypoint Gateway's pods as the service account of its name. */
export function isWaypointAccount(gateways: Iterable<KubeObject>, namespace: string, serviceAccount: string): boolean {
  for (const g of gateways) {
    const cls = (g.spec as { gatewayClassName?: unknown } | undefined)?.gatewayClassName;
    if (g.metadata.namespace === namespace && g.metadata.name === serviceAccount && cls === 'istio-waypoint') return true;
  }
  return false;
}
