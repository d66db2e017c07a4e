import t from 'tap';
import type { KubeObject } from '../../lib/store/types.js';
import { buildModel, type ModelSnapshot } from './index.js';
import { IncrementalModel, type ModelKind } from './incremental.js';
import { ap, gw, ns, pa, pod, svc, syntheticCluster } from './testkit.js';

const key = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

function load(m: IncrementalModel, s: ModelSnapshot): void {
  for (const [kind, objs] of Object.entries(s) as Array<[ModelKind, KubeObject[]]>) for (const o of objs) m.set(kind, key(o), o);
}

const small = (): ModelSnapshot => ({
  namespaces: [ns('shop', { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' }), ns('other')],
  gateways: [gw('shop', 'waypoint', { addresses: [{ type: 'Hostname', value: 'waypoint.shop.svc.cluster.local' }] })],
  services: [svc('shop', 'cart', { ports: [{ name: 'http', port: 80, targetPort: 'http' }] }), svc('shop', 'broken', { ports: [{ port: 'http' }] })],
  pods: [
    pod('shop', 'cart-1', { labels: { app: 'cart' }, ambient: true, ports: [{ name: 'http', containerPort: 8080 }] }),
    pod('other', 'bad-ip', { ip: 'not-an-ip' }),
    pod('other', 'done', { phase: 'Succeeded', ip: '10.244.0.9' }),
  ],
  authorizationPolicies: [ap('shop', 'allow-front', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/front'] } }] }] })],
  peerAuthentications: [pa('istio-system', 'default', { mtls: { mode: 'STRICT' } })],
});

t.test('equals buildModel on the same objects: versions, problems, status', async (t) => {
  for (const [name, s] of [['small', small()], ['synthetic', syntheticCluster(300, 40, 6)]] as const) {
    const m = new IncrementalModel({ clusterId: 'c1' });
    load(m, s);
    const changes = m.commit();
    const full = buildModel(s, { clusterId: 'c1' });
    t.same(m.versions(), full.versions, `${name}: versions`);
    t.same(m.l7Versions(), full.l7Versions, `${name}: L7 versions`);
    t.same(new Set(m.problems.map((p) => JSON.stringify(p))), new Set(full.problems.map((p) => JSON.stringify(p))), `${name}: problems`);
    t.same([...m.policyStatus], [...full.policyStatus], `${name}: policy status`);
    t.equal(changes.addresses.upserts.length, full.addresses.size, `${name}: everything is new`);
    t.equal(changes.authorizations.upserts.length, full.authorizations.size);
  }
});

t.test('a pod change rebuilds that pod only and reports one upsert', async (t) => {
  const m = new IncrementalModel();
  load(m, small());
  m.commit();
  t.notOk(m.dirty);
  const relabelled = pod('shop', 'cart-1', { labels: { app: 'cart', version: 'v2' }, ambient: true, ports: [{ name: 'http', containerPort: 8080 }] });
  m.set('pods', 'shop/cart-1', relabelled);
  let c = m.commit();
  t.same(c.addresses, { upserts: ['Kubernetes//Pod/shop/cart-1'], removals: [] });
  t.equal(c.podsRebuilt, 1);
  t.notOk(c.contextRebuilt);

  m.set('pods', 'shop/cart-2', pod('shop', 'cart-2', { ip: '10.244.0.2', labels: { app: 'cart' } }));
  c = m.commit();
  t.same(c.addresses, { upserts: ['Kubernetes//Pod/shop/cart-2'], removals: [] });

  m.set('pods', 'shop/cart-2', undefined);
  c = m.commit();
  t.same(c.addresses, { upserts: [], removals: ['Kubernetes//Pod/shop/cart-2'] });

  m.set('pods', 'shop/cart-1', relabelled);
  t.same(m.commit().addresses, { upserts: [], removals: [] }, 'the same content again: nothing to send');

  m.set('pods', 'shop/cart-1', pod('shop', 'cart-1', { labels: { app: 'cart', version: 'v2' }, ambient: true, phase: 'Failed', ports: [{ name: 'http', containerPort: 8080 }] }));
  t.same(m.commit().addresses.removals, ['Kubernetes//Pod/shop/cart-1'], 'a terminal pod has no workload');
});

t.test('a context change re-encodes only what changed', async (t) => {
  const m = new IncrementalModel();
  load(m, small());
  m.commit();
  // Another service selecting app=cart: the cart pod's workload (its services map) and the new service change.
  m.set('services', 'shop/cart2', svc('shop', 'cart2', { selector: { app: 'cart' }, clusterIP: '10.96.0.11' }));
  let c = m.commit();
  t.ok(c.contextRebuilt);
  t.same(c.addresses, { upserts: ['Kubernetes//Pod/shop/cart-1', 'shop/cart2.shop.svc.cluster.local'], removals: [] });
  t.same(c.authorizations, { upserts: [], removals: [] });

  m.set('peerAuthentications', 'istio-system/default', undefined);
  c = m.commit();
  t.same(c.authorizations.removals, ['istio-system/istio_converted_static_strict']);
  t.same(c.addresses.upserts, ['Kubernetes//Pod/shop/cart-1'], 'the workload no longer lists the strict policy');

  m.set('serviceAccounts', 'shop/front', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'front', namespace: 'shop' } });
  t.notOk(m.dirty, 'service accounts do not feed the model');
});

t.test('problems follow their objects', async (t) => {
  const m = new IncrementalModel();
  load(m, small());
  m.commit();
  t.ok(m.problems.some((p) => p.object === 'Pod other/bad-ip'));
  t.ok(m.problems.some((p) => p.object === 'Service shop/broken'));
  m.set('pods', 'other/bad-ip', undefined);
  m.set('services', 'shop/broken', undefined);
  m.commit();
  t.same(m.problems, []);
});

t.test('a change reaches only the workloads it can affect', async (t) => {
  const m = new IncrementalModel();
  const s = syntheticCluster(300, 40, 6);
  load(m, s);
  m.commit();
  m.set('services', 'ns-1/extra', svc('ns-1', 'extra', { selector: { app: 'app-1' }, clusterIP: '10.96.9.9' }));
  const c = m.commit();
  t.equal(c.podsRebuilt, s.pods.filter((p) => p.metadata.namespace === 'ns-1').length, 'only the pods of ns-1');
  t.ok(c.addresses.upserts.includes('ns-1/extra.ns-1.svc.cluster.local'));
  m.set('authorizationPolicies', 'istio-system/mesh', ap('istio-system', 'mesh', { selector: { matchLabels: { version: 'v1' } }, action: 'DENY', rules: [{}] }));
  t.equal(m.commit().podsRebuilt, 300, 'a root-namespace policy reaches every pod');
  m.set('nodes', '/node-9', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-9' } });
  t.equal(m.commit().podsRebuilt, 0, 'a node without locality changes no workload');
});

t.test('random changes: always equal to a full build', async (t) => {
  let seed = 42;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const s = syntheticCluster(120, 16, 4);
  const state = new Map<string, Map<string, KubeObject>>();
  const m = new IncrementalModel({ clusterId: 'c' });
  const put = (kind: ModelKind, o: KubeObject | undefined, k: string): void => {
    const map = state.get(kind) ?? new Map<string, KubeObject>();
    state.set(kind, map);
    if (o) map.set(k, o);
    else map.delete(k);
    m.set(kind, k, o);
  };
  for (const [kind, objs] of Object.entries(s) as Array<[ModelKind, KubeObject[]]>) for (const o of objs) put(kind, o, key(o));
  m.commit();
  const nsName = (): string => `ns-${rnd(4)}`;
  const mutations: Array<[string, () => void]> = [
    ['relabel a pod', () => { const p = s.pods[rnd(s.pods.length)]!; put('pods', { ...p, metadata: { ...p.metadata, labels: { app: `app-${rnd(16)}`, version: `v${rnd(3)}` } } }, key(p)); }],
    ['delete a pod', () => { const p = s.pods[rnd(s.pods.length)]!; put('pods', undefined, key(p)); }],
    ['add a service', () => { const n = nsName(); put('services', svc(n, `s${rnd(5)}`, { selector: { app: `app-${rnd(16)}` }, clusterIP: `10.96.8.${rnd(250)}` }), `${n}/s${rnd(5)}`); }],
    ['selector policy', () => { const n = rnd(5) === 0 ? 'istio-system' : nsName(); put('authorizationPolicies', ap(n, 'p', { selector: { matchLabels: { app: `app-${rnd(16)}` } }, rules: [{}] }), `${n}/p`); }],
    ['peer authentication', () => { const n = rnd(4) === 0 ? 'istio-system' : nsName(); put('peerAuthentications', rnd(3) === 0 ? undefined : pa(n, 'pa', { mtls: { mode: rnd(2) ? 'STRICT' : 'PERMISSIVE' } }), `${n}/pa`); }],
    ['namespace labels', () => { const n = nsName(); put('namespaces', ns(n, rnd(2) ? { 'istio.io/use-waypoint': 'waypoint' } : {}), `/${n}`); }],
    ['waypoint gateway', () => { const n = nsName(); put('gateways', rnd(2) ? gw(n, 'waypoint', { addresses: [{ type: 'Hostname', value: `w.${n}.svc.cluster.local` }] }) : undefined, `${n}/waypoint`); }],
    ['waypoint via a service', () => { const n = nsName(); put('gateways', gw(n, 'waypoint'), `${n}/waypoint`); put('services', svc(n, 'waypoint', { labels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' }, clusterIP: `10.96.7.${rnd(250)}` }), `${n}/waypoint`); }],
    ['node locality', () => put('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', labels: { 'topology.kubernetes.io/zone': `z${rnd(3)}` } } }, '/node-1')],
  ];
  for (let step = 0; step < 60; step++) {
    const [what, mutate] = mutations[rnd(mutations.length)]!;
    mutate();
    m.commit();
    const snapshot = Object.fromEntries([...state].map(([k, v]) => [k, [...v.keys()].sort().map((x) => v.get(x)!)])) as ModelSnapshot;
    const full = buildModel(snapshot, { clusterId: 'c' });
    const same = JSON.stringify([...m.versions().addresses].sort()) === JSON.stringify([...full.versions.addresses].sort()) &&
      JSON.stringify([...m.versions().authorizations].sort()) === JSON.stringify([...full.versions.authorizations].sort());
    if (!same) {
      t.fail(`step ${step} (${what}): incremental model differs from a full build`);
      return;
    }
  }
  t.pass('60 random changes, equal to a full build after each');
});

t.test('an L7 change rebuilds no workload and re-sends only the resource it changes', async (t) => {
  const m = new IncrementalModel();
  const s = syntheticCluster(20, 4, 2);
  load(m, s);
  const first = m.commit();
  t.ok(first.l7.routeConfigs.upserts.length > 0, 'every served service has a RouteConfig');
  const route = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'ns-0' },
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'svc-0' }], rules: [{ backendRefs: [{ name: 'svc-0', port: 80 }] }] } };
  m.set('httpRoutes', 'ns-0/r', route);
  const changes = m.commit();
  t.equal(changes.podsRebuilt, 0);
  t.same(changes.addresses, { upserts: [], removals: [] });
  t.same(changes.l7.routeConfigs, { upserts: ['ns-0/svc-0.ns-0.svc.cluster.local'], removals: [] });
  t.same(m.l7Versions(), buildModel({ ...s, httpRoutes: [route] }).l7Versions, 'equals buildModel');
  t.match(m.l7Status.get('HTTPRoute/ns-0/r')?.conditions, [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }]);
  m.set('httpRoutes', 'ns-0/r', undefined);
  t.same(m.commit().l7.routeConfigs.upserts, ['ns-0/svc-0.ns-0.svc.cluster.local'], 'back to the default route');
});
