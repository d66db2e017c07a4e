import t from 'tap';
import { create } from '@bufbuild/protobuf';
import { AddressSchema, TunnelProtocol } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import { ProxyState } from './state.js';
import { StateError } from './convert.js';
import type { StateChange } from './view.js';
import { authz, key, svc, wl } from './testkit.js';

t.test('workloads are indexed by uid, (network, IP) and name; defaults applied', async (t) => {
  const s = new ProxyState();
  s.applyAddresses([wl('a', { ips: ['10.244.1.5', 'fd00::5'], sa: 'web', node: 'n1' })], []);
  const w = s.workloadByUid('Kubernetes//Pod/default/a');
  t.ok(w);
  t.equal(s.workloadByAddr('10.244.1.5'), w);
  t.equal(s.workloadByAddr('::ffff:10.244.1.5'), w, 'v4-mapped socket address canonicalised');
  t.equal(s.workloadByAddr('fd00:0:0::5'), w, 'v6 in any spelling');
  t.equal(s.workloadByAddr('10.244.1.5', 'other-net'), undefined, 'network is part of the key');
  t.equal(s.findWorkload({ namespace: 'default', name: 'a' }), w);
  t.equal(s.findWorkload({ namespace: 'default', name: 'a', serviceAccount: 'other' }), undefined);
  t.equal(w?.identity, 'spiffe://cluster.local/ns/default/sa/web');
  t.equal(w?.capacity, 1);
  t.equal(w?.clusterId, 'Kubernetes');
  t.equal(w?.workloadType, 'deployment');

  s.applyAddresses([wl('b', { ips: ['10.244.1.6'] })], []);
  t.equal(s.workloadByUid('Kubernetes//Pod/default/b')?.identity, 'spiffe://cluster.local/ns/default/sa/default', 'sa defaults to default');
});

t.test('a workload changing IP moves its indexes; removal drops them', async (t) => {
  const s = new ProxyState();
  s.applyAddresses([wl('a', { ips: ['10.0.0.1'] })], []);
  s.applyAddresses([wl('a', { ips: ['10.0.0.2'] })], []);
  t.equal(s.workloadByAddr('10.0.0.1'), undefined, 'old IP gone');
  t.equal(s.workloadByAddr('10.0.0.2')?.name, 'a');
  t.equal(s.stats().workloadAddrs, 1);
  const change = s.applyAddresses([], ['Kubernetes//Pod/default/a']);
  t.same(change.workloads.removed, ['Kubernetes//Pod/default/a']);
  t.same(s.stats(), { workloads: 0, workloadAddrs: 0, services: 0, serviceVips: 0, policies: 0, waiters: 0 });
});

t.test('host-network workloads are not found by IP; shared IPs prefer in-mesh pods', async (t) => {
  const s = new ProxyState();
  s.applyAddresses([wl('h', { ips: ['192.168.1.10'], hostNetwork: true })], []);
  t.equal(s.workloadByAddr('192.168.1.10'), undefined);
  s.applyAddresses([wl('x', { ips: ['10.0.0.9'], uid: 'Kubernetes/networking.istio.io/WorkloadEntry/default/x' }), wl('p', { ips: ['10.0.0.9'], hbone: false }), wl('q', { ips: ['10.0.0.9'] })], []);
  t.equal(s.workloadByAddr('10.0.0.9')?.name, 'q', 'pod + HBONE wins');
  s.applyAddresses([], ['Kubernetes//Pod/default/q']);
  t.equal(s.workloadByAddr('10.0.0.9')?.name, 'p', 'then pod');
});

t.test('a removed service drops its VIP and hostname indexes', async (t) => {
  const s = new ProxyState();
  s.applyAddresses([svc('web', { vips: ['10.96.0.10', 'fd00:96::10'] })], []);
  t.equal(s.serviceByVip('10.96.0.10')?.key, key('web'));
  t.equal(s.serviceByHost('default', 'web.default.svc.cluster.local')?.name, 'web');
  t.equal(s.serviceByHostname('web.default.svc.cluster.local')?.name, 'web');
  t.equal(s.stats().serviceVips, 2);
  s.applyAddresses([svc('web', { vips: ['10.96.0.11'] })], []);
  t.equal(s.serviceByVip('10.96.0.10'), undefined, 'replaced VIP unindexed');
  const change = s.applyAddresses([], [key('web')]);
  t.same(change.services.removed, [key('web')]);
  t.equal(s.serviceByVip('10.96.0.11'), undefined);
  t.equal(s.serviceByHostname('web.default.svc.cluster.local'), undefined);
  t.same(s.stats(), { workloads: 0, workloadAddrs: 0, services: 0, serviceVips: 0, policies: 0, waiters: 0 });
});

t.test('endpoints come from Workload.services, also before the service arrives', async (t) => {
  const s = new ProxyState();
  s.applyAddresses([wl('a', { ips: ['10.0.0.1'], services: { [key('web')]: [[80, 8080]] } })], []);
  t.equal(s.endpointsOf(key('web')).length, 1, 'staged before the service');
  s.applyAddresses([svc('web', { vips: ['10.96.0.10'] }), wl('b', { ips: ['10.0.0.2'], services: { [key('web')]: [[80, 9090]] } })], []);
  const eps = s.endpointsOf(s.serviceByVip('10.96.0.10') ?? '');
  t.same(eps.map((e) => [e.workload.name, e.ports.get(80)]).sort(), [['a', 8080], ['b', 9090]]);
  s.applyAddresses([wl('a', { ips: ['10.0.0.1'] })], []);
  t.same(s.endpointsOf(key('web')).map((e) => e.workload.name), ['b'], 'workload that stops naming the service leaves it');
  const b = s.workloadByUid('Kubernetes//Pod/default/b');
  t.same(b && s.servicesOf(b).map((x) => x.name), ['web']);
});

t.test('updates are all-or-nothing and errors name the resource and field', async (t) => {
  const s = new ProxyState();
  s.applyAddresses([wl('a', { ips: ['10.0.0.1'] })], []);
  const bad = wl('bad', { ips: ['10.0.0.2'] });
  if (bad.address.type.case === 'workload') bad.address.type.value.addresses = [new Uint8Array([1, 2, 3])];
  const cases: Array<[string, () => void, RegExp]> = [
    ['bad IP bytes', () => s.applyAddresses([wl('c', { ips: ['10.0.0.3'] }), bad], ['Kubernetes//Pod/default/a']), /Workload "Kubernetes\/\/Pod\/default\/bad": addresses\[0\]: address has 3 bytes/],
    ['legacy tunnel', () => {
      const l = wl('l');
      if (l.address.type.case === 'workload') l.address.type.value.tunnelProtocol = TunnelProtocol.LEGACY_ISTIO_MTLS;
      s.applyAddresses([l], []);
    }, /tunnel_protocol: LEGACY_ISTIO_MTLS is not supported/],
    ['name ≠ uid', () => s.applyAddresses([{ ...wl('n'), name: 'other' }], []), /uid: .* differs from the resource name/],
    ['empty address', () => s.applyAddresses([{ name: 'x', address: create(AddressSchema, {}) }], []), /Address "x": type: is neither/],
    ['bad service key', () => s.applyAddresses([wl('k', { services: { nokey: [[80, 80]] } })], []), /services\["nokey"\]: key must be/],
    ['bad port', () => s.applyAddresses([svc('p', { ports: [[0, 80]] })], []), /Service "default\/p.default.svc.cluster.local": ports\[0\].service_port: 0 is not a valid port/],
    ['unspecified scope', () => s.applyAddresses([svc('u', { lb: { mode: 'FAILOVER', prefs: ['UNSPECIFIED_SCOPE'] } })], []), /routing_preference\[0\]: UNSPECIFIED_SCOPE/],
    ['bad CIDR', () => s.applyAuthorizations([authz('ns', 'p', { rules: [[[{ sourceIps: [{ address: bytes4(), length: 33 }] }]]] })], []), /Authorization "ns\/p": rules\[0\].clauses\[0\].matches\[0\].source_ips\[0\]: prefix length 33/],
  ];
  for (const [name, fn, re] of cases) {
    t.throws(fn, re, name);
  }
  t.throws(() => s.applyAddresses([bad], []), StateError);
  t.ok(s.workloadByUid('Kubernetes//Pod/default/a'), 'removal in the rejected update not applied');
  t.equal(s.workloadByUid('Kubernetes//Pod/default/c'), undefined, 'good upsert in the rejected update not applied');
  t.equal(s.stats().policies, 0);
});

function bytes4(): Uint8Array {
  return new Uint8Array([10, 0, 0, 0]);
}

t.test('changes are returned and emitted; authorization flag', async (t) => {
  const s = new ProxyState();
  const seen: StateChange[] = [];
  const off = s.onChange((c) => seen.push(c));
  s.onChange(() => {
    throw new Error('a bad listener does not break the update');
  });
  s.applyAddresses([wl('a', { ips: ['10.0.0.1'], policies: ['default/x'] }), svc('web')], []);
  t.equal(seen.length, 1);
  t.same(seen[0]?.workloads.upserted, ['Kubernetes//Pod/default/a']);
  t.same(seen[0]?.services.upserted, [key('web')]);
  t.equal(seen[0]?.authorization, false, 'a new workload has no connections to re-check');
  s.applyAddresses([wl('a', { ips: ['10.0.0.1'], policies: ['default/x', 'default/y'] })], []);
  t.equal(seen[1]?.authorization, true, 'policy list changed');
  s.applyAddresses([wl('a', { ips: ['10.0.0.2'], policies: ['default/x', 'default/y'] })], []);
  t.equal(seen[2]?.authorization, false);
  const c = s.applyAuthorizations([authz('default', 'x')], ['default/nope']);
  t.same(c.policies, { upserted: ['default/x'], removed: [] });
  t.equal(c.authorization, true);
  s.applyAddresses([], ['unknown']);
  t.equal(seen.length, 4, 'no-op update not emitted');
  off();
  s.applyAuthorizations([], ['default/x']);
  t.equal(seen.length, 4, 'unregistered');
});

t.test('policiesFor: global, namespace, and listed policies', async (t) => {
  const s = new ProxyState();
  s.applyAuthorizations([
    authz('istio-system', 'mesh', { scope: 'GLOBAL' }),
    authz('a', 'ns-a', { scope: 'NAMESPACE' }),
    authz('b', 'ns-b', { scope: 'NAMESPACE' }),
    authz('a', 'sel', { scope: 'WORKLOAD_SELECTOR' }),
    authz('a', 'sel-other', { scope: 'WORKLOAD_SELECTOR' }),
    authz('istio-system', 'istio_converted_static_strict', { scope: 'WORKLOAD_SELECTOR', action: 'DENY' }),
  ], []);
  s.applyAddresses([wl('p', { ns: 'a', policies: ['a/sel', 'istio-system/istio_converted_static_strict', 'a/missing', 'a/ns-a'] })], []);
  const w = s.workloadByUid('Kubernetes//Pod/a/p');
  t.ok(w);
  if (!w) return;
  t.same(s.policiesFor(w).map((p) => p.key).sort(), ['a/ns-a', 'a/sel', 'istio-system/istio_converted_static_strict', 'istio-system/mesh'], 'deduplicated, missing skipped');
  s.applyAuthorizations([authz('a', 'ns-a', { scope: 'WORKLOAD_SELECTOR' })], ['istio-system/mesh']);
  t.same(s.policiesFor(w).map((p) => p.key).sort(), ['a/ns-a', 'a/sel', 'istio-system/istio_converted_static_strict'], 'scope change re-indexes');
  s.applyAuthorizations([], ['a/ns-a']);
  t.same(s.policiesFor(w).map((p) => p.key).sort(), ['a/sel', 'istio-system/istio_converted_static_strict']);
});

t.test('waitForWorkload resolves on arrival or times out', async (t) => {
  const s = new ProxyState();
  const byUid = s.waitForWorkload({ uid: 'Kubernetes//Pod/default/a' }, 5000);
  const byIp = s.waitForWorkload({ ip: '10.0.0.1' }, 5000);
  const byName = s.waitForWorkload({ namespace: 'default', name: 'a' }, 5000);
  t.equal(s.stats().waiters, 3);
  setImmediate(() => s.applyAddresses([wl('a', { ips: ['10.0.0.1'] })], []));
  t.equal((await byUid)?.name, 'a');
  t.equal((await byIp)?.name, 'a');
  t.equal((await byName)?.name, 'a');
  t.equal((await s.waitForWorkload({ uid: 'Kubernetes//Pod/default/a' }, 0))?.name, 'a', 'already known');
  t.equal(await s.waitForWorkload({ uid: 'nope' }, 20), undefined, 'timeout');
  t.equal(s.stats().waiters, 0, 'no waiter left behind');
});
