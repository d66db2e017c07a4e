import t from 'tap';
import { performance } from 'node:perf_hooks';
import { buildModel, diffModels, type ModelSnapshot } from './index.js';
import { ap, gw, ns, pa, pod, svc, syntheticCluster } from './testkit.js';

const snapshot = (): ModelSnapshot => ({
  namespaces: [ns('shop', { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' })],
  gateways: [gw('shop', 'waypoint', { addresses: [{ type: 'Hostname', value: 'waypoint.shop.svc.cluster.local' }] })],
  services: [svc('shop', 'cart', { ports: [{ name: 'http', port: 80, targetPort: 'http' }] })],
  pods: [pod('shop', 'cart-1', { labels: { app: 'cart' }, ambient: true, ports: [{ name: 'http', containerPort: 8080 }] })],
  authorizationPolicies: [ap('shop', 'allow-front', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/front'] } }] }] })],
  peerAuthentications: [pa('istio-system', 'default', { mtls: { mode: 'STRICT' } })],
});

t.test('buildModel produces the resources ztunnel is served', async (t) => {
  const m = buildModel(snapshot());
  t.same([...m.addresses.keys()].sort(), ['Kubernetes//Pod/shop/cart-1', 'shop/cart.shop.svc.cluster.local']);
  t.same([...m.authorizations.keys()].sort(), ['istio-system/istio_converted_static_strict', 'shop/allow-front']);
  const w = m.addresses.get('Kubernetes//Pod/shop/cart-1');
  t.equal(w?.$typeName, 'istio.workload.Address', 'generated protobuf messages');
  t.equal(w?.type.case === 'workload' && w.type.value.services['shop/cart.shop.svc.cluster.local']?.ports[0]?.targetPort, 8080);
  t.same(w?.type.case === 'workload' && w.type.value.authorizationPolicies, ['istio-system/istio_converted_static_strict']);
  const s = m.addresses.get('shop/cart.shop.svc.cluster.local');
  t.equal(s?.type.case === 'service' && s.type.value.waypoint?.destination.case, 'hostname');
  t.equal(s?.type.case === 'service' && s.type.value.ports[0]?.targetPort, 0, 'named target port');
  t.equal(m.versions.addresses.size, 2);
  t.equal(m.versions.authorizations.size, 2);
  t.same(m.problems, []);
  t.match(m.serviceStatus.get('shop/cart'), { conditions: [{ status: 'True' }] });
  t.match(m.policyStatus.get('AuthorizationPolicy/shop/allow-front'), { conditions: [{ reason: 'Accepted' }] });
});

t.test('the same snapshot gives the same versions', async (t) => {
  t.same(buildModel(snapshot()).versions, buildModel(snapshot()).versions);
});

t.test('diffModels', async (t) => {
  const a = buildModel(snapshot());
  t.same(diffModels(undefined, a), {
    addresses: { upserts: ['Kubernetes//Pod/shop/cart-1', 'shop/cart.shop.svc.cluster.local'], removals: [] },
    authorizations: { upserts: ['istio-system/istio_converted_static_strict', 'shop/allow-front'], removals: [] },
  }, 'everything is new');
  t.same(diffModels(a, buildModel(snapshot())), { addresses: { upserts: [], removals: [] }, authorizations: { upserts: [], removals: [] } }, 'nothing changed');

  const s = snapshot();
  s.pods = [pod('shop', 'cart-1', { labels: { app: 'cart' }, ambient: true, ready: false, ports: [{ name: 'http', containerPort: 8080 }] }), pod('shop', 'cart-2', { ip: '10.244.0.2', labels: { app: 'cart' } })];
  s.peerAuthentications = [];
  s.authorizationPolicies = [ap('shop', 'allow-front', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/other'] } }] }] })];
  const b = buildModel(s);
  t.same(diffModels(a, b), {
    addresses: { upserts: ['Kubernetes//Pod/shop/cart-1', 'Kubernetes//Pod/shop/cart-2'], removals: [] },
    authorizations: { upserts: ['shop/allow-front'], removals: ['istio-system/istio_converted_static_strict'] },
  });
  t.same(diffModels(b, a).addresses.removals, ['Kubernetes//Pod/shop/cart-2']);
});

t.test('bad objects are reported, everything else still flows', async (t) => {
  const s = snapshot();
  s.services = [...(s.services ?? []), svc('shop', 'broken', { ports: [{ port: 'http' }] })];
  s.gateways = [...(s.gateways ?? []), { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { namespace: 'shop' }, spec: { gatewayClassName: 'istio-waypoint' } } as never];
  s.authorizationPolicies = [...(s.authorizationPolicies ?? []), ap('shop', 'weird', { action: 'MAYBE' })];
  s.peerAuthentications = [...(s.peerAuthentications ?? []), pa('shop', 'odd', { mtls: { mode: 'SOMETIMES' } })];
  s.namespaces = [...(s.namespaces ?? []), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n', labels: { a: 5 } } } as never];
  const m = buildModel(s);
  t.same(m.problems.map((p) => `${p.object} ${p.field}`).sort(), [
    'AuthorizationPolicy shop/weird spec.action',
    'Gateway shop/<no name> metadata.name',
    'Namespace n metadata.labels',
    'PeerAuthentication shop/odd spec.mtls.mode',
    'Service shop/broken spec.ports[0].port',
  ]);
  t.ok(m.addresses.has('shop/cart.shop.svc.cluster.local'));
  t.ok(m.addresses.has('Kubernetes//Pod/shop/cart-1'));
  t.ok(m.authorizations.has('shop/allow-front'));
  for (const p of m.problems) t.ok(p.message.length > 0, `${p.object}: ${p.message}`);
});

t.test('empty snapshot', async (t) => {
  const m = buildModel({});
  t.equal(m.addresses.size + m.authorizations.size + m.problems.length, 0);
});

t.test('10,000 pods and 1,000 services', async (t) => {
  const cluster = syntheticCluster(10_000, 1_000, 20);
  buildModel({ pods: cluster.pods.slice(0, 200), services: cluster.services.slice(0, 20) }); // warm up the JIT
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  const m = buildModel(cluster);
  const cpu = process.cpuUsage(cpu0);
  const ms = performance.now() - start;
  t.equal(m.addresses.size, 11_000);
  t.equal(m.authorizations.size, 41);
  t.same(m.problems, []);
  const w = m.addresses.get('Kubernetes//Pod/ns-0/app-0-abcde-0');
  t.equal(w?.type.case === 'workload' && w.type.value.services['ns-0/svc-0.ns-0.svc.cluster.local']?.ports.length, 2);
  t.same(w?.type.case === 'workload' && w.type.value.authorizationPolicies, ['istio-system/istio_converted_static_strict', 'ns-0/deny-one']);
  const d0 = performance.now();
  const diff = diffModels(m, buildModel(cluster));
  const rebuildMs = performance.now() - d0;
  t.equal(diff.addresses.upserts.length + diff.addresses.removals.length, 0);
  // Wall time depends on how busy the machine is; CPU time (all threads, GC included) less so.
  t.comment(`buildModel: 10,000 pods + 1,000 services + 40 policies: ${ms.toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU; rebuild + diff ${rebuildMs.toFixed(0)} ms wall`);
  t.ok(ms < 30_000, 'finishes in well under the debounce budget even on a busy machine');
});
