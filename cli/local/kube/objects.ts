// The few writes Kubernetes mode makes that the File mode has no use for.
import type { KubeStore } from '../../../lib/store/kube.js';
import { StoreError } from '../../../lib/store/types.js';
import { ENDPOINTS, NODE, type Endpoints, type Pod } from '../../../lib/k8s/types.js';
import type { KubeObject } from '../../../lib/store/types.js';
import { APISERVER_PORT } from './control-plane.js';

/** `default/kubernetes` pointing at the apiserver, which in-cluster clients reach through the Service VIP (pure). */
export function apiserverEndpoints(address: string): Endpoints {
  return {
    ...ENDPOINTS,
    metadata: { name: 'kubernetes', namespace: 'default' },
    subsets: [{ addresses: [{ ip: address }], ports: [{ name: 'https', port: APISERVER_PORT, protocol: 'TCP' }] }],
  };
}

/**
 * What a kubelet does when a terminating pod's containers have stopped: deletes it for good
 * (grace period 0), only if it is still the same pod (uid precondition). Gone already is fine.
 */
export async function confirmPodDeletion(store: KubeStore, pod: Pod): Promise<void> {
  const ns = pod.metadata.namespace ?? 'default';
  try {
    await store.client.request({
      method: 'DELETE',
      path: `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod.metadata.name)}`,
      body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, ...(pod.metadata.uid ? { preconditions: { uid: pod.metadata.uid } } : {}) },
    });
  } catch (err) {
    if (err instanceof StoreError && (err.code === 'NotFound' || err.code === 'Conflict')) return;
    throw err;
  }
}

/** Taints the API server puts on a new Node until its kubelet reports it ready. */
export const STARTUP_TAINTS = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'];

/** A Node's taints without the start-up ones (pure); undefined when there is nothing to remove. */
export function withoutStartupTaints(node: KubeObject): Array<Record<string, unknown>> | undefined {
  const taints = ((node.spec as { taints?: Array<Record<string, unknown>> } | undefined)?.taints) ?? [];
  const kept = taints.filter((t) => !STARTUP_TAINTS.includes(String(t.key)));
  return kept.length === taints.length ? undefined : kept;
}

/**
 * What a kubelet's first Ready report leads to: the Node loses the not-ready taint that
 * admission (TaintNodesByCondition) put on it, so pods that do not tolerate it (a DaemonSet's)
 * can go there. The node-lifecycle controller would do it; it does not run here.
 */
export async function markNodeReady(store: KubeStore, name: string): Promise<void> {
  // Controllers annotate new Nodes too (the ttl controller): a Conflict is read again and retried.
  for (let attempt = 1; ; attempt++) {
    const node = await store.get({ ...NODE, name });
    if (!node) throw new Error(`node ${name}: not found after registering it`);
    const kept = withoutStartupTaints(node);
    if (!kept) return;
    try {
      await store.patch({ ...NODE, name }, { spec: { taints: kept.length ? kept : null } }, node.metadata.resourceVersion ? { resourceVersion: node.metadata.resourceVersion } : {});
      return;
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'Conflict') || attempt >= 10) throw err;
    }
  }
}

export interface PodEventInput {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** A core/v1 Event about a pod, as kubelet reports one from node `node` (pure). */
export function podEvent(pod: Pod, node: string, ev: PodEventInput, name: string, now: string, count = 1, first = now): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: pod.metadata.namespace ?? 'default' },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name, ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}) },
    type: ev.type,
    reason: ev.reason,
    message: ev.message,
    source: { component: 'kubelet', host: node },
    reportingComponent: 'kubelet',
    reportingInstance: node,
    firstTimestamp: first,
    lastTimestamp: now,
    count,
  } as KubeObject;
}

/** The variables kubelet sets in every container for the API server's Service (pure). */
export function kubernetesServiceEnv(ip: string, port: number): Record<string, string> {
  const url = `tcp://${ip}:${port}`;
  const p = `KUBERNETES_PORT_${port}_TCP`;
  return {
    KUBERNETES_SERVICE_HOST: ip,
    KUBERNETES_SERVICE_PORT: String(port),
    KUBERNETES_SERVICE_PORT_HTTPS: String(port),
    KUBERNETES_PORT: url,
    [p]: url,
    [`${p}_PROTO`]: 'tcp',
    [`${p}_PORT`]: String(port),
    [`${p}_ADDR`]: ip,
  };
}

/**
 * Records pods' Events; the same event about the same pod again raises its count instead of
 * making another one, as kubelet's recorder does.
 */
export class PodEventRecorder {
  private readonly seen = new Map<string, { name: string; count: number; first: string }>();
  private seq = 0;

  constructor(private readonly store: KubeStore, private readonly node: string) {}

  async record(pod: Pod, ev: PodEventInput): Promise<void> {
    const ns = pod.metadata.namespace ?? 'default';
    const key = `${ns}/${pod.metadata.name}/${pod.metadata.uid ?? ''}/${ev.type}/${ev.reason}/${ev.message}`;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const known = this.seen.get(key);
    if (known) {
      known.count++;
      try {
        await this.store.client.request({ method: 'PATCH', path: `/api/v1/namespaces/${encodeURIComponent(ns)}/events/${encodeURIComponent(known.name)}`, contentType: 'application/merge-patch+json', body: { count: known.count, lastTimestamp: now } });
        return;
      } catch (err) {
        if (!(err instanceof StoreError && err.code === 'NotFound')) throw err;
        // Expired (events live an hour): made again below.
      }
    }
    const name = `${pod.metadata.name}.${Date.now().toString(16)}${(this.seq++).toString(16)}`;
    const count = known?.count ?? 1;
    const first = known?.first ?? now;
    await this.store.client.request({ method: 'POST', path: `/api/v1/namespaces/${encodeURIComponent(ns)}/events`, body: podEvent(pod, this.node, ev, name, now, count, first) });
    if (this.seen.size > 1000) this.seen.clear();
    this.seen.set(key, { name, count, first });
  }
}
