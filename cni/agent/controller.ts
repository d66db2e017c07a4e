// Keeps the node's pods as the cluster says they should be, level-triggered: every Pod or
// Namespace change queues a reconcile of the pods it concerns, and a reconcile reads the current
// objects and converges (enrol a running pod live, unenrol, clean up after a pod that ended).
// `recover` is the start-up half: it takes over the pods a previous agent enrolled.
import { existsSync } from 'node:fs';
import { NAMESPACE, POD, type Namespace, type Pod } from '../../lib/k8s/types.js';
import type { ClusterStore, StoreError, Watch } from '../../lib/store/types.js';
import type { Logger } from '../../lib/telemetry/log.js';
import type { NodeAgent } from './agent.js';
import { decideEnrolment, podIps, podKey, podNetnsPath, REDIRECTION_ANNOTATION, redirectionState } from './enrol.js';
import { EnrolError } from './errors.js';
import type { AgentMetrics } from './metrics.js';
import { Reconciler, type RetryPolicy } from './queue.js';

export interface ControllerDeps {
  agent: NodeAgent;
  store: ClusterStore;
  metrics: AgentMetrics;
  log: Logger;
  retry?: RetryPolicy;
  /**
   * The netns of a running pod the agent learns of from the cluster rather than a CNI ADD, when
   * no `ambit.dev/netns` annotation names it (Kubernetes: netns-finder.ts).
   */
  findNetns?: (podUid: string) => Promise<string | undefined>;
}

export interface RecoveryReport {
  /** Pods annotated `enabled` whose rules were all there. */
  kept: string[];
  /** …whose rules were missing or partial, and were re-applied. */
  repaired: string[];
  /** Pods left to the first reconcile (pending, no longer wanted, gone, or failing to adopt). */
  deferred: string[];
}

const WATCH_RETRY_MS = 1000;

export class PodController {
  readonly reconciler: Reconciler;
  /** namespace → names of this node's pods, from the watch: what a namespace change concerns. */
  private readonly index = new Map<string, Set<string>>();
  private watches: Watch[] = [];
  private timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly node: string;
  /** key → fingerprint of the pod as last seen by the watch. */
  private readonly seen = new Map<string, string>();

  /** Only this node's pods, selected by the store (on an API server: not every pod of the cluster to every node). */
  private readonly ownNode: Record<string, string>;

  constructor(private readonly d: ControllerDeps) {
    this.node = d.agent.settings.node;
    this.ownNode = { 'spec.nodeName': this.node };
    this.reconciler = new Reconciler(
      d.agent.queue,
      (key) => this.reconcile(key),
      (key, err, retryInMs) => d.log.warn({ pod: key, err: err.message, retryInMs }, 'reconcile failed; will retry'),
      d.retry,
    );
  }

  /**
   * Before ZDS and CNI serve: adopts the pods annotated `enabled` that still belong in ambient,
   * checking (and repairing) their rules, and makes the probe SNAT set match. Everything else is
   * left to the reconciles that `start` queues.
   */
  async recover(): Promise<RecoveryReport> {
    const report: RecoveryReport = { kept: [], repaired: [], deferred: [] };
    const pods = (await this.d.store.list<Pod>(POD, { fieldSelector: this.ownNode })).filter((p) => p.spec?.nodeName === this.node);
    const namespaces = new Map((await this.d.store.list<Namespace>(NAMESPACE)).map((n) => [n.metadata.name, n]));
    for (const pod of pods) {
      this.indexPod(pod, true);
      const state = redirectionState(pod);
      if (!state) continue;
      const key = podKey(pod.metadata.namespace, pod.metadata.name);
      const netns = podNetnsPath(pod);
      const wanted = decideEnrolment(pod, namespaces.get(pod.metadata.namespace), this.d.agent.settings).enrol;
      if (state !== 'enabled' || !wanted || !netns || !existsSync(netns) || !pod.metadata.uid) {
        report.deferred.push(key);
        continue;
      }
      try {
        const outcome = await this.d.agent.queue.run(key, () => this.d.agent.adopt(pod, netns, podIps(pod)));
        report[outcome === 'kept' ? 'kept' : 'repaired'].push(key);
      } catch (e) {
        this.d.metrics.failures.inc({ operation: 'repair', reason: 'rules' });
        this.d.log.warn({ pod: key, err: (e as Error).message }, 'cannot take over an enrolled pod; the reconcile will retry');
        report.deferred.push(key);
      }
    }
    await this.d.agent.syncProbe();
    this.d.agent.syncZds();
    this.d.log.info({ kept: report.kept.length, repaired: report.repaired, deferred: report.deferred }, 'recovered the enrolled pods of this node');
    return report;
  }

  /** Watches Pods and Namespaces; the initial events queue a reconcile of every pod of this node. */
  start(): void {
    this.watchKind('Pod', () =>
      this.d.store.watch<Pod>(POD, { fieldSelector: this.ownNode, onError: (e) => this.rewatch('Pod', e) }, (ev) => {
        const pod = ev.object;
        const key = podKey(pod.metadata.namespace, pod.metadata.name);
        const mine = pod.spec?.nodeName === this.node;
        if (mine) this.indexPod(pod, ev.type !== 'DELETED');
        if (!mine && !this.d.agent.get(key)) return;
        // Our own annotation writes and the kubelet's status updates change nothing we decide on.
        const print = ev.type === 'DELETED' ? 'deleted' : fingerprint(pod);
        const unchanged = this.seen.get(key) === print && (pod.metadata.annotations?.[REDIRECTION_ANNOTATION] ?? 'none') === (this.d.agent.get(key)?.state ?? 'none');
        if (ev.type === 'DELETED') this.seen.delete(key);
        else this.seen.set(key, print);
        if (!unchanged) this.reconciler.schedule(key);
      }),
    );
    this.watchKind('Namespace', () =>
      this.d.store.watch<Namespace>(NAMESPACE, { onError: (e) => this.rewatch('Namespace', e) }, (ev) => {
        for (const name of this.index.get(ev.object.metadata.name) ?? []) this.reconciler.schedule(podKey(ev.object.metadata.name, name));
      }),
    );
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watches) w.close();
    this.watches = [];
    for (const t of this.timers) clearTimeout(t);
    this.reconciler.stop();
  }

  /** Converges one pod (key `namespace/name`) to what the cluster says. Throws to be retried. */
  async reconcile(key: string): Promise<void> {
    const { agent, store } = this.d;
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const found = await store.get<Pod>({ ...POD, namespace, name });
    const pod = found?.spec?.nodeName === this.node ? found : undefined;
    let cur = agent.get(key);
    if (cur && (!pod || pod.metadata.uid !== cur.uid)) {
      await agent.unenrol(cur, pod ? 'replaced' : 'deleted', pod !== undefined);
      cur = undefined;
    }
    if (!pod) {
      this.reconciler.forget(key);
      return;
    }
    const ns = await store.get<Namespace>({ ...NAMESPACE, name: namespace });
    const decision = decideEnrolment(pod, ns, agent.settings);
    let netns = cur?.netnsPath ?? podNetnsPath(pod);
    if (!netns && decision.enrol && pod.metadata.uid && this.d.findNetns) netns = await this.d.findNetns(pod.metadata.uid);
    if (!decision.enrol) {
      if (cur) await agent.unenrol(cur, decision.reason, true);
      else if (redirectionState(pod)) await agent.cleanStale(pod, netns, podIps(pod));
      return;
    }
    if (cur) {
      await agent.refresh(cur, pod);
      return;
    }
    // Not started yet (its CNI ADD will enrol it) or gone: nothing to redirect.
    if (!netns || !existsSync(netns)) {
      if (redirectionState(pod)) await agent.cleanStale(pod, undefined, []);
      return;
    }
    const ips = podIps(pod);
    if (ips.length === 0) return; // the kubelet writes the address with the netns; its event follows
    try {
      await agent.enrol(pod, netns, ips, 'live');
    } catch (e) {
      // Not worth retrying until the pod or its namespace changes.
      if (e instanceof EnrolError && (e.reason === 'bad-annotation' || e.reason === 'invalid')) {
        this.d.log.warn({ pod: key, err: e.message }, 'pod not enrolled');
        return;
      }
      throw e;
    }
  }

  private indexPod(pod: Pod, present: boolean): void {
    const ns = pod.metadata.namespace;
    let names = this.index.get(ns);
    if (present) {
      if (!names) this.index.set(ns, (names = new Set()));
      names.add(pod.metadata.name);
    } else if (names) {
      names.delete(pod.metadata.name);
      if (names.size === 0) this.index.delete(ns);
    }
  }

  private readonly starters = new Map<string, () => Watch>();

  private watchKind(kind: string, open: () => Watch): void {
    this.starters.set(kind, open);
    this.watches.push(open());
  }

  /** A watch that failed (e.g. Gone after a long pause) starts over; everything we hold is re-checked. */
  private rewatch(kind: string, err: StoreError): void {
    if (this.stopped) return;
    this.d.log.warn({ kind, err: err.message }, 'watch failed; starting over');
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.stopped) return;
      this.watches.push(this.starters.get(kind)!());
      for (const p of this.d.agent.list()) this.reconciler.schedule(p.key);
    }, WATCH_RETRY_MS);
    this.timers.add(t);
  }
}

/** What decisions depend on: identity, placement, labels, annotations other than ours, phase, addresses, shape. */
export function fingerprint(pod: Pod): string {
  const { [REDIRECTION_ANNOTATION]: _ours, ...annotations } = pod.metadata.annotations ?? {};
  return JSON.stringify([
    pod.metadata.uid, pod.spec?.nodeName, pod.spec?.hostNetwork, (pod.spec?.containers ?? []).map((c) => c?.name),
    pod.metadata.labels ?? {}, annotations, pod.status?.phase, podIps(pod),
  ]);
}
