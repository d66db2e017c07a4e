// Publishes the CA root where clients look for it, as Istio does: a ConfigMap `istio-ca-root-cert`
// (key `root-cert.pem`) in every namespace, repaired when edited or deleted, and a file for node
// agents that start before they can read the store.
import path from 'node:path';
import type { Logger } from '../../lib/telemetry/log.js';
import type { ClusterStore, KubeObject } from '../../lib/store/types.js';
import { readIfExists, writeFileAtomic } from '../../lib/sys/atomic-files.js';
import type { Informer } from '../xds/informer.js';

export const ROOT_CONFIGMAP = 'istio-ca-root-cert';
export const ROOT_CERT_KEY = 'root-cert.pem';
export const ROOT_CERT_FILE = 'root-cert.pem';

/** The ConfigMap for one namespace. Pure. */
export function rootConfigMap(namespace: string, rootPem: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: ROOT_CONFIGMAP, namespace, labels: { 'istio.io/config': 'true' } },
    data: { [ROOT_CERT_KEY]: rootPem },
  };
}

/** True when the ConfigMap already holds this root. Pure. */
export function holdsRoot(cm: KubeObject | undefined, rootPem: string): boolean {
  const data = cm?.data as Record<string, unknown> | undefined;
  return data?.[ROOT_CERT_KEY] === rootPem;
}

/** Writes `<caDir>/root-cert.pem` (0644) unless it already holds `rootPem`; returns its path. */
export async function writeRootCertFile(caDir: string, rootPem: string): Promise<string> {
  const file = path.join(caDir, ROOT_CERT_FILE);
  if ((await readIfExists(file)) !== rootPem) await writeFileAtomic(file, rootPem, 0o644);
  return file;
}

export class RootCertPublisher {
  private readonly pending = new Set<string>();
  private readonly unsubscribe: Array<() => void> = [];
  private inflight: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly store: ClusterStore,
    private readonly namespaces: Informer,
    private readonly configMaps: Informer,
    private readonly rootPem: string,
    private readonly log: Logger,
  ) {}

  /** Publishes to every namespace now, then follows namespace and ConfigMap changes. */
  start(): void {
    for (const ns of this.namespaces.items.values()) this.schedule(ns.metadata.name);
    this.unsubscribe.push(
      this.namespaces.on((ev) => {
        if (ev.type !== 'DELETED') this.schedule(ev.object.metadata.name);
      }),
      this.configMaps.on((ev) => {
        const ns = ev.object.metadata.namespace;
        if (ev.object.metadata.name === ROOT_CONFIGMAP && ns && (ev.type === 'DELETED' || !holdsRoot(ev.object, this.rootPem))) this.schedule(ns);
      }),
    );
  }

  private schedule(namespace: string): void {
    if (this.closed || this.pending.has(namespace)) return;
    this.pending.add(namespace);
    this.inflight = this.inflight.then(() => this.ensure(namespace));
  }

  private async ensure(namespace: string): Promise<void> {
    this.pending.delete(namespace);
    if (this.closed) return;
    const ns = this.namespaces.items.get(`/${namespace}`);
    if (!ns || ns.metadata.deletionTimestamp) return;
    if (holdsRoot(this.configMaps.items.get(`${namespace}/${ROOT_CONFIGMAP}`), this.rootPem)) return;
    try {
      await this.store.apply(rootConfigMap(namespace, this.rootPem));
      this.log.info({ namespace, configMap: ROOT_CONFIGMAP }, 'published the CA root');
    } catch (err) {
      this.log.warn({ namespace, err: (err as Error).message }, `publishing ConfigMap ${ROOT_CONFIGMAP} failed; retrying in 5 s`);
      setTimeout(() => this.schedule(namespace), 5000).unref();
    }
  }

  /** Resolves once the queued writes are done (tests). */
  idle(): Promise<void> {
    return this.inflight;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const u of this.unsubscribe) u();
    return this.inflight;
  }
}
