// The pods ZDS hands to this ztunnel, each with its proxy listening inside the pod's namespace.
// Like Istio's workload manager: add is idempotent (a new netns for a known pod replaces its
// proxy), a failed add is retried every few seconds while the pod stays pending, delete drains.
import { fstatSync } from 'node:fs';
import { closeFd, openNetns } from '../../lib/native/index.js';
import type { Logger } from '../../lib/telemetry/log.js';
import type { ZdsWorkload } from '../../lib/zds/messages.js';
import type { PodInfo, PodProxy, PodProxyStats } from '../proxy/pod-proxy.js';
import { spiffeUri, DEFAULT_SERVICE_ACCOUNT } from '../state/types.js';
import type { ListenerFactory, ListenerSet } from './listeners.js';
import type { PodRegistry } from './zds-client.js';

export interface RegistryOptions {
  /** Makes the proxy of a pod whose namespace is held by `netnsFd` (the composition root's factory). */
  createProxy(info: PodInfo, netnsFd: number): PodProxy;
  listeners: ListenerFactory;
  certs: { prefetch(identity: string): void; forget(identity: string): void };
  trustDomain: string;
  /** How long a deleted pod's live connections may take to finish. */
  drainMs: number;
  /** Retry period of a pod whose proxy could not start (Istio: 5 s). */
  retryMs?: number;
  logger: Logger;
  /** Opens a namespace file (tests may fake it). */
  openNetns?: (path: string) => number;
}

interface Entry {
  info: PodInfo;
  netnsFd: number;
  /** dev:ino of the namespace: the same pod in a new namespace means a new sandbox. */
  nsKey: string;
  proxy: PodProxy;
  listeners: ListenerSet;
  hbone: string;
}

interface Pending {
  info: PodInfo;
  netnsPath: string;
  error: string;
  timer: NodeJS.Timeout;
}

export interface PodStatus {
  uid: string;
  name: string;
  namespace: string;
  identity: string;
  state: 'serving' | 'pending';
  hbone?: string;
  error?: string;
  stats?: PodProxyStats;
}

export class InPodRegistry implements PodRegistry {
  private readonly pods = new Map<string, Entry>();
  private readonly pending = new Map<string, Pending>();
  private readonly draining = new Set<Promise<void>>();
  private snapshotSeen = false;
  private closed = false;

  constructor(private readonly o: RegistryOptions) {}

  /** The first ZDS snapshot arrived and no pod is waiting for its proxy. */
  get ready(): boolean {
    return this.snapshotSeen && this.pending.size === 0;
  }

  async addPod(uid: string, w: ZdsWorkload, netnsPath: string): Promise<void> {
    if (this.closed) throw new Error('ztunnel is shutting down');
    const sa = w.serviceAccount || DEFAULT_SERVICE_ACCOUNT;
    const info: PodInfo = { uid, name: w.name, namespace: w.namespace, serviceAccount: sa, identity: spiffeUri(this.o.trustDomain, w.namespace, sa) };
    this.cancelPending(uid);
    try {
      await this.start(info, netnsPath);
    } catch (e) {
      const error = (e as Error).message;
      this.o.logger.warn({ uid, pod: `${w.namespace}/${w.name}`, err: error }, 'pod proxy failed to start; retrying');
      this.schedule({ info, netnsPath, error });
      throw e;
    }
  }

  keepPod(uid: string): void {
    if (!this.pods.has(uid) && !this.pending.has(uid)) this.o.logger.warn({ uid }, 'ZDS: asked to keep a pod this ztunnel has no proxy for');
  }

  async delPod(uid: string): Promise<void> {
    this.cancelPending(uid);
    const e = this.pods.get(uid);
    if (!e) return;
    this.pods.delete(uid);
    this.o.logger.info({ uid, pod: `${e.info.namespace}/${e.info.name}` }, 'pod removed; draining its proxy');
    this.retire(e);
    this.forgetIfUnused(e.info.identity);
  }

  snapshotDone(): void {
    this.snapshotSeen = true;
  }

  status(): PodStatus[] {
    const out: PodStatus[] = [];
    for (const [uid, e] of this.pods) out.push({ uid, name: e.info.name, namespace: e.info.namespace, identity: e.info.identity, state: 'serving', hbone: e.hbone, stats: e.proxy.stats() });
    for (const [uid, p] of this.pending) out.push({ uid, name: p.info.name, namespace: p.info.namespace, identity: p.info.identity, state: 'pending', error: p.error });
    return out;
  }

  proxies(): PodProxy[] {
    return [...this.pods.values()].map((e) => e.proxy);
  }

  /** Drains every pod's proxy for up to `drainMs` (ztunnel shutdown). */
  async close(drainMs = this.o.drainMs): Promise<void> {
    this.closed = true;
    for (const uid of [...this.pending.keys()]) this.cancelPending(uid);
    const all = [...this.pods.values()];
    this.pods.clear();
    for (const e of all) this.retire(e, drainMs);
    await Promise.all([...this.draining]);
  }

  // === impl ===

  private async start(info: PodInfo, netnsPath: string): Promise<void> {
    const fd = (this.o.openNetns ?? openNetns)(netnsPath);
    let nsKey: string;
    try {
      const st = fstatSync(fd);
      nsKey = `${st.dev}:${st.ino}`;
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    const existing = this.pods.get(info.uid);
    if (existing && existing.nsKey === nsKey) {
      closeFd(fd);
      return;
    }
    if (existing) {
      this.o.logger.info({ uid: info.uid, pod: `${info.namespace}/${info.name}` }, 'pod has a new network namespace; replacing its proxy');
      this.pods.delete(info.uid);
      this.retire(existing);
    }
    this.o.certs.prefetch(info.identity);
    let listeners: ListenerSet | undefined;
    let proxy: PodProxy | undefined;
    try {
      listeners = await this.o.listeners(fd);
      proxy = this.o.createProxy(info, fd);
      const bound = await proxy.start(listeners);
      const hbone = `${bound.hbone.address}:${bound.hbone.port}`;
      this.pods.set(info.uid, { info, netnsFd: fd, nsKey, proxy, listeners, hbone });
      this.o.logger.info({ uid: info.uid, pod: `${info.namespace}/${info.name}`, identity: info.identity, netns: netnsPath }, 'pod proxy started (15001, 15006, 15008 in the pod namespace)');
    } catch (e) {
      // The proxy first: when its server owns the HBONE fd, that close is the fd's only close (a
      // second close could hit a descriptor number reused meanwhile by another socket).
      await proxy?.close();
      listeners?.close({ hboneAdopted: proxy?.hboneFdAdopted ?? false });
      closeFd(fd);
      this.forgetIfUnused(info.identity);
      throw e;
    }
  }

  private retire(e: Entry, drainMs = this.o.drainMs): void {
    const p = e.proxy
      .drain(drainMs)
      .catch((err: unknown) => this.o.logger.warn({ uid: e.info.uid, err: (err as Error).message }, 'pod proxy drain failed'))
      .finally(() => {
        e.listeners.close({ hboneAdopted: true });
        closeFd(e.netnsFd);
        this.draining.delete(p);
      });
    this.draining.add(p);
  }

  private schedule(p: Omit<Pending, 'timer'>): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.pending.delete(p.info.uid);
      this.start(p.info, p.netnsPath).then(
        () => this.o.logger.info({ uid: p.info.uid }, 'pod proxy started after a retry'),
        (e: unknown) => this.schedule({ ...p, error: (e as Error).message }),
      );
    }, this.o.retryMs ?? 5000);
    timer.unref();
    this.pending.set(p.info.uid, { ...p, timer });
  }

  private cancelPending(uid: string): void {
    const p = this.pending.get(uid);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(uid);
    this.forgetIfUnused(p.info.identity);
  }

  private forgetIfUnused(identity: string): void {
    for (const e of this.pods.values()) if (e.info.identity === identity) return;
    for (const p of this.pending.values()) if (p.info.identity === identity) return;
    this.o.certs.forget(identity);
  }
}
