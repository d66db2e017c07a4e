// The node agent's state and its two primitives, enrol and unenrol, each all-or-nothing: a pod
// ends up either fully in ambient (rules in its netns, probe SNAT, ztunnel's ack, annotation
// `enabled`) or not at all. Callers hold the pod's lock (agent.queue). The annotation is written
// `pending` before anything else happens to the pod, so that an agent that dies half way finds
// the pod again on restart (controller.ts) and finishes or undoes the job.
import { existsSync } from 'node:fs';
import { POD, type Pod } from '../../lib/k8s/types.js';
import { StoreError, type ClusterStore } from '../../lib/store/types.js';
import type { Logger } from '../../lib/telemetry/log.js';
import type { ZdsPod } from '../../lib/zds/index.js';
import { podKey, redirectOptionsFor, REDIRECTION_ANNOTATION, serviceAccountOf, type EnrolPolicy, type RedirectionState } from './enrol.js';
import { EnrolError, type FailureReason } from './errors.js';
import type { AgentMetrics, Source } from './metrics.js';
import { KeyedQueue } from './queue.js';
import type { CheckResult } from './rules/redirect.js';
import type { RedirectOptions } from './rules/options.js';

/** What the agent needs of PodRedirector, ProbeSnat and ZdsServer (tests pass fakes). */
export interface RedirectPort {
  apply(netns: string, options?: RedirectOptions): Promise<void>;
  remove(netns: string): Promise<void>;
  check(netns: string, options?: RedirectOptions): Promise<CheckResult>;
}
export interface ProbePort {
  addPod(ip: string, uid: string): Promise<void>;
  removePod(ip: string): Promise<void>;
  sync(desired: ReadonlyMap<string, string>): Promise<unknown>;
}
export interface ZdsPort {
  add(pod: ZdsPod): Promise<void>;
  del(uid: string): Promise<void>;
  setPods(pods: Iterable<ZdsPod>): void;
}

export interface AgentSettings extends EnrolPolicy {
  /** DNS capture for pods without the annotation (Istio's REDIRECT_DNS). */
  dnsCapture: boolean;
  /** The probe SNAT handles IPv6 too; without it v6 addresses are left out of the set. */
  probeIpv6: boolean;
}

export interface AgentDeps {
  store: ClusterStore;
  redirector: RedirectPort;
  probe: ProbePort;
  zds: ZdsPort;
  metrics: AgentMetrics;
  log: Logger;
  settings: AgentSettings;
}

export interface EnrolledPod {
  key: string;
  uid: string;
  namespace: string;
  name: string;
  serviceAccount: string;
  netnsPath: string;
  ips: string[];
  options: RedirectOptions;
  state: RedirectionState;
  since: string;
}

export class NodeAgent {
  /** Serialises everything done to one pod (key `namespace/name`). */
  readonly queue = new KeyedQueue();
  readonly settings: AgentSettings;
  private readonly pods = new Map<string, EnrolledPod>();
  private readonly log: Logger;

  constructor(private readonly d: AgentDeps) {
    this.settings = d.settings;
    this.log = d.log;
    this.updateGauge();
  }

  get(key: string): EnrolledPod | undefined {
    return this.pods.get(key);
  }

  list(): EnrolledPod[] {
    return [...this.pods.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  /** Brings a pod into ambient; on any failure undoes what it did and throws an EnrolError. */
  async enrol(pod: Pod, netnsPath: string, ips: string[], source: Source): Promise<EnrolledPod> {
    const t0 = performance.now();
    const key = podKey(pod.metadata.namespace, pod.metadata.name);
    const uid = pod.metadata.uid;
    if (!uid) throw this.fail('enrol', new EnrolError('invalid', `pod ${key} has no metadata.uid`, false));
    let options: RedirectOptions;
    try {
      options = redirectOptionsFor(pod, ips, { dnsCapture: this.settings.dnsCapture });
    } catch (e) {
      throw this.fail('enrol', new EnrolError('bad-annotation', (e as Error).message, false));
    }
    if (!existsSync(netnsPath)) {
      throw this.fail('enrol', new EnrolError('netns-missing', `network namespace ${netnsPath} of pod ${key} does not exist; is the pod still running?`, false));
    }
    const entry: EnrolledPod = {
      key, uid, namespace: pod.metadata.namespace, name: pod.metadata.name, serviceAccount: serviceAccountOf(pod),
      netnsPath, ips, options, state: 'pending', since: new Date().toISOString(),
    };
    this.pods.set(key, entry);
    this.updateGauge();
    let stage: FailureReason = 'store';
    try {
      await this.annotate(entry, 'pending');
      stage = 'rules';
      await this.rules('apply', () => this.d.redirector.apply(netnsPath, options));
      stage = 'probe-snat';
      for (const ip of this.probeIps(ips)) await this.d.probe.addPod(ip, uid);
      stage = 'ztunnel-error';
      await this.d.zds.add(toZds(entry));
      stage = 'store';
      entry.state = 'enabled';
      await this.annotate(entry, 'enabled');
    } catch (e) {
      const err = EnrolError.from(e, stage, key);
      const undone = await this.undo(entry, stage);
      if (!undone) err.message += '; undoing it failed too, the agent will retry';
      throw this.fail('enrol', err);
    }
    this.updateGauge();
    const seconds = (performance.now() - t0) / 1000;
    this.d.metrics.enrolSeconds.observe({ source }, seconds);
    this.d.metrics.enrolments.inc({ source });
    this.log.info({ pod: key, uid, netns: netnsPath, ips, source, ms: Math.round(seconds * 1000) }, 'pod enrolled in ambient');
    return entry;
  }

  /** Takes a pod out of ambient: rules, probe SNAT entry, ztunnel, annotation (last). */
  async unenrol(entry: EnrolledPod, reason: string, podStillExists: boolean): Promise<void> {
    // Rules go first: until ztunnel drops the pod its listeners are harmless, the reverse is not.
    if (existsSync(entry.netnsPath)) {
      try {
        await this.rules('remove', () => this.d.redirector.remove(entry.netnsPath));
      } catch (e) {
        throw this.fail('unenrol', new EnrolError('rules', `cannot remove the redirection of pod ${entry.key} from ${entry.netnsPath}: ${(e as Error).message}`, true));
      }
    }
    for (const ip of this.probeIps(entry.ips)) {
      await this.d.probe.removePod(ip).catch((e: Error) => this.softFail('unenrol', 'probe-snat', entry.key, e));
    }
    this.pods.delete(entry.key);
    this.updateGauge();
    await this.d.zds.del(entry.uid).catch((e: Error) => this.softFail('unenrol', EnrolError.from(e, 'ztunnel-error', entry.key).reason, entry.key, e));
    this.syncZds();
    if (podStillExists) await this.annotate(entry, null);
    this.d.metrics.unenrolments.inc({ reason });
    this.log.info({ pod: entry.key, uid: entry.uid, reason }, 'pod removed from ambient');
  }

  /** At start: takes over a pod annotated `enabled`, re-applying its rules unless they are all there. */
  async adopt(pod: Pod, netnsPath: string, ips: string[]): Promise<'kept' | 'repaired'> {
    const key = podKey(pod.metadata.namespace, pod.metadata.name);
    const options = redirectOptionsFor(pod, ips, { dnsCapture: this.settings.dnsCapture });
    const check = await this.d.redirector.check(netnsPath, options);
    let outcome: 'kept' | 'repaired' = 'kept';
    if (check.state !== 'present') {
      this.log.warn({ pod: key, state: check.state, missing: check.missing, extra: check.extra }, 'enrolled pod found without its full redirection; re-applying');
      await this.rules('apply', () => this.d.redirector.apply(netnsPath, options));
      this.d.metrics.repaired.inc();
      outcome = 'repaired';
    }
    this.pods.set(key, {
      key, uid: pod.metadata.uid!, namespace: pod.metadata.namespace, name: pod.metadata.name, serviceAccount: serviceAccountOf(pod),
      netnsPath, ips, options, state: 'enabled', since: new Date().toISOString(),
    });
    this.d.metrics.enrolments.inc({ source: 'restart' });
    this.updateGauge();
    return outcome;
  }

  /** Keeps an enrolled pod as it should be: annotation `enabled`, rules matching its annotations. */
  async refresh(entry: EnrolledPod, pod: Pod): Promise<void> {
    if (pod.metadata.annotations?.[REDIRECTION_ANNOTATION] !== entry.state) await this.annotate(entry, entry.state);
    const options = redirectOptionsFor(pod, entry.ips, { dnsCapture: this.settings.dnsCapture });
    if (JSON.stringify(options) !== JSON.stringify(entry.options)) {
      this.log.info({ pod: entry.key, options }, 'redirection variants changed; re-applying');
      await this.rules('apply', () => this.d.redirector.apply(entry.netnsPath, options));
      entry.options = options;
    }
  }

  /** A pod the agent does not hold but that carries our annotation (and maybe rules): clears both. */
  async cleanStale(pod: Pod, netnsPath: string | undefined, ips: string[]): Promise<void> {
    const key = podKey(pod.metadata.namespace, pod.metadata.name);
    if (netnsPath && existsSync(netnsPath)) await this.rules('remove', () => this.d.redirector.remove(netnsPath));
    for (const ip of this.probeIps(ips)) await this.d.probe.removePod(ip).catch((e: Error) => this.softFail('unenrol', 'probe-snat', key, e));
    await this.annotate({ key, namespace: pod.metadata.namespace, name: pod.metadata.name }, null);
    this.log.info({ pod: key }, 'cleared a stale ambient annotation');
  }

  /** Whether the pod's redirection is all there (CNI CHECK). */
  checkRules(entry: EnrolledPod): Promise<CheckResult> {
    return this.d.redirector.check(entry.netnsPath, entry.options);
  }

  /** Makes the probe SNAT set hold exactly the enrolled pods' addresses. */
  async syncProbe(): Promise<void> {
    const desired = new Map<string, string>();
    for (const p of this.pods.values()) for (const ip of this.probeIps(p.ips)) desired.set(ip, p.uid);
    await this.d.probe.sync(desired);
  }

  /** What a (re)connecting ztunnel gets as its snapshot: every pod we hold, pending ones too. */
  syncZds(): void {
    this.d.zds.setPods([...this.pods.values()].map(toZds));
  }

  private probeIps(ips: readonly string[]): string[] {
    return this.settings.probeIpv6 ? [...ips] : ips.filter((ip) => !ip.includes(':'));
  }

  /** Best effort, in reverse order. False when the rules could not be removed from a live netns. */
  private async undo(entry: EnrolledPod, stage: FailureReason): Promise<boolean> {
    let clean = true;
    if (existsSync(entry.netnsPath)) {
      await this.rules('remove', () => this.d.redirector.remove(entry.netnsPath)).catch((e: Error) => {
        clean = false;
        this.log.error({ pod: entry.key, err: e.message }, 'cannot undo the redirection of a pod that failed to enrol');
      });
    }
    for (const ip of this.probeIps(entry.ips)) await this.d.probe.removePod(ip).catch(() => undefined);
    this.pods.delete(entry.key);
    this.updateGauge();
    // ztunnel may have taken the pod even if its ack got lost (timeout), and retries a NACKed one.
    if (stage.startsWith('ztunnel') || entry.state === 'enabled') await this.d.zds.del(entry.uid).catch(() => undefined);
    this.syncZds();
    // Keep `pending` when rules may be left: it is how the next reconcile (or restart) finds them.
    if (clean) await this.annotate(entry, null).catch(() => undefined);
    return clean;
  }

  private async annotate(p: Pick<EnrolledPod, 'key' | 'namespace' | 'name'>, value: RedirectionState | null): Promise<void> {
    try {
      await this.d.store.patch({ ...POD, namespace: p.namespace, name: p.name }, { metadata: { annotations: { [REDIRECTION_ANNOTATION]: value } } });
    } catch (e) {
      if (value === null && e instanceof StoreError && e.code === 'NotFound') return;
      throw new EnrolError('store', `cannot ${value ? `annotate pod ${p.key} ${REDIRECTION_ANNOTATION}=${value}` : `remove ${REDIRECTION_ANNOTATION} from pod ${p.key}`}: ${(e as Error).message}`, true);
    }
  }

  private async rules(operation: 'apply' | 'remove', fn: () => Promise<void>): Promise<void> {
    const end = this.d.metrics.ruleSeconds.startTimer({ operation });
    await fn();
    end();
  }

  private fail(operation: 'enrol' | 'unenrol', err: EnrolError): EnrolError {
    this.d.metrics.failures.inc({ operation, reason: err.reason });
    return err;
  }

  private softFail(operation: 'enrol' | 'unenrol', reason: FailureReason, key: string, e: Error): void {
    this.d.metrics.failures.inc({ operation, reason });
    this.log.warn({ pod: key, reason, err: e.message }, `${operation}: a step failed; carrying on`);
  }

  private updateGauge(): void {
    let enabled = 0;
    for (const p of this.pods.values()) if (p.state === 'enabled') enabled++;
    this.d.metrics.enrolled.set({ state: 'enabled' }, enabled);
    this.d.metrics.enrolled.set({ state: 'pending' }, this.pods.size - enabled);
  }
}

export function toZds(p: EnrolledPod): ZdsPod {
  return { uid: p.uid, name: p.name, namespace: p.namespace, serviceAccount: p.serviceAccount, netnsPath: p.netnsPath };
}
