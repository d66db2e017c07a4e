// The plugin ↔ node agent protocol: JSON over HTTP/1.1 on the agent's Unix socket, modelled on
// Istio's CNI event server (`POST /cmdadd`). The plugin imports only the types and the small pure
// checks here, so this file has no imports. The agent serves it (server.ts).
//
//   POST /cmdadd   PodEvent  → 200 AddReply {status: enrolled | not-enrolled}
//                              non-200 AddReply {status: failed, message, retryable}
//   POST /cmdcheck PodEvent  → 200 CheckReply {status: enrolled | not-enrolled | broken, message?}
//   POST /cmddel   PodEvent  → 200 {} (best effort: the plugin ignores failures)
//   GET  /status             → 200 StatusReply {ready: true} | 503 {ready: false, message}
//
// `enrolled` on /cmdadd means: the pod's rules are in place AND ztunnel acknowledged the pod. Any
// other answer, or none, fails the CNI ADD, so a pod never starts with its traffic unprotected.

export const PROTOCOL_VERSION = 1;
export const DEFAULT_AGENT_SOCKET = '/var/run/ambit/cni.sock';
export const PATH_ADD = '/cmdadd';
export const PATH_DEL = '/cmddel';
export const PATH_CHECK = '/cmdcheck';
export const PATH_STATUS = '/status';
/** Sent on every request so that an agent can refuse a plugin newer than itself. */
export const VERSION_HEADER = 'x-ambit-cni-protocol';

/** One address of the pod, from the CNI prevResult (`address` keeps its prefix length). */
export interface PodIp {
  address: string;
  gateway?: string;
  /** The interface name inside the pod, when prevResult says which. */
  interface?: string;
}

export interface PodEvent {
  podName: string;
  podNamespace: string;
  /** K8S_POD_UID when the runtime passes it (containerd does). */
  podUid?: string;
  /** Path of the pod's network namespace (CNI_NETNS); empty on a DEL after the sandbox is gone. */
  netns: string;
  containerId: string;
  ifname: string;
  ips: PodIp[];
}

export type AddStatus = 'enrolled' | 'not-enrolled' | 'failed';

export interface AddReply {
  status: AddStatus;
  message?: string;
  /** The agent expects a retry to work (ztunnel not connected yet, …). */
  retryable?: boolean;
}

export interface CheckReply {
  status: 'enrolled' | 'not-enrolled' | 'broken';
  message?: string;
}

export interface StatusReply {
  ready: boolean;
  message?: string;
}

function str(o: Record<string, unknown>, k: string, required: boolean): string | undefined {
  const v = o[k];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || (required && v === '' && k !== 'netns')) throw new Error(`pod event: field ${k} must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

/** Checks a decoded request body (the agent side); throws naming the field. */
export function parsePodEvent(body: unknown): PodEvent {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('pod event: body must be a JSON object');
  const o = body as Record<string, unknown>;
  const ipsRaw = o.ips ?? [];
  if (!Array.isArray(ipsRaw)) throw new Error('pod event: field ips must be an array');
  const ips = ipsRaw.map((ip, i): PodIp => {
    if (typeof ip !== 'object' || ip === null) throw new Error(`pod event: ips[${i}] must be an object`);
    const r = ip as Record<string, unknown>;
    if (typeof r.address !== 'string' || r.address === '') throw new Error(`pod event: ips[${i}].address must be a non-empty string`);
    const out: PodIp = { address: r.address };
    if (typeof r.gateway === 'string') out.gateway = r.gateway;
    if (typeof r.interface === 'string') out.interface = r.interface;
    return out;
  });
  const ev: PodEvent = {
    podName: str(o, 'podName', true)!,
    podNamespace: str(o, 'podNamespace', true)!,
    netns: str(o, 'netns', true)!,
    containerId: str(o, 'containerId', true)!,
    ifname: str(o, 'ifname', true)!,
    ips,
  };
  const uid = str(o, 'podUid', false);
  if (uid !== undefined && uid !== '') ev.podUid = uid;
  return ev;
}
