/**
 * Tier 4: the Kubernetes back end of ClusterStore against a real kube-apiserver (and
 * kube-controller-manager): the File back end's behavioural contract where it applies, plus what
 * only a real server has — server-side apply ownership, the status subresource, owner references
 * and garbage collection, custom resources, service-account tokens.
 */
import t from 'tap';
import { KubeStore } from '../../lib/store/kube.js';
import { requestToken, reviewToken } from '../../lib/store/kube-tokens.js';
import { openStore } from '../../lib/store/index.js';
import { Collector } from '../../lib/store/testkit.js';
import { StoreError, type KubeObject } from '../../lib/store/types.js';
import { KubeConfig } from '@kubernetes/client-node';
import { startCluster } from './testkit.js';

function kubeConfigFor(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

const CM = { apiVersion: 'v1', kind: 'ConfigMap' };
const POD = { apiVersion: 'v1', kind: 'Pod' };
const NS = { apiVersion: 'v1', kind: 'Namespace' };
const SA = { apiVersion: 'v1', kind: 'ServiceAccount' };
const AP = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy' };

const cluster = await startCluster(t);
t.comment(`cluster up: certs ${cluster.times.certs} ms, etcd ${cluster.times.etcd} ms, apiserver ${cluster.times.apiserver} ms, controller-manager ${cluster.times.controllerManager} ms`);

function store(fieldManager?: string): KubeStore {
  const s = new KubeStore(cluster.kubeConfig(), fieldManager ? { fieldManager } : {});
  t.teardown(() => s.close());
  return s;
}

function cm(name: string, namespace: string, labels?: Record<string, string>, data: Record<string, string> = { k: 'v' }): KubeObject {
  return { ...CM, metadata: { name, namespace, ...(labels ? { labels } : {}) }, data };
}

/** Event summaries without the CA bundle ConfigMap the controller manager puts in every namespace. */
function mine(c: Collector): string[] {
  return c.summary.filter((e) => !e.endsWith(' kube-root-ca.crt'));
}

const s = store();

/** The error a watch ends with; fails after 20 s instead of hanging the file. */
function watchError(on: KubeStore, kind: typeof CM, opts: { namespace: string; resourceVersion?: string | undefined }): Promise<StoreError> {
  return new Promise<StoreError>((resolve, reject) => {
    const timer = setTimeout(() => {
      w.close();
      reject(new Error(`the watch of ${kind.kind} from resourceVersion ${opts.resourceVersion} did not end within 20 s`));
    }, 20_000);
    const w = on.watch(kind, { ...opts, onError: (e) => (clearTimeout(timer), resolve(e)) }, () => undefined);
  });
}
for (const ns of ['demo', 'other', 'sel', 'wt', 'ssa', 'st', 'gc', 'tok']) await s.create({ ...NS, metadata: { name: ns } });

t.test('openStore picks the Kubernetes back end from a kubeconfig', async (t) => {
  const viaFlag = openStore({ kube: true, kubeconfig: cluster.kubeconfig });
  t.teardown(() => viaFlag.close());
  t.ok(viaFlag instanceof KubeStore);
  t.ok((await viaFlag.list(NS)).some((n) => n.metadata.name === 'demo'));
  const prev = process.env.KUBECONFIG;
  process.env.KUBECONFIG = cluster.kubeconfig;
  t.teardown(() => (prev === undefined ? delete process.env.KUBECONFIG : (process.env.KUBECONFIG = prev)));
  const viaEnv = openStore({ kube: true });
  t.teardown(() => viaEnv.close());
  t.ok((await viaEnv.get({ ...NS, name: 'demo' }))?.metadata.uid);
  t.throws(() => openStore({ kube: true, kubeconfig: '/nonexistent/kubeconfig' }), /kubeconfig \/nonexistent\/kubeconfig: no such file/);
});

t.test('create, get, list, delete', async (t) => {
  const created = await s.create(cm('web-1', 'demo', { app: 'web' }));
  t.match(created.metadata, { name: 'web-1', namespace: 'demo' });
  t.match(created.metadata.uid, /^[0-9a-f-]{36}$/);
  t.match(created.metadata.resourceVersion, /^\d+$/);
  t.match(created.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.notOk('managedFields' in created.metadata, 'managedFields are not returned');
  t.same(await s.get({ ...CM, namespace: 'demo', name: 'web-1' }), created);
  t.equal(await s.get({ ...CM, namespace: 'other', name: 'web-1' }), undefined);
  await t.rejects(s.create(cm('web-1', 'demo')), { code: 'AlreadyExists', message: /configmaps "web-1" already exists/ });
  await s.create(cm('web-2', 'demo'));
  t.same((await s.list(CM, { namespace: 'demo' })).map((o) => o.metadata.name).filter((n) => n.startsWith('web')), ['web-1', 'web-2']);
  const nss = await s.list(NS);
  t.ok(nss.every((n) => n.metadata.namespace === undefined && n.apiVersion === 'v1' && n.kind === 'Namespace'), 'cluster-scoped, at the asked version');
  const deleted = await s.delete({ ...CM, namespace: 'demo', name: 'web-1' });
  t.equal(deleted?.metadata.uid, created.metadata.uid);
  t.equal(await s.delete({ ...CM, namespace: 'demo', name: 'web-1' }), undefined);
  t.equal(await s.get({ ...CM, namespace: 'demo', name: 'web-1' }), undefined);
  await t.rejects(s.create({ ...CM, metadata: { name: 'Bad_Name', namespace: 'demo' } }), { code: 'Invalid', message: /Bad_Name/ });
  await t.rejects(s.list({ apiVersion: 'example.com/v1', kind: 'Widget' }), { code: 'NotFound', message: /Widget \(example.com\/v1\) is not served .*CustomResourceDefinition/ });
});

t.test('namespaces default, results are copies', async (t) => {
  const p = await s.create<KubeObject>({ ...CM, metadata: { name: 'defaulted' } });
  t.equal(p.metadata.namespace, 'default');
  t.ok(await s.get({ ...CM, name: 'defaulted' }), 'get without namespace means default');
  p.metadata.labels = { mutated: 'yes' };
  t.equal((await s.get({ ...CM, name: 'defaulted' }))?.metadata.labels, undefined);
  await s.delete({ ...CM, name: 'defaulted' });
});

t.test('label selectors and namespaces', async (t) => {
  await s.create(cm('a', 'sel', { app: 'web', tier: 'front' }));
  await s.create(cm('b', 'sel', { app: 'web', tier: 'back' }));
  await s.create(cm('c', 'other', { app: 'web', tier: 'x' }));
  await s.create(cm('d', 'sel'));
  const names = async (o: Parameters<KubeStore['list']>[1]) => (await s.list(CM, o)).map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
  t.same(await names({ namespace: 'sel', labelSelector: { app: 'web' } }), ['sel/a', 'sel/b']);
  t.same(await names({ labelSelector: { app: 'web', tier: 'back' } }), ['sel/b']);
  t.same(await names({ labelSelector: { app: 'web' } }), ['other/c', 'sel/a', 'sel/b'], 'every namespace, sorted by namespace then name');
  t.same(await names({ namespace: 'sel', labelSelector: { app: 'db' } }), []);
  const paged = new KubeStore(cluster.kubeConfig(), { pageSize: 1 });
  t.teardown(() => paged.close());
  t.same((await paged.list(CM, { namespace: 'sel' })).map((o) => o.metadata.name).filter((n) => n.length === 1), ['a', 'b', 'd'], 'pages are joined');
});

t.test('merge patches, preconditions, errors', async (t) => {
  const key = { ...CM, namespace: 'demo', name: 'patched' };
  await t.rejects(s.patch(key, { data: { a: '1' } }), { code: 'NotFound' });
  const created = await s.create({ ...cm('patched', 'demo', { app: 'a', tier: 'web' }), data: { x: '1', y: '2' } });
  const table: Array<{ patch: Record<string, unknown>; check: (o: KubeObject) => unknown; want: unknown }> = [
    { patch: { metadata: { labels: { tier: null, env: 'prod' } } }, check: (o) => o.metadata.labels, want: { app: 'a', env: 'prod' } },
    { patch: { data: { y: null, z: '3' } }, check: (o) => o.data, want: { x: '1', z: '3' } },
    { patch: { metadata: { annotations: { a: 'b' } } }, check: (o) => o.metadata.annotations, want: { a: 'b' } },
  ];
  for (const { patch, check, want } of table) t.same(check(await s.patch(key, patch)), want, JSON.stringify(patch));
  const cur = await s.get(key);
  t.equal((await s.patch(key, { metadata: { labels: { app: 'a' } } })).metadata.resourceVersion, cur?.metadata.resourceVersion, 'a no-op patch is not a change');
  await t.rejects(s.patch(key, { data: { x: '9' } }, { resourceVersion: created.metadata.resourceVersion }), { code: 'Conflict', message: /read the object again and retry/ });
  await t.rejects(s.patch(key, { metadata: { resourceVersion: created.metadata.resourceVersion }, data: { x: '9' } }), { code: 'Conflict' }, 'resourceVersion in the patch is a precondition');
  const ok = await s.patch(key, { data: { x: '9' } }, { resourceVersion: cur?.metadata.resourceVersion });
  t.equal((ok.data as Record<string, string>).x, '9');
  await t.rejects(s.patch(key, { metadata: { labels: { n: 1 } } }), { code: 'Invalid' });
  await t.rejects(s.patch(key, [] as unknown as Record<string, unknown>), { code: 'Invalid' });
});

t.test('watch: initial ADDED, live ADDED/MODIFIED/DELETED in order, nothing after close', async (t) => {
  await s.create(cm('a', 'wt', { app: 'web' }));
  const c = new Collector();
  const w = s.watch(CM, { namespace: 'wt' }, c.push);
  await c.until((e) => e.some((x) => x.object.metadata.name === 'a'));
  await s.create(cm('b', 'wt'));
  await s.patch({ ...CM, namespace: 'wt', name: 'a' }, { data: { k: 'changed' } });
  await s.delete({ ...CM, namespace: 'wt', name: 'b' });
  await c.until(() => mine(c).length >= 4);
  t.same(mine(c), ['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED b']);
  const rvs = c.events.filter((e) => e.object.metadata.name !== 'kube-root-ca.crt').map((e) => Number(e.object.metadata.resourceVersion));
  t.same([...rvs].sort((x, y) => x - y), rvs, 'events in resourceVersion order');
  t.equal(c.events.at(-1)?.object.apiVersion, 'v1');
  t.equal(w.stats.lists, 1);
  w.close();
  await s.create(cm('after-close', 'wt'));
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(mine(c).includes('ADDED after-close'), 'no events after close');
});

t.test('watch filters: namespace and label selector transitions', async (t) => {
  await s.create(cm('a', 'sel2', { app: 'web' })).catch(async (e: StoreError) => {
    if (e.code !== 'NotFound') throw e;
    await s.create({ ...NS, metadata: { name: 'sel2' } });
    await s.create(cm('a', 'sel2', { app: 'web' }));
  });
  await s.create(cm('b', 'sel2', { app: 'db' }));
  await s.create(cm('x', 'other', { app: 'web' }));
  const c = new Collector();
  s.watch(CM, { namespace: 'sel2', labelSelector: { app: 'web' } }, c.push);
  await c.count(1);
  await s.patch({ ...CM, namespace: 'sel2', name: 'b' }, { metadata: { labels: { app: 'web' } } });
  await s.patch({ ...CM, namespace: 'sel2', name: 'a' }, { metadata: { labels: { app: 'db' } } });
  await s.patch({ ...CM, namespace: 'sel2', name: 'a' }, { data: { k: '2' } });
  await s.patch({ ...CM, namespace: 'sel2', name: 'b' }, { data: { k: '2' } });
  await s.patch({ ...CM, namespace: 'other', name: 'x' }, { data: { k: '2' } });
  await c.count(4);
  await new Promise((r) => setTimeout(r, 300));
  t.same(c.summary, ['ADDED a', 'ADDED b', 'DELETED a', 'MODIFIED b'], 'starts matching: ADDED; stops: DELETED');
});

t.test('streams the server ends after timeoutSeconds are renewed without losing or repeating events', async (t) => {
  await s.create({ ...NS, metadata: { name: 'renew' } });
  const short = new KubeStore(cluster.kubeConfig(), { watchStreamSeconds: 1 });
  t.teardown(() => short.close());
  const c = new Collector();
  const w = short.watch(CM, { namespace: 'renew' }, c.push);
  for (let i = 0; i < 6; i++) {
    await s.create(cm(`o${i}`, 'renew'));
    await new Promise((r) => setTimeout(r, 500));
  }
  await c.until(() => mine(c).length >= 6);
  t.same(mine(c), [0, 1, 2, 3, 4, 5].map((i) => `ADDED o${i}`));
  t.ok(w.stats.streams >= 3, `streams were renewed (${JSON.stringify(w.stats)})`);
  t.equal(w.stats.lists, 1, 'renewing a stream is not a re-list');
});

t.test('watch from a resourceVersion; a too-old or malformed one ends through onError', async (t) => {
  await s.create({ ...NS, metadata: { name: 'rv' } });
  await s.create(cm('a', 'rv'));
  const b = await s.create(cm('b', 'rv'));
  await s.create(cm('c', 'rv'));
  await s.delete({ ...CM, namespace: 'rv', name: 'a' });
  const c = new Collector();
  const w = s.watch(CM, { namespace: 'rv', resourceVersion: b.metadata.resourceVersion }, c.push);
  await c.until(() => mine(c).length >= 2);
  await s.create(cm('d', 'rv'));
  await c.until(() => mine(c).length >= 3);
  t.same(mine(c), ['ADDED c', 'DELETED a', 'ADDED d'], 'only changes after the version');
  t.equal(w.stats.lists, 0, 'no list when starting from a resourceVersion');
  w.close();

  // While etcd keeps the history the server serves old versions from it; compaction ends that.
  // From etcd (no watch cache), a version older than etcd's compaction is gone.
  const uncached = await cluster.addApiserver({ watchCache: false });
  t.teardown(() => uncached.proc.stop());
  const direct = new KubeStore(kubeConfigFor(uncached.kubeconfig));
  t.teardown(() => direct.close());
  await cluster.compactEtcd();
  const gone = await watchError(direct, CM, { namespace: 'rv', resourceVersion: b.metadata.resourceVersion });
  t.equal(gone.code, 'Gone');
  t.match(gone.message, new RegExp(`watch of configmaps in rv from resourceVersion ${b.metadata.resourceVersion}: .*list again`));
  const bad = await watchError(s, CM, { namespace: 'rv', resourceVersion: 'abc' });
  t.equal(bad.code, 'Invalid');
});

t.test('server-side apply: ownership per field manager, conflicts, force', async (t) => {
  const ambit = s;
  const other = store('other-manager');
  const a = await ambit.apply(cm('cfg', 'ssa', { app: 'x' }, { mine: '1', shared: 'a' }));
  t.same(a.data, { mine: '1', shared: 'a' });
  const again = await ambit.apply(cm('cfg', 'ssa', { app: 'x' }, { mine: '1', shared: 'a' }));
  t.equal(again.metadata.resourceVersion, a.metadata.resourceVersion, 'an unchanged apply is not a change');
  await other.apply({ ...CM, metadata: { name: 'cfg', namespace: 'ssa' }, data: { theirs: 't' } });
  const err = await other.apply({ ...CM, metadata: { name: 'cfg', namespace: 'ssa' }, data: { theirs: 't', shared: 'b' } }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof StoreError && err.code === 'Conflict', 'changing a field another manager owns is a Conflict');
  t.match((err as Error).message, /conflict with "ambit".*\.data\.shared.*apply with force/s, 'names the owner and the field, says what to do');
  const forced = await other.apply({ ...CM, metadata: { name: 'cfg', namespace: 'ssa' }, data: { theirs: 't', shared: 'b' } }, { force: true });
  t.same(forced.data, { mine: '1', shared: 'b', theirs: 't' });
  // ambit no longer owns `shared`; dropping `mine` from its config removes it, `theirs` stays.
  const dropped = await ambit.apply(cm('cfg', 'ssa', { app: 'x' }, {}));
  t.same(dropped.data, { shared: 'b', theirs: 't' });
  const raw = await s.client.request<KubeObject & { metadata: { managedFields?: Array<{ manager: string; operation: string }> } }>({ method: 'GET', path: '/api/v1/namespaces/ssa/configmaps/cfg' });
  t.same(new Set(raw.metadata.managedFields?.map((f) => `${f.manager}/${f.operation}`)), new Set(['ambit/Apply', 'other-manager/Apply']));
  await t.rejects(ambit.apply({ ...cm('cfg', 'ssa'), metadata: { name: 'cfg', namespace: 'ssa', resourceVersion: a.metadata.resourceVersion } }), { code: 'Conflict' }, 'a resourceVersion in the object is a precondition');
  const created = await ambit.create(cm('made', 'ssa'));
  const rawMade = await s.client.request<{ metadata: { managedFields?: Array<{ manager: string }> } }>({ method: 'GET', path: '/api/v1/namespaces/ssa/configmaps/made' });
  t.same(rawMade.metadata.managedFields?.map((f) => f.manager), ['ambit'], 'create records the field manager too');
  t.ok(created.metadata.uid);
  const reapplied = await ambit.apply(cm('made', 'ssa', undefined, { k: 'changed' }));
  t.same(reapplied.data, { k: 'changed' }, 'applying over what the store itself created or patched is no conflict');
});

t.test('status goes through the status subresource', async (t) => {
  await cluster.kubectl(['wait', '--for=jsonpath={.metadata.name}=default', 'serviceaccount/default', '-n', 'st', '--timeout=30s']);
  const pod: KubeObject = { ...POD, metadata: { name: 'p', namespace: 'st', labels: { app: 'p' } }, spec: { containers: [{ name: 'app', image: 'echo' }] } };
  const created = await s.create(pod);
  t.equal((created.status as { phase?: string }).phase, 'Pending');
  const key = { ...POD, namespace: 'st', name: 'p' };
  const running = await s.patch(key, { status: { phase: 'Running', podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }] } });
  t.match(running.status, { phase: 'Running', podIP: '10.244.1.5' });
  const both = await s.patch(key, { metadata: { labels: { v: '2' } }, status: { message: 'both' } });
  t.match(both, { metadata: { labels: { app: 'p', v: '2' } }, status: { phase: 'Running', message: 'both' } }, 'labels and status in one patch');
  await t.rejects(s.patch(key, { status: { phase: 'Failed' } }, { resourceVersion: created.metadata.resourceVersion }), { code: 'Conflict' });
  const raw = await s.client.request<{ metadata: { managedFields?: Array<{ manager: string; subresource?: string }> } }>({ method: 'GET', path: '/api/v1/namespaces/st/pods/p' });
  t.ok(raw.metadata.managedFields?.some((f) => f.manager === 'ambit' && f.subresource === 'status'), 'written through /status');
  // A status in an applied object is applied through /status too.
  const applied = await s.apply({ ...pod, status: { phase: 'Running', message: 'applied' } });
  t.match(applied.status, { phase: 'Running', message: 'applied' });
  const gotten = await s.get(key);
  t.match(gotten?.status, { message: 'applied', podIP: '10.244.1.5' }, 'status fields others set are kept');
  await s.delete(key);
});

t.test('custom resources by the kind registry, with their status subresource', async (t) => {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'authorizationpolicies.security.istio.io' },
    spec: {
      group: 'security.istio.io',
      names: { kind: 'AuthorizationPolicy', plural: 'authorizationpolicies', singular: 'authorizationpolicy', shortNames: ['ap'], listKind: 'AuthorizationPolicyList' },
      scope: 'Namespaced',
      versions: ['v1', 'v1beta1'].map((v) => ({
        name: v,
        served: true,
        storage: v === 'v1',
        subresources: { status: {} },
        schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } },
      })),
    },
  };
  // The kind registry has no CustomResourceDefinition (a File cluster has no use for one).
  await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(crd));
  await cluster.kubectl(['wait', '--for=condition=Established', 'crd/authorizationpolicies.security.istio.io', '--timeout=30s']);
  const c = new Collector();
  const w = s.watch(AP, { namespace: 'demo' }, c.push);
  t.teardown(() => w.close());
  const made = await s.create({ ...AP, metadata: { name: 'deny', namespace: 'demo' }, spec: { action: 'DENY', rules: [{}] } });
  t.same(made.spec, { action: 'DENY', rules: [{}] });
  const v1beta1 = await s.get({ apiVersion: 'security.istio.io/v1beta1', kind: 'AuthorizationPolicy', namespace: 'demo', name: 'deny' });
  t.equal(v1beta1?.apiVersion, 'security.istio.io/v1beta1', 'served at the asked version');
  const st = await s.patch({ ...AP, namespace: 'demo', name: 'deny' }, { status: { conditions: [{ type: 'Accepted', status: 'True' }] } });
  t.same(st.status, { conditions: [{ type: 'Accepted', status: 'True' }] });
  await s.patch({ ...AP, namespace: 'demo', name: 'deny' }, { spec: { action: 'ALLOW' } });
  await c.count(3);
  t.same(c.summary, ['ADDED deny', 'MODIFIED deny', 'MODIFIED deny']);
  t.equal(c.events[2]?.object.metadata.generation, 2, 'a spec change bumps generation, a status change does not');
});

t.test('owner references pass through; the garbage collector deletes dependents', async (t) => {
  const owner = await s.create(cm('owner', 'gc'));
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid ?? '', controller: true };
  const child = await s.create({ ...cm('child', 'gc'), metadata: { name: 'child', namespace: 'gc', ownerReferences: [ref] } });
  t.same(child.metadata.ownerReferences, [{ ...ref, controller: true }]);
  const applied = await s.apply({ ...cm('child2', 'gc'), metadata: { name: 'child2', namespace: 'gc', ownerReferences: [ref] } });
  t.equal(applied.metadata.ownerReferences?.[0]?.uid, owner.metadata.uid);
  const c = new Collector();
  const w = s.watch(CM, { namespace: 'gc' }, c.push);
  t.teardown(() => w.close());
  await c.until((e) => e.filter((x) => x.type === 'ADDED').length >= 3);
  await s.delete({ ...CM, namespace: 'gc', name: 'owner' });
  await c.until((e) => ['owner', 'child', 'child2'].every((n) => e.some((x) => x.type === 'DELETED' && x.object.metadata.name === n)), 30_000, 'the dependents to be garbage-collected');
  t.same((await s.list(CM, { namespace: 'gc' })).map((o) => o.metadata.name).filter((n) => n !== 'kube-root-ca.crt'), []);
});

t.test('TokenRequest → TokenReview round trip', async (t) => {
  await s.create({ ...SA, metadata: { name: 'ztunnel', namespace: 'tok' } });
  const issued = await requestToken(s.client, { namespace: 'tok', serviceAccount: 'ztunnel', audiences: ['ambit'], expirationSeconds: 600 });
  t.match(issued.token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
  t.ok(Date.parse(issued.expirationTimestamp) > Date.now());
  const who = await reviewToken(s.client, issued.token, ['ambit']);
  t.equal(who.authenticated, true);
  t.equal(who.username, 'system:serviceaccount:tok:ztunnel');
  t.ok(who.groups?.includes('system:serviceaccounts:tok'));
  t.same(who.audiences, ['ambit']);
  const wrongAudience = await reviewToken(s.client, issued.token, ['someone-else']);
  t.equal(wrongAudience.authenticated, false, 'a token for another audience is refused');
  const forged = await reviewToken(s.client, `${issued.token.slice(0, -4)}AAAA`, ['ambit']);
  t.equal(forged.authenticated, false, 'a token with a bad signature is refused');
  await s.delete({ ...SA, namespace: 'tok', name: 'ztunnel' });
  // The server caches a token's successful authentication for 10 s: allow for it.
  let deletedSa = await reviewToken(s.client, issued.token, ['ambit']);
  for (const deadline = Date.now() + 15_000; deletedSa.authenticated && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 100));
    deletedSa = await reviewToken(s.client, issued.token, ['ambit']);
  }
  t.equal(deletedSa.authenticated, false, `a bound token dies with its service account (${deletedSa.error ?? 'no error'})`);
  await t.rejects(requestToken(s.client, { namespace: 'tok', serviceAccount: 'missing' }), { code: 'NotFound' });
});
