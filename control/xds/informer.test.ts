import t from 'tap';
import { silentLogger } from '../../lib/telemetry/log.js';
import { StoreError, type ClusterStore, type KubeObject, type WatchOptions } from '../../lib/store/types.js';
import { MemoryStore } from '../../lib/store/memory-store.js';
import { Informer, onlyStatusChanged, type InformerEvent } from './informer.js';

const POD = { apiVersion: 'v1', kind: 'Pod' };
const pod = (name: string, extra: Partial<KubeObject> = {}): KubeObject => ({ ...POD, metadata: { name, namespace: 'ns' }, spec: { nodeName: 'n1' }, ...extra });

t.test('syncs with the initial list, then follows changes', async (t) => {
  const store = new MemoryStore();
  store.load([pod('a'), pod('b')]);
  const inf = new Informer(store, POD, silentLogger());
  const events: string[] = [];
  inf.on((ev) => events.push(`${ev.type} ${ev.object.metadata.name}`));
  inf.start();
  await inf.synced;
  t.ok(inf.hasSynced);
  t.same([...inf.items.keys()].sort(), ['ns/a', 'ns/b']);
  await store.apply(pod('c'));
  await store.delete({ ...POD, namespace: 'ns', name: 'a' });
  await new Promise((r) => setTimeout(r, 10));
  t.same(events, ['ADDED a', 'ADDED b', 'ADDED c', 'DELETED a']);
  inf.close();
});

t.test('an empty kind is synced at once', async (t) => {
  const inf = new Informer(new MemoryStore(), POD, silentLogger()).start();
  await inf.synced;
  t.equal(inf.items.size, 0);
  inf.close();
});

t.test('a failed watch starts over and reconciles deletions it missed', async (t) => {
  const store = new MemoryStore();
  store.load([pod('a'), pod('b')]);
  let fail: ((e: StoreError) => void) | undefined;
  const flaky: ClusterStore = Object.assign(Object.create(store) as ClusterStore, {
    watch: (kind: typeof POD, opts: WatchOptions, on: Parameters<ClusterStore['watch']>[2]) => {
      fail = opts.onError;
      return store.watch(kind, opts, on);
    },
  });
  const inf = new Informer(flaky, POD, silentLogger());
  const events: InformerEvent[] = [];
  inf.on((ev) => events.push(ev));
  inf.start();
  await inf.synced;
  // While the watch is broken, b goes away and c arrives.
  const broken = fail!;
  await store.delete({ ...POD, namespace: 'ns', name: 'b' });
  broken(new StoreError('Gone', 'too old'));
  await store.apply(pod('c'));
  const deadline = Date.now() + 5000;
  while (!(inf.items.has('ns/c') && !inf.items.has('ns/b')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.same([...inf.items.keys()].sort(), ['ns/a', 'ns/c']);
  t.ok(events.some((e) => e.type === 'DELETED' && e.object.metadata.name === 'b'), 'the missed deletion is delivered');
  inf.close();
});

t.test('onlyStatusChanged', async (t) => {
  const a = pod('a', { status: { phase: 'Running' } });
  t.ok(onlyStatusChanged(a, { ...a, metadata: { ...a.metadata, resourceVersion: '9' }, status: { phase: 'Failed' } }));
  t.notOk(onlyStatusChanged(a, { ...a, metadata: { ...a.metadata, labels: { x: 'y' } } }));
  t.notOk(onlyStatusChanged(a, { ...a, spec: { nodeName: 'n2' } }));
});
