import { openStore } from '../../../lib/store/index.js';
import type { ClusterStore, Kind, KubeObject, Watch } from '../../../lib/store/types.js';
import { silentLogger, type Logger } from '../../../lib/telemetry/log.js';
import { clusterDataFromKube } from './kube.js';
import { buildSnapshot, type DnsSnapshot, type RecordOptions } from './records.js';
import { ClusterDnsServer, type BoundAddress, type DnsServerOptions } from './server.js';

/**
 * The local cluster's DNS (what CoreDNS is in Kubernetes): Services, Endpoints and Pods from the
 * ClusterStore, served over UDP and TCP. Lists first so that it never answers from an empty set,
 * then watches and rebuilds the whole snapshot after changes settle.
 */

export interface ClusterDnsOptions {
  /** State directory of the File back end; ignored when `store` is given. */
  storeDir?: string;
  /** An open store (then the caller closes it). */
  store?: ClusterStore;
  listen?: { address?: string; port?: number };
  /** Default `cluster.local`. */
  zone?: string;
  /** Seconds; default 5. */
  ttl?: number;
  upstreams?: string[];
  records?: Partial<Omit<RecordOptions, 'zone' | 'ttl' | 'serial'>>;
  server?: Omit<DnsServerOptions, 'address' | 'port' | 'upstreams' | 'log'>;
  log?: Logger;
  /** Default 20 ms. */
  debounceMs?: number;
  /** Full re-list period, a guard against missed watch events; 0 disables. Default 60 s. */
  resyncMs?: number;
}

export interface ClusterDns {
  readonly address: BoundAddress;
  readonly server: ClusterDnsServer;
  snapshot(): DnsSnapshot;
  /** Resolves once every change seen so far is in the served snapshot. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const KINDS = {
  services: { apiVersion: 'v1', kind: 'Service' },
  endpoints: { apiVersion: 'v1', kind: 'Endpoints' },
  pods: { apiVersion: 'v1', kind: 'Pod' },
} as const satisfies Record<string, Kind>;
type KindName = keyof typeof KINDS;

const objKey = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export async function runClusterDns(opts: ClusterDnsOptions): Promise<ClusterDns> {
  const log = opts.log ?? silentLogger();
  if (!opts.store && !opts.storeDir) throw new Error('runClusterDns: give storeDir (the state directory) or store');
  const store = opts.store ?? openStore(opts.storeDir as string);
  const ownStore = !opts.store;
  const cache: Record<KindName, Map<string, KubeObject>> = { services: new Map(), endpoints: new Map(), pods: new Map() };
  const names = Object.keys(KINDS) as KindName[];
  let events = 0;
  let lastProblems = new Set<string>();
  let serial = 0;

  const build = (): DnsSnapshot => {
    const { data, problems } = clusterDataFromKube(cache.services.values(), cache.endpoints.values(), cache.pods.values());
    // SOA serials must grow even when two rebuilds share a second.
    serial = Math.max(serial + 1, Math.floor(Date.now() / 1000));
    const snap = buildSnapshot(data, { ...opts.records, zone: opts.zone, ttl: opts.ttl, serial });
    const now = new Set([...problems, ...snap.problems]);
    // Log each problem once when it appears, not on every rebuild.
    for (const p of now) if (!lastProblems.has(p)) log.warn({ problem: p }, 'object skipped by cluster DNS');
    lastProblems = now;
    return snap;
  };

  const relist = async (): Promise<boolean> => {
    const before = events;
    const lists = await Promise.all(names.map((n) => store.list(KINDS[n])));
    // A watch event during the list may be newer than what the list saw: keep the events.
    if (events !== before) return false;
    names.forEach((n, i) => cache[n] = new Map((lists[i] ?? []).map((o) => [objKey(o), o])));
    return true;
  };

  let server: ClusterDnsServer;
  let address: BoundAddress;
  try {
    await relist();
    server = new ClusterDnsServer(build(), { ...opts.server, ...opts.listen, upstreams: opts.upstreams, log });
    address = await server.listen();
  } catch (err) {
    if (ownStore) await store.close();
    throw err;
  }

  let timer: NodeJS.Timeout | undefined;
  let waiters: Array<() => void> = [];
  const rebuild = (): void => {
    timer = undefined;
    try {
      server.setData(build());
    } catch (err) {
      log.error({ err: (err as Error).message }, 'cluster DNS rebuild failed; still serving the previous records');
    }
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const schedule = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(rebuild, opts.debounceMs ?? 20);
  };

  let closed = false;
  const retries = new Set<NodeJS.Timeout>();
  const watches = {} as Record<KindName, Watch>;
  const startWatch = (n: KindName): Watch =>
    // Without a resourceVersion the watch replays ADDED for what the list already gave: harmless.
    store.watch(
      KINDS[n],
      {
        onError: (err) => {
          log.warn({ kind: KINDS[n].kind, err: err.message }, 'cluster DNS watch failed; re-listing and watching again in 1 s');
          const retry = setTimeout(() => {
            retries.delete(retry);
            if (closed) return;
            watches[n] = startWatch(n);
            relist().then(
              (fresh) => fresh && schedule(),
              (e: unknown) => log.warn({ err: (e as Error).message }, 'cluster DNS re-list failed'),
            );
          }, 1000);
          retries.add(retry);
        },
      },
      (ev) => {
        events++;
        if (ev.type === 'DELETED') cache[n].delete(objKey(ev.object));
        else cache[n].set(objKey(ev.object), ev.object);
        schedule();
      },
    );
  for (const n of names) watches[n] = startWatch(n);
  const resyncMs = opts.resyncMs ?? 60_000;
  const resync =
    resyncMs > 0
      ? setInterval(() => {
          relist().then(
            (fresh) => fresh && schedule(),
            (err: unknown) => log.warn({ err: (err as Error).message }, 'cluster DNS re-list failed'),
          );
        }, resyncMs)
      : undefined;
  resync?.unref();

  return {
    address,
    server,
    snapshot: () => server.data,
    settled: () => (timer ? new Promise<void>((resolve) => waiters.push(resolve)) : Promise.resolve()),
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (resync) clearInterval(resync);
      for (const r of retries) clearTimeout(r);
      for (const n of names) watches[n].close();
      await server.close();
      if (ownStore) await store.close();
      for (const f of waiters) f();
    },
  };
}
