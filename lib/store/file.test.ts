import t, { type Test } from 'tap';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { FileStore } from './file.js';
import { Collector, tempDir } from './testkit.js';
import { StoreError, type KubeObject } from './types.js';

const POD = { apiVersion: 'v1', kind: 'Pod' };
const NS = { apiVersion: 'v1', kind: 'Namespace' };
const CM = { apiVersion: 'v1', kind: 'ConfigMap' };
const AP1 = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy' };
const AP1B1 = { apiVersion: 'security.istio.io/v1beta1', kind: 'AuthorizationPolicy' };

function pod(name: string, labels?: Record<string, string>, namespace = 'demo'): KubeObject {
  return { ...POD, metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec: { containers: [{ name: 'app', image: 'echo' }] } };
}

function open(t: Test, opts: ConstructorParameters<typeof FileStore>[1] = {}, dir?: string): FileStore {
  const d = dir ?? tempDir('store');
  const s = new FileStore(typeof d === 'string' ? d : d.dir, opts);
  t.teardown(async () => {
    await s.close();
    if (typeof d !== 'string') d.remove();
  });
  return s;
}

t.test('create, get, list, delete', async (t) => {
  const s = open(t);
  const created = await s.create(pod('web-1', { app: 'web' }));
  t.match(created.metadata, { name: 'web-1', namespace: 'demo', generation: 1, resourceVersion: '1' });
  t.match(created.metadata.uid, /^[0-9a-f-]{36}$/);
  t.match(created.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.same(await s.get({ ...POD, namespace: 'demo', name: 'web-1' }), created);
  t.equal(await s.get({ ...POD, namespace: 'other', name: 'web-1' }), undefined);
  await t.rejects(s.create(pod('web-1')), { code: 'AlreadyExists', message: 'pods "demo/web-1" already exists' });
  await s.create(pod('web-2'));
  await s.create({ ...NS, metadata: { name: 'demo', namespace: 'ignored' } });
  t.same((await s.list(POD)).map((p) => p.metadata.name), ['web-1', 'web-2']);
  t.same((await s.list(NS)).map((p) => [p.metadata.name, p.metadata.namespace]), [['demo', undefined]], 'cluster-scoped objects have no namespace');
  const deleted = await s.delete({ ...POD, namespace: 'demo', name: 'web-1' });
  t.equal(deleted?.metadata.uid, created.metadata.uid);
  t.equal(deleted?.metadata.resourceVersion, '4', 'a delete is a change with its own rv');
  t.equal(await s.delete({ ...POD, namespace: 'demo', name: 'web-1' }), undefined);
  t.equal(await s.get({ ...POD, namespace: 'demo', name: 'web-1' }), undefined);
  t.equal(await s.currentResourceVersion(), '4');
});

t.test('namespaces default, results are copies', async (t) => {
  const s = open(t);
  const p = await s.create<KubeObject>({ ...POD, metadata: { name: 'p' } });
  t.equal(p.metadata.namespace, 'default');
  t.ok(await s.get({ ...POD, name: 'p' }), 'get without namespace means default');
  p.metadata.labels = { mutated: 'yes' };
  const again = await s.get({ ...POD, name: 'p' });
  t.equal(again?.metadata.labels, undefined, 'mutating a result does not change the store');
});

t.test('resource versions increase across kinds', async (t) => {
  const s = open(t);
  const rvs: number[] = [];
  for (let i = 0; i < 5; i++) {
    rvs.push(Number((await s.create(pod(`p${i}`))).metadata.resourceVersion));
    rvs.push(Number((await s.create<KubeObject>({ ...CM, metadata: { name: `c${i}`, namespace: 'demo' } })).metadata.resourceVersion));
  }
  t.same(rvs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

t.test('apply creates, replaces, keeps identity, bumps generation on spec changes only', async (t) => {
  const s = open(t);
  const a = await s.apply(pod('p', { v: '1' }));
  t.equal(a.metadata.generation, 1);
  await s.patch({ ...POD, namespace: 'demo', name: 'p' }, { status: { phase: 'Running' } });
  const same = await s.apply(pod('p', { v: '1' }));
  t.equal(same.metadata.resourceVersion, '2', 'unchanged apply is not a change');
  t.same(same.status, { phase: 'Running' }, 'status kept when the applied object has none');
  const relabelled = await s.apply(pod('p', { v: '2' }));
  t.equal(relabelled.metadata.generation, 1, 'labels are not spec');
  t.equal(relabelled.metadata.resourceVersion, '3');
  const respec = await s.apply({ ...pod('p', { v: '2' }), spec: { containers: [] } });
  t.equal(respec.metadata.generation, 2);
  t.equal(respec.metadata.uid, a.metadata.uid);
  t.equal(respec.metadata.creationTimestamp, a.metadata.creationTimestamp);
  const withUid = await s.apply<KubeObject>({ ...pod('p', { v: '3' }), metadata: { name: 'p', namespace: 'demo', uid: 'forged', creationTimestamp: '2000-01-01T00:00:00Z' } });
  t.equal(withUid.metadata.uid, a.metadata.uid, 'uid cannot be replaced');
  await t.rejects(s.apply({ ...pod('p'), metadata: { name: 'p', namespace: 'demo', resourceVersion: '1' } }), { code: 'Conflict' });
  const ok = await s.apply({ ...pod('p', { v: '4' }), metadata: { name: 'p', namespace: 'demo', labels: { v: '4' }, resourceVersion: withUid.metadata.resourceVersion } });
  t.same(ok.metadata.labels, { v: '4' }, 'apply with the current resourceVersion succeeds');
});

t.test('merge patches', async (t) => {
  const s = open(t);
  const key = { ...POD, namespace: 'demo', name: 'p' };
  await s.create({ ...pod('p', { app: 'a', tier: 'web' }), spec: { nodeName: 'n1', containers: [{ name: 'a' }, { name: 'b' }] } });
  const table: Array<{ patch: Record<string, unknown>; check: (o: KubeObject) => unknown; want: unknown }> = [
    { patch: { metadata: { labels: { tier: null, env: 'prod' } } }, check: (o) => o.metadata.labels, want: { app: 'a', env: 'prod' } },
    { patch: { spec: { containers: [{ name: 'c' }] } }, check: (o) => o.spec, want: { nodeName: 'n1', containers: [{ name: 'c' }] } },
    { patch: { spec: { nodeName: null } }, check: (o) => o.spec, want: { containers: [{ name: 'c' }] } },
    { patch: { status: { phase: 'Running', podIP: '10.244.1.5' } }, check: (o) => o.status, want: { phase: 'Running', podIP: '10.244.1.5' } },
    { patch: { status: { podIP: null } }, check: (o) => o.status, want: { phase: 'Running' } },
    { patch: { status: null }, check: (o) => o.status, want: undefined },
    { patch: { metadata: { annotations: { a: 'b' } } }, check: (o) => o.metadata.annotations, want: { a: 'b' } },
  ];
  for (const { patch, check, want } of table) t.same(check(await s.patch(key, patch)), want, JSON.stringify(patch));
  const cur = await s.get(key);
  t.equal(cur?.metadata.generation, 3, 'two spec patches bumped generation twice');
  const before = cur?.metadata.resourceVersion;
  t.equal((await s.patch(key, { metadata: { labels: { app: 'a' } } })).metadata.resourceVersion, before, 'no-op patch');
});

t.test('patch errors', async (t) => {
  const s = open(t);
  const key = { ...POD, namespace: 'demo', name: 'p' };
  await t.rejects(s.patch(key, { status: {} }), { code: 'NotFound', message: 'pods "demo/p" not found' });
  const p = await s.create(pod('p'));
  await t.rejects(s.patch(key, { status: { phase: 'x' } }, { resourceVersion: '99' }), { code: 'Conflict', message: /pods "demo\/p" has been modified \(resourceVersion is 1, not 99\)/ });
  await t.rejects(s.patch(key, { metadata: { resourceVersion: '99' } }), { code: 'Conflict' }, 'resourceVersion in the patch is a precondition');
  const ok = await s.patch(key, { status: { phase: 'x' } }, { resourceVersion: p.metadata.resourceVersion });
  t.equal(ok.metadata.resourceVersion, '2');
  await t.rejects(s.patch(key, { metadata: { labels: { n: 1 } } }), { code: 'Invalid', message: /Pod demo\/p: metadata\.labels\.n: must be a string/ });
  await t.rejects(s.patch(key, { metadata: { name: 'q' } }), { code: 'Invalid', message: /metadata\.name: cannot be changed/ });
  await t.rejects(s.patch(key, { metadata: null }), { code: 'Invalid' });
  await t.rejects(s.patch(key, [] as unknown as Record<string, unknown>), { code: 'Invalid' });
  await t.rejects(s.create({ ...POD, metadata: { name: 'Bad_Name' } }), { code: 'Invalid', message: /Pod Bad_Name: metadata\.name: must be a DNS-1123 subdomain/ });
  t.equal(await s.currentResourceVersion(), '2', 'failed writes consume no resource version');
});

t.test('label selectors and namespaces', async (t) => {
  const s = open(t);
  await s.create(pod('a', { app: 'web', tier: 'front' }));
  await s.create(pod('b', { app: 'web', tier: 'back' }));
  await s.create(pod('c', { app: 'db' }, 'other'));
  await s.create(pod('d'));
  const names = async (o: Parameters<FileStore['list']>[1]) => (await s.list(POD, o)).map((p) => p.metadata.name);
  t.same(await names({ labelSelector: { app: 'web' } }), ['a', 'b']);
  t.same(await names({ labelSelector: { app: 'web', tier: 'back' } }), ['b']);
  t.same(await names({ namespace: 'other' }), ['c']);
  t.same(await names({ namespace: 'demo', labelSelector: { app: 'db' } }), []);
  t.same(await names({}), ['a', 'b', 'd', 'c'], 'sorted by namespace then name');
});

t.test('versions of a kind are one resource, served as asked', async (t) => {
  const d = tempDir('store');
  const s = open(t, {}, d.dir);
  t.teardown(d.remove);
  await s.create({ ...AP1B1, metadata: { name: 'deny', namespace: 'demo' }, spec: {} });
  const [asV1] = await s.list(AP1);
  t.equal(asV1?.apiVersion, 'security.istio.io/v1');
  t.equal((await s.get({ ...AP1B1, namespace: 'demo', name: 'deny' }))?.apiVersion, 'security.istio.io/v1beta1');
  await s.checkpoint();
  const file = parse(readFileSync(join(d.dir, 'objects', 'authorizationpolicies.security.istio.io', 'demo', 'deny.yaml'), 'utf8')) as KubeObject;
  t.equal(file.apiVersion, 'security.istio.io/v1', 'stored at the preferred version');
  await t.rejects(s.create({ ...AP1, metadata: { name: 'deny', namespace: 'demo' } }), { code: 'AlreadyExists' });
});

t.test('unknown kinds are stored', async (t) => {
  const s = open(t);
  const w = await s.create<KubeObject>({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 3 } });
  t.equal(w.metadata.namespace, 'default');
  t.same((await s.list({ apiVersion: 'example.com/v1', kind: 'Widget' })).map((o) => o.spec), [{ size: 3 }]);
});

t.test('state persists across opens', async (t) => {
  const d = tempDir('store');
  t.teardown(d.remove);
  const a = new FileStore(d.dir);
  await a.create(pod('p'));
  await a.create(pod('q'));
  await a.delete({ ...POD, namespace: 'demo', name: 'q' });
  await a.close();
  t.ok(existsSync(join(d.dir, 'objects', 'pods', 'demo', 'p.yaml')));
  t.notOk(existsSync(join(d.dir, 'objects', 'pods', 'demo', 'q.yaml')));
  const b = new FileStore(d.dir);
  t.same((await b.list(POD)).map((p) => p.metadata.name), ['p']);
  t.equal((await b.create(pod('r'))).metadata.resourceVersion, '4');
  await b.close();
  await t.rejects(b.list(POD), /closed/);
});

t.test('a removed journal is rebuilt without reusing resource versions', async (t) => {
  const d = tempDir('store');
  t.teardown(d.remove);
  const a = new FileStore(d.dir);
  await a.create(pod('p'));
  await a.patch({ ...POD, namespace: 'demo', name: 'p' }, { status: { phase: 'Running' } });
  await a.close();
  rmSync(join(d.dir, 'journal', 'journal.log'));
  const b = open(t, {}, d.dir);
  t.same((await b.list(POD)).map((p) => p.metadata.resourceVersion), ['2']);
  t.equal((await b.create(pod('q'))).metadata.resourceVersion, '3');
});

t.test('watch: initial ADDED, live events, DELETED', async (t) => {
  const s = open(t);
  await s.create(pod('a', { app: 'web' }));
  await s.create({ ...CM, metadata: { name: 'not-a-pod', namespace: 'demo' } });
  const c = new Collector();
  const w = s.watch(POD, {}, c.push);
  await c.count(1);
  await s.create(pod('b'));
  await s.patch({ ...POD, namespace: 'demo', name: 'a' }, { status: { phase: 'Running' } });
  await s.delete({ ...POD, namespace: 'demo', name: 'b' });
  await c.count(4);
  t.same(c.summary, ['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED b']);
  t.same(c.events.map((e) => e.object.metadata.resourceVersion), ['1', '3', '4', '5']);
  w.close();
  await s.create(pod('c'));
  t.equal(c.events.length, 4, 'no events after close');
});

t.test('watch filters: namespace and label selector transitions', async (t) => {
  const s = open(t);
  await s.create(pod('a', { app: 'web' }));
  await s.create(pod('b', { app: 'db' }));
  await s.create(pod('x', { app: 'web' }, 'other'));
  const c = new Collector();
  s.watch(POD, { namespace: 'demo', labelSelector: { app: 'web' } }, c.push);
  await c.count(1);
  await s.patch({ ...POD, namespace: 'demo', name: 'b' }, { metadata: { labels: { app: 'web' } } });
  await s.patch({ ...POD, namespace: 'demo', name: 'a' }, { metadata: { labels: { app: 'db' } } });
  await s.patch({ ...POD, namespace: 'demo', name: 'a' }, { status: { phase: 'Running' } });
  await s.patch({ ...POD, namespace: 'demo', name: 'b' }, { status: { phase: 'Running' } });
  await s.patch({ ...POD, namespace: 'other', name: 'x' }, { status: { phase: 'Running' } });
  await c.count(4);
  t.same(c.summary, ['ADDED a', 'ADDED b', 'DELETED a', 'MODIFIED b'], 'starts matching: ADDED; stops: DELETED');
});

t.test('watch from a resourceVersion', async (t) => {
  const s = open(t, { compactBytes: 4096, retainBytes: 1024 });
  await s.create(pod('a'));
  const b = await s.create(pod('b'));
  await s.create(pod('c'));
  await s.delete({ ...POD, namespace: 'demo', name: 'a' });
  const c = new Collector();
  s.watch(POD, { resourceVersion: b.metadata.resourceVersion }, c.push);
  await c.count(2);
  await s.create(pod('d'));
  await c.count(3);
  t.same(c.summary, ['ADDED c', 'DELETED a', 'ADDED d'], 'only changes after the version');
  const now = await s.currentResourceVersion();
  const c2 = new Collector();
  s.watch(POD, { resourceVersion: now }, c2.push);
  await s.create(pod('e'));
  await c2.count(1);
  t.same(c2.summary, ['ADDED e']);

  const errors: StoreError[] = [];
  s.watch(POD, { resourceVersion: 'abc', onError: (e) => errors.push(e) }, c.push);
  for (let i = 0; i < 40; i++) await s.patch({ ...POD, namespace: 'demo', name: 'e' }, { status: { n: i, pad: 'x'.repeat(100) } });
  const gone = new Collector();
  s.watch(POD, { resourceVersion: '1', onError: (e) => errors.push(e) }, gone.push);
  const deadline = Date.now() + 10_000;
  while (errors.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  t.match(errors.map((e) => e.code), ['Invalid', 'Gone']);
  t.match(errors[1]?.message, /resourceVersion 1 is older than the history kept/);
  t.equal(gone.events.length, 0);
});

t.test('a second store on the same directory sees changes (like another process)', async (t) => {
  const d = tempDir('store');
  t.teardown(d.remove);
  const a = open(t, {}, d.dir);
  const b = open(t, {}, d.dir);
  const c = new Collector();
  b.watch(POD, {}, c.push);
  await a.create(pod('p'));
  await c.count(1);
  const p = await a.patch({ ...POD, namespace: 'demo', name: 'p' }, { status: { phase: 'Running' } });
  t.same((await b.get({ ...POD, namespace: 'demo', name: 'p' }))?.status, { phase: 'Running' }, 'read-your-writes across stores');
  await b.delete({ ...POD, namespace: 'demo', name: 'p' });
  await c.count(3);
  t.same(c.summary, ['ADDED p', 'MODIFIED p', 'DELETED p']);
  t.equal(c.events[1]?.object.metadata.resourceVersion, p.metadata.resourceVersion);
});

t.test('a watcher that falls behind a compaction relists and sees the differences', async (t) => {
  const d = tempDir('store');
  t.teardown(d.remove);
  const a = open(t, { compactBytes: 2048, retainBytes: 0 }, d.dir);
  const b = open(t, { fsWatch: false, pollIntervalMs: 3_600_000 }, d.dir);
  await a.create(pod('stays'));
  await a.create(pod('changes'));
  await a.create(pod('goes'));
  const c = new Collector();
  b.watch(POD, {}, c.push);
  await c.count(3);
  for (let i = 0; i < 30; i++) await a.patch({ ...POD, namespace: 'demo', name: 'changes' }, { status: { n: i, pad: 'x'.repeat(100) } });
  await a.delete({ ...POD, namespace: 'demo', name: 'goes' });
  await a.create(pod('new'));
  await a.create({ ...CM, metadata: { name: 'cm', namespace: 'demo' }, data: { pad: 'x'.repeat(3000) } }); // forces one more compaction
  t.ok(readFileSync(join(d.dir, 'journal', 'journal.log'), 'utf8').split('\n').length <= 3, 'journal was compacted');
  await b.list(POD); // b catches up now: it missed compacted changes, so it relists
  // Changes still in the file b was reading come first, then the relist's differences.
  await c.until((evs) => evs.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'new'));
  t.same(c.summary.slice(-3).sort(), ['ADDED new', 'DELETED goes', 'MODIFIED changes']);
  const state = new Map<string, string | undefined>();
  for (const e of c.events) {
    if (e.type === 'DELETED') state.delete(e.object.metadata.name);
    else state.set(e.object.metadata.name, e.object.metadata.resourceVersion);
  }
  const listed = await a.list(POD);
  t.same([...state].sort(), listed.map((p) => [p.metadata.name, p.metadata.resourceVersion]), 'replaying the events gives the current state');
  t.same((await b.list(POD)).map((p) => p.metadata.name), ['changes', 'new', 'stays']);
  t.equal(await b.currentResourceVersion(), await a.currentResourceVersion());
  t.equal((await b.create(pod('after'))).metadata.resourceVersion, String(Number(await a.currentResourceVersion())), 'rv continues');
});

t.test('a handler that throws does not stop the watch', async (t) => {
  const s = open(t);
  const c = new Collector();
  s.watch(POD, {}, () => {
    throw new Error('boom');
  });
  s.watch(POD, {}, c.push);
  await s.create(pod('a'));
  await s.create(pod('b'));
  await c.count(2);
  t.pass('second watcher got both');
});

t.test('errors are StoreErrors with codes', async (t) => {
  const s = open(t);
  const err = await s.create({ ...POD, metadata: { name: '' } }).catch((e: unknown) => e);
  t.type(err, StoreError);
  t.equal((err as StoreError).code, 'Invalid');
});

t.test('stored objects are plain JSON, the same in every process', async (t) => {
  const s = open(t);
  const p = await s.create<KubeObject>({ ...pod('p'), spec: { when: new Date(0), gone: undefined } });
  t.same(p.spec, { when: '1970-01-01T00:00:00.000Z' });
  const same = await s.patch({ ...POD, namespace: 'demo', name: 'p' }, { spec: { extra: undefined } });
  t.equal(same.metadata.resourceVersion, p.metadata.resourceVersion, 'a patch of only undefined values changes nothing');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  await t.rejects(s.create<KubeObject>({ ...pod('q'), spec: cyclic }), { code: 'Invalid', message: /Pod demo\/q: cannot be stored as JSON/ });
});

t.test('object files follow the journal: on a timer, on close, and healed after a crash', async (t) => {
  const d = tempDir('store');
  t.teardown(d.remove);
  const file = (name: string) => join(d.dir, 'objects', 'pods', 'demo', `${name}.yaml`);
  const a = open(t, { checkpointIntervalMs: 3_600_000 }, d.dir);
  await a.create(pod('p'));
  await a.create(pod('q'));
  t.notOk(existsSync(file('p')), 'not yet written');
  await a.checkpoint();
  t.ok(existsSync(file('p')) && existsSync(file('q')));
  await a.patch({ ...POD, namespace: 'demo', name: 'p' }, { status: { phase: 'Running' } });
  await a.delete({ ...POD, namespace: 'demo', name: 'q' });
  await a.create(pod('r'));
  // As if `a` had crashed half-way through a checkpoint: q's file is gone, r's not yet written.
  rmSync(file('q'));
  const b = new FileStore(d.dir, { checkpointIntervalMs: 20 });
  const listed = await b.list(POD);
  t.same(listed.map((o) => [o.metadata.name, o.status]), [['p', { phase: 'Running' }], ['r', undefined]], 'files + journal replay give the committed state');
  const deadline = Date.now() + 10_000;
  while (!existsSync(file('r')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.ok(existsSync(file('r')), 'the timer wrote the pending objects');
  t.notOk(existsSync(file('q')));
  t.match(readFileSync(file('p'), 'utf8'), /phase: Running/);
  await b.close();
});

t.test('field selectors: list and watch by a dotted path, as the API server selects spec.nodeName', async (t) => {
  const s = open(t);
  const on = (name: string, node: string): KubeObject => ({ ...pod(name), spec: { nodeName: node, containers: [{ name: 'app', image: 'echo' }] } });
  await s.create(on('a1', 'node-a'));
  await s.create(on('b1', 'node-b'));
  t.same((await s.list(POD, { fieldSelector: { 'spec.nodeName': 'node-a' } })).map((p) => p.metadata.name), ['a1']);
  t.same((await s.list(POD, { fieldSelector: { 'metadata.name': 'b1', 'spec.nodeName': 'node-b' } })).map((p) => p.metadata.name), ['b1']);
  const c = new Collector();
  const w = s.watch(POD, { fieldSelector: { 'spec.nodeName': 'node-a' } }, c.push);
  t.teardown(() => w.close());
  await s.create(on('a2', 'node-a'));
  await s.create(on('b2', 'node-b'));
  await s.delete({ ...POD, namespace: 'demo', name: 'a1' });
  await c.until((evs) => evs.some((e) => e.type === 'DELETED' && e.object.metadata.name === 'a1'), 10_000, 'a1 deleted');
  t.same(c.summary, ['ADDED a1', 'ADDED a2', 'DELETED a1']);
});
