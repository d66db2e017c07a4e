// Binds the pods nobody placed yet to a node (what kube-scheduler does; it is not among the
// binaries built here): watches unbound pods and posts a Binding for each, through the API.
import type { KubeStore } from '../../../lib/store/kube.js';
import type { Watch } from '../../../lib/store/types.js';
import type { Logger } from '../../../lib/telemetry/log.js';
import { NODE, POD, type Pod } from '../../../lib/k8s/types.js';
import { placePod, type NodeInfo } from './placement.js';

export class PodBinder {
  private watch?: Watch;
  private readonly pending = new Map<string, Pod>();
  private running = false;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly store: KubeStore,
    private readonly log: Logger,
  ) {}

  start(): this {
    this.watch = this.store.watch<Pod>(POD, { fieldSelector: { 'spec.nodeName': '' } }, (ev) => {
      const key = `${ev.object.metadata.namespace}/${ev.object.metadata.name}`;
      if (ev.type === 'DELETED' || ev.object.spec.nodeName || ev.object.metadata.deletionTimestamp) this.pending.delete(key);
      else this.pending.set(key, ev.object);
      this.kick(0);
    });
    return this;
  }

  private kick(delayMs: number): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.bindAll();
    }, delayMs);
  }

  private async bindAll(): Promise<void> {
    if (this.running || this.closed || this.pending.size === 0) return;
    this.running = true;
    let retry = false;
    try {
      const nodes: NodeInfo[] = (await this.store.list(NODE)).map((n) => ({ name: n.metadata.name, labels: n.metadata.labels ?? {} }));
      const counts = new Map<string, number>();
      for (const p of await this.store.list<Pod>(POD)) if (p.spec.nodeName) counts.set(p.spec.nodeName, (counts.get(p.spec.nodeName) ?? 0) + 1);
      for (const [key, pod] of [...this.pending]) {
        const target = placePod(pod, nodes, counts);
        if (typeof target === 'object') {
          this.log.warn({ pod: key, reason: target.error }, 'pod cannot be scheduled; will retry');
          retry = true;
          continue;
        }
        try {
          await this.store.client.request({
            method: 'POST',
            path: `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace ?? 'default')}/pods/${encodeURIComponent(pod.metadata.name)}/binding`,
            body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.metadata.name, ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}) }, target: { apiVersion: 'v1', kind: 'Node', name: target } },
          });
          counts.set(target, (counts.get(target) ?? 0) + 1);
          this.pending.delete(key);
          this.log.info({ pod: key, node: target }, 'pod bound');
        } catch (err) {
          // Gone or already bound: its next event settles it. Anything else is retried.
          this.log.debug({ pod: key, err: (err as Error).message }, 'binding failed');
          retry = true;
        }
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'scheduling pass failed; will retry');
      retry = true;
    } finally {
      this.running = false;
    }
    if (retry || this.pending.size) this.kick(1_000);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.watch?.close();
  }
}
