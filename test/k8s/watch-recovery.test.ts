/**
 * Tier 4: watches of the Kubernetes back end across what breaks them on a real control plane —
 * the apiserver restarting (while a second apiserver on the same etcd keeps changing objects) and
 * resourceVersions expiring (410 Gone after etcd is compacted). The watcher's view, built from
 * its events alone, must converge to exactly what the server lists, and the events must be
 * consistent: never ADDED for what it knows, DELETED for what it does not, or MODIFIED without a
 * new resourceVersion.
 */
import t, { type Test } from 'tap';
import { KubeStore } from '../../lib/store/kube.js';
import type { KubeWatch } from '../../lib/store/kube-watch.js';
import { StoreError, type KubeObject, type WatchEvent } from '../../lib/store/types.js';
import { KubeConfig } from '@kubernetes/client-node';
import { startCluster } from './testkit.js';

const CM = { apiVersion: 'v1', kind: 'ConfigMap' };
const NS = { apiVersion: 'v1', kind: 'Namespace' };

// No controller manager: it would only add noise (and restarts) to what these tests watch.
const cluster = await startCluster(t, { controllerManager: false });
const backoff = { initialMs: 100, maxMs: 1_000, multiplier: 2, jitter: 0.2 };

function openOn(kubeconfig: string): KubeStore {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const s = new KubeStore(kc, { backoff });
  t.teardown(() => s.close());
  return s;
}

/** Folds events into a view, recording every event that contradicts what the view already holds. */
class View {
  readonly objects = new Map<string, string>();
  readonly contradictions: string[] = [];
  readonly events: WatchEvent[] = [];
  readonly push = (ev: WatchEvent): void => {
    this.events.push(ev);
    const { name, resourceVersion } = ev.object.metadata;
    const rv = resourceVersion ?? '';
    const known = this.objects.get(name);
    if (ev.type === 'ADDED' && known !== undefined) this.contradictions.push(`ADDED ${name}@${rv}, already known at ${known}`);
    if (ev.type === 'MODIFIED' && known === undefined) this.contradictions.push(`MODIFIED ${name}@${rv}, not known`);
    if (ev.type === 'MODIFIED' && known === rv) this.contradictions.push(`MODIFIED ${name}@${rv} repeats its resourceVersion`);
    if (ev.type === 'DELETED' && known === undefined) this.contradictions.push(`DELETED ${name}, not known`);
    if (ev.type === 'DELETED') this.objects.delete(name);
    else this.objects.set(name, rv);
  };
}

function snapshot(objs: KubeObject[]): Map<string, string> {
  return new Map(objs.map((o) => [o.metadata.name, o.metadata.resourceVersion ?? '']));
}

/** Waits until the view equals the server's list (names and resourceVersions). */
async function converges(t: Test, s: KubeStore, view: View, namespace: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let want = new Map<string, string>();
  while (Date.now() < deadline) {
    want = snapshot(await s.list(CM, { namespace }));
    if (want.size === view.objects.size && [...want].every(([k, v]) => view.objects.get(k) === v)) {
      t.pass(`the watcher's view equals the list (${want.size} objects)`);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  t.same(Object.fromEntries(view.objects), Object.fromEntries(want), "the watcher's view equals the list");
}

const cm = (name: string, namespace: string, v = '1'): KubeObject => ({ ...CM, metadata: { name, namespace }, data: { v } });

t.test('a watch survives an apiserver restart while another apiserver changes objects', async (t) => {
  const main = openOn(cluster.kubeconfig);
  const ns = 'restart';
  await main.create({ ...NS, metadata: { name: ns } });
  for (const n of ['keep', 'change', 'remove']) await main.create(cm(n, ns));
  const view = new View();
  const w: KubeWatch = main.watch(CM, { namespace: ns }, view.push);
  await converges(t, main, view, ns);
  const second = await cluster.addApiserver();
  const other = openOn(second.kubeconfig);

  const t0 = performance.now();
  await cluster.stopApiserver();
  await other.create(cm('added-while-down', ns));
  await other.patch({ ...CM, namespace: ns, name: 'change' }, { data: { v: '2' } });
  await other.delete({ ...CM, namespace: ns, name: 'remove' });
  await other.create(cm('short-lived', ns));
  await other.delete({ ...CM, namespace: ns, name: 'short-lived' });
  await cluster.startApiserver();
  t.comment(`apiserver down and up again in ${Math.round(performance.now() - t0)} ms`);
  await main.create(cm('added-after', ns));
  await main.patch({ ...CM, namespace: ns, name: 'keep' }, { data: { v: '3' } });

  await converges(t, main, view, ns);
  t.same(view.contradictions, [], 'no event repeats or contradicts what the watcher knew');
  t.ok(w.stats.streams >= 2, `the stream was re-opened (${JSON.stringify(w.stats)})`);
  t.comment(`watch stats: ${JSON.stringify(w.stats)}`);
  w.close();
  await second.proc.stop();
});

t.test('410 Gone after etcd compaction: the informer lists again and reports only the difference', async (t) => {
  // Watched through an apiserver without a watch cache, whose watches come from etcd: there a
  // compacted resourceVersion is Gone. (The watch cache answers an old one with current objects.)
  const uncached = await cluster.addApiserver({ watchCache: false });
  const main = openOn(uncached.kubeconfig);
  const other = openOn(cluster.kubeconfig);
  const ns = 'gone';
  await main.create({ ...NS, metadata: { name: ns } });
  for (let i = 0; i < 5; i++) await main.create(cm(`o${i}`, ns));
  const view = new View();
  const w = main.watch(CM, { namespace: ns }, view.push);
  await converges(t, main, view, ns);
  const before = view.events.length;
  const listed = await main.list(CM, { namespace: ns });

  await cluster.stopApiserver(uncached);
  await other.patch({ ...CM, namespace: ns, name: 'o1' }, { data: { v: '2' } });
  await other.delete({ ...CM, namespace: ns, name: 'o2' });
  await other.create(cm('o5', ns));
  const revision = await cluster.compactEtcd();
  t.comment(`etcd compacted at revision ${revision}`);
  await cluster.startApiserver(uncached);

  await converges(t, main, view, ns);
  t.ok(w.stats.gone >= 1, `the resumed watch got 410 Gone (${JSON.stringify(w.stats)})`);
  t.ok(w.stats.lists >= 2, 'and listed again');
  t.same(view.contradictions, []);
  t.same(
    view.events.slice(before).map((e) => `${e.type} ${e.object.metadata.name}`).sort(),
    ['ADDED o5', 'DELETED o2', 'MODIFIED o1'],
    'only what changed while it was away, once each',
  );

  // A watch from a resourceVersion the server no longer has ends with Gone; the caller lists again.
  const oldRv = listed[0]?.metadata.resourceVersion ?? '1';
  const err = await new Promise<StoreError>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the watch from resourceVersion ${oldRv} did not end within 20 s`)), 20_000);
    main.watch(CM, { namespace: ns, resourceVersion: oldRv, onError: (e) => (clearTimeout(timer), resolve(e)) }, () => undefined);
  });
  t.equal(err.code, 'Gone');
  w.close();
  await uncached.proc.stop();
});
