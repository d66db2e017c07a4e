// The node agent of the local cluster: for every Pod bound to its node it sets up the pod's
// network (CNI), starts its containers, and reports status; when the Pod goes, it stops the
// containers and tears the network down. A pod whose network cannot be set up (e.g. a chained CNI
// plugin refusing ADD) is retried with back-off and never started without it; so is a pod whose
// volumes cannot be set up yet (a ConfigMap not published yet): it stays Pending with reason
// FailedMount and a Warning Event, as kubelet does.
import type { Logger } from '../../lib/telemetry/log.js';
import type { ClusterStore, Watch } from '../../lib/store/types.js';
import { replaceWith } from '../../lib/store/patch.js';
import { POD, type Pod, type PodStatus } from '../../lib/k8s/types.js';

export interface PodNetwork {
  netns: string;
  netnsPath: string;
  ip: string;
}

export interface Networker {
  setUp(pod: Pod, node: string): Promise<PodNetwork>;
  tearDown(pod: Pod, node: string): Promise<void>;
}

/** A pod set-up step that failed and is tried again (`reason` as kubelet's: FailedMount). */
export class PodSetupError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

export interface PodEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface RunningPod {
  stop(graceSeconds?: number): Promise<void>;
}

export interface Runtime {
  start(pod: Pod, net: PodNetwork, node: string, onStatus: (s: PodStatus) => void): Promise<RunningPod>;
}

export const NETNS_ANNOTATION = 'ambit.dev/netns';

interface Entry {
  pod: Pod;
  net?: PodNetwork;
  running?: RunningPod;
  deleted: boolean;
  /** Serialises the operations on one pod. */
  chain: Promise<void>;
  retry?: NodeJS.Timeout;
  attempts: number;
}

export interface KubeletOptions {
  node: string;
  hostIP: string;
  store: ClusterStore;
  networker: Networker;
  runtime: Runtime;
  log: Logger;
  retryBaseMs?: number;
  /**
   * Graceful deletion (the Kubernetes back end): a deleted pod keeps existing with a
   * deletionTimestamp until its kubelet has stopped it and confirms, which this does (a delete
   * with grace period 0). Without it a pod goes when the store deletes it.
   */
  confirmDeletion?: (pod: Pod) => Promise<void>;
  /** Records an Event about the pod (the Kubernetes back end). */
  recordEvent?: (pod: Pod, ev: PodEvent) => Promise<void>;
}

/** Kubelet's back-off between set-up attempts: 500 ms doubling to 10 s. */
export function retryDelay(attempt: number, baseMs = 500): number {
  return Math.min(baseMs * 2 ** (attempt - 1), 10_000);
}

export class Kubelet {
  private readonly pods = new Map<string, Entry>();
  private watch?: Watch;
  private closed = false;

  constructor(private readonly o: KubeletOptions) {}

  start(): void {
    this.watch = this.o.store.watch<Pod>(POD, {}, (ev) => {
      const pod = ev.object;
      if (pod.spec?.nodeName !== this.o.node) return;
      const key = `${pod.metadata.namespace}/${pod.metadata.name}/${pod.metadata.uid ?? ''}`;
      if (ev.type === 'DELETED') this.remove(key);
      else if (pod.metadata.deletionTimestamp) this.remove(key, pod);
      else if (!this.pods.has(key)) this.add(key, pod);
      else this.pods.get(key)!.pod = pod;
    });
  }

  /** Pods known to this node, for tests and `down`. */
  podKeys(): string[] {
    return [...this.pods.keys()];
  }

  private enqueue(e: Entry, fn: () => Promise<void>): Promise<void> {
    e.chain = e.chain.then(fn).catch((err: unknown) => this.o.log.error({ err, pod: e.pod.metadata.name }, 'pod operation failed'));
    return e.chain;
  }

  private add(key: string, pod: Pod): void {
    const e: Entry = { pod, deleted: false, chain: Promise.resolve(), attempts: 0 };
    this.pods.set(key, e);
    void this.enqueue(e, () => this.startPod(e));
  }

  /** `terminating`: the pod as it was marked for deletion, which this node confirms once stopped. */
  private remove(key: string, terminating?: Pod): void {
    const e = this.pods.get(key);
    if (!e) {
      // Marked for deletion before it ever started here (or after a restart): nothing to stop.
      if (terminating && this.o.confirmDeletion) void this.confirm(terminating);
      return;
    }
    if (e.deleted) return;
    e.deleted = true;
    if (e.retry) clearTimeout(e.retry);
    void this.enqueue(e, async () => {
      await this.stopPod(e);
      if (terminating) await this.confirm(terminating);
    }).then(() => this.pods.delete(key));
  }

  private async confirm(pod: Pod): Promise<void> {
    try {
      await this.o.confirmDeletion?.(pod);
    } catch (err) {
      this.o.log.warn({ err, pod: `${pod.metadata.namespace}/${pod.metadata.name}` }, 'confirming the deletion failed');
    }
  }

  private async patchStatus(e: Entry, status: PodStatus, extraMeta?: Record<string, unknown>): Promise<void> {
    if (e.deleted || this.closed) return;
    const key = { ...POD, namespace: e.pod.metadata.namespace, name: e.pod.metadata.name };
    const next = { ...status, hostIP: this.o.hostIP, ...(e.net ? { podIP: e.net.ip, podIPs: [{ ip: e.net.ip }] } : {}) } as Record<string, unknown>;
    const patch: Record<string, unknown> = { status: replaceWith(e.pod.status as Record<string, unknown> | undefined, next) };
    if (extraMeta) patch.metadata = extraMeta;
    try {
      e.pod = await this.o.store.patch<Pod>(key, patch);
    } catch (err) {
      // The pod may have been deleted meanwhile; its DELETED event stops it.
      this.o.log.debug({ err, pod: key.name }, 'status update skipped');
    }
  }

  /** Reports a failed set-up step (status, Event) and tries the pod again after the back-off. */
  private async retryLater(e: Entry, reason: string, msg: string): Promise<void> {
    const name = `${e.pod.metadata.namespace}/${e.pod.metadata.name}`;
    e.attempts++;
    const delay = retryDelay(e.attempts, this.o.retryBaseMs);
    this.o.log.warn({ pod: name, reason, attempt: e.attempts, retryInMs: delay, err: msg }, 'pod set-up failed; will retry');
    await this.patchStatus(e, { phase: 'Pending', reason, message: msg, conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False', reason }] });
    if (this.o.recordEvent && !e.deleted && !this.closed) {
      await this.o.recordEvent(e.pod, { type: 'Warning', reason, message: msg }).catch((err: unknown) => this.o.log.debug({ err, pod: name }, 'event not recorded'));
    }
    if (!e.deleted && !this.closed) e.retry = setTimeout(() => void this.enqueue(e, () => this.startPod(e)), delay);
  }

  private async startPod(e: Entry): Promise<void> {
    if (e.deleted || this.closed) return;
    const { pod } = e;
    const name = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (!e.net) {
      try {
        e.net = await this.o.networker.setUp(pod, this.o.node);
      } catch (err) {
        return this.retryLater(e, 'FailedCreatePodSandBox', err instanceof Error ? err.message : String(err));
      }
      if (e.deleted || this.closed) return;
      e.attempts = 0;
      await this.patchStatus(e, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }] }, { annotations: { [NETNS_ANNOTATION]: e.net.netns } });
      this.o.log.info({ pod: name, ip: e.net.ip, netns: e.net.netns }, 'pod network ready; starting containers');
    }
    const net = e.net;
    // Status callbacks are written in order, without piling up: only the newest pending one is kept.
    let pending: PodStatus | undefined;
    let writing = false;
    const flush = async () => {
      if (writing) return;
      writing = true;
      while (pending) {
        const s = pending;
        pending = undefined;
        await this.patchStatus(e, s);
      }
      writing = false;
    };
    try {
      e.running = await this.o.runtime.start(pod, net, this.o.node, (s) => {
        pending = s;
        void flush();
      });
    } catch (err) {
      if (!(err instanceof PodSetupError)) throw err;
      return this.retryLater(e, err.reason, err.message);
    }
    e.attempts = 0;
  }

  private async stopPod(e: Entry): Promise<void> {
    const name = `${e.pod.metadata.namespace}/${e.pod.metadata.name}`;
    if (e.running) await e.running.stop(e.pod.spec.terminationGracePeriodSeconds);
    e.running = undefined;
    if (e.net) {
      await this.o.networker.tearDown(e.pod, this.o.node).catch((err: unknown) => this.o.log.warn({ err, pod: name }, 'pod network tear-down failed'));
    }
    this.o.log.info({ pod: name }, 'pod stopped');
  }

  /** Stops every pod on the node (for `down` / Ctrl-C). */
  async close(): Promise<void> {
    this.closed = true;
    this.watch?.close();
    await Promise.all(
      [...this.pods.values()].map((e) => {
        e.deleted = true;
        if (e.retry) clearTimeout(e.retry);
        return this.enqueue(e, () => this.stopPod(e));
      }),
    );
    this.pods.clear();
  }
}
