// The CA's view of which service accounts run on which node, kept live from the Pod informer: the
// node authorizer lets a ztunnel impersonate only the service accounts of pods on its own node.
import type { KubeObject } from '../../lib/store/types.js';
import type { PodIndex, PodRef } from '../ca/node-auth.js';
import { objectKey, type Informer } from '../xds/informer.js';

export interface PodPlacement extends PodRef {
  nodeName: string;
}

/** Where a pod runs and as whom, or undefined when it cannot run (finished) or is not scheduled. Pure. */
export function placementOf(pod: KubeObject): PodPlacement | undefined {
  const spec = (pod.spec ?? {}) as { nodeName?: unknown; serviceAccountName?: unknown; serviceAccount?: unknown };
  const phase = (pod.status as { phase?: unknown } | undefined)?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const namespace = pod.metadata.namespace;
  if (typeof spec.nodeName !== 'string' || spec.nodeName === '' || !namespace) return undefined;
  const sa = [spec.serviceAccountName, spec.serviceAccount].find((v): v is string => typeof v === 'string' && v !== '');
  return { nodeName: spec.nodeName, namespace, serviceAccount: sa ?? 'default' };
}

export class StorePodIndex implements PodIndex {
  /** node → pod key → ref */
  private readonly byNode = new Map<string, Map<string, PodRef>>();
  private readonly nodeOf = new Map<string, string>();
  private readonly unsubscribe: () => void;

  constructor(pods: Informer) {
    for (const p of pods.items.values()) this.update(objectKey(p), p);
    this.unsubscribe = pods.on((ev) => this.update(objectKey(ev.object), ev.type === 'DELETED' ? undefined : ev.object));
  }

  private update(key: string, pod: KubeObject | undefined): void {
    const prevNode = this.nodeOf.get(key);
    if (prevNode !== undefined) {
      const m = this.byNode.get(prevNode);
      m?.delete(key);
      if (m?.size === 0) this.byNode.delete(prevNode);
      this.nodeOf.delete(key);
    }
    const p = pod && placementOf(pod);
    if (!p) return;
    let m = this.byNode.get(p.nodeName);
    if (!m) this.byNode.set(p.nodeName, (m = new Map()));
    m.set(key, { namespace: p.namespace, serviceAccount: p.serviceAccount });
    this.nodeOf.set(key, p.nodeName);
  }

  podsOn(nodeName: string): PodRef[] {
    return [...(this.byNode.get(nodeName)?.values() ?? [])];
  }

  close(): void {
    this.unsubscribe();
  }
}
