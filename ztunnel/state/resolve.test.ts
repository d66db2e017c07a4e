import t from 'tap';
import { ProxyState } from './state.js';
import type { Resolution } from './view.js';
import type { AddressUpsert } from './state.js';
import { seededRandom as seeded } from '../../lib/sys/testkit.js';
import { key, svc, wl } from './testkit.js';

const WP = { ns: 'default', host: 'waypoint.default.svc.cluster.local' };
const EP = (svcName: string, ports: Array<[number, number]> = [[80, 8080]], ns = 'default'): Record<string, Array<[number, number]>> => ({ [key(svcName, ns)]: ports });

/** The cluster most cases share. */
function base(): AddressUpsert[] {
  return [
    wl('client', { ips: ['10.244.1.2'], sa: 'client' }),
    wl('other-ns-client', { ns: 'c', ips: ['10.244.1.3'] }),
    svc('web', { vips: ['10.96.0.10'], sans: ['spiffe://cluster.local/ns/default/sa/extra'] }),
    wl('web-1', { ips: ['10.244.2.10'], sa: 'web', services: EP('web') }),
    svc('plain', { vips: ['10.96.0.11'] }),
    wl('plain-1', { ips: ['10.244.2.11'], hbone: false, services: EP('plain') }),
    svc('empty', { vips: ['10.96.0.12'] }),
    svc('sick', { vips: ['10.96.0.13'] }),
    wl('sick-1', { ips: ['10.244.2.13'], unhealthy: true, services: EP('sick') }),
    svc('sick-ok', { vips: ['10.96.0.14'], lb: { allowAll: true } }),
    wl('sick-ok-1', { ips: ['10.244.2.14'], unhealthy: true, services: EP('sick-ok') }),
    svc('named', { vips: ['10.96.0.15'], ports: [[80, 0]] }),
    wl('named-1', { ips: ['10.244.2.15'], services: EP('named', [[80, 3000]]) }),
    wl('named-2', { ips: ['10.244.2.16'], services: EP('named', []) }),
    svc('pt', { vips: ['10.96.0.16'], lb: { mode: 'PASSTHROUGH' } }),
    wl('pt-1', { ips: ['10.244.2.17'], services: EP('pt') }),
    svc('waypoint', { vips: ['10.96.0.100'], ports: [[15008, 15008]] }),
    wl('waypoint-1', { ips: ['10.244.3.100'], sa: 'waypoint', services: EP('waypoint', [[15008, 15008]]) }),
    svc('viawp', { vips: ['10.96.0.20'], waypoint: WP }),
    wl('viawp-1', { ips: ['10.244.2.20'], services: EP('viawp') }),
    wl('pod-wp', { ips: ['10.244.2.21'], waypoint: WP }),
    wl('pod-wp-ip', { ips: ['10.244.2.22'], waypoint: { ip: '10.244.3.100' } }),
    svc('lost-wp', { vips: ['10.96.0.23'], waypoint: { ns: 'default', host: 'gone.default.svc.cluster.local' } }),
    wl('outside', { ips: ['10.244.2.30'], hbone: false }),
    svc('remote', { vips: ['10.96.0.31'] }),
    wl('remote-1', { ips: ['10.1.0.31'], network: 'net2', services: EP('remote') }),
    svc('dual', { vips: ['10.96.0.32', 'fd00:96::32'] }),
    wl('dual-1', { ips: ['10.244.2.32', 'fd00:244::32'], services: EP('dual') }),
    svc('v4only', { vips: ['fd00:96::33'], families: 'IPV4_ONLY' }),
    wl('v4only-1', { ips: ['fd00:244::33', '10.244.2.33'], services: EP('v4only') }),
    svc('dns', { vips: ['10.96.0.34'] }),
    wl('dns-1', { hostname: 'db.example.com', services: EP('dns') }),
    svc('unmapped', { vips: ['10.96.0.35'], ports: [[80, 0], [443, 0]] }),
    wl('unmapped-1', { ips: ['10.244.2.35'], services: EP('unmapped', [[443, 8443]]) }),
  ];
}

function setup(extra: AddressUpsert[] = []): ProxyState {
  const s = new ProxyState({ random: seeded(1) });
  s.applyAddresses([...base(), ...extra], []);
  return s;
}

type Want = Record<string, unknown>;

/** The fields of a Resolution a table row checks. */
function summary(r: Resolution): Want {
  switch (r.kind) {
    case 'service':
      return { kind: r.kind, service: r.service.name, via: r.waypoint ? `wp:${r.waypoint.workload.name}` : `ep:${r.endpoint.workload.name}`, ...target(r.target) };
    case 'workload':
      return { kind: r.kind, workload: r.workload.name, via: r.waypoint ? `wp:${r.waypoint.workload.name}` : 'direct', ...target(r.target) };
    case 'passthrough':
      return { kind: r.kind, service: r.service?.name, ...target(r.target) };
    case 'error':
      return { kind: r.kind, reason: r.reason };
  }
}

function target(x: Resolution extends infer R ? (R extends { target: infer T } ? T : never) : never): Want {
  return { proto: x.protocol, to: `${x.ip}:${x.port}`, authority: x.authority, ids: x.expectedIdentities };
}

const id = (sa: string, ns = 'default'): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

t.test('resolveDestination, table', async (t) => {
  const s = setup();
  const client = s.workloadByUid('Kubernetes//Pod/default/client');
  const waypoint = s.workloadByUid('Kubernetes//Pod/default/waypoint-1');
  if (!client || !waypoint) throw new Error('fixture');
  const rows: Array<[string, Parameters<ProxyState['resolveDestination']>, Want]> = [
    ['unknown IP → passthrough', [client, '93.184.216.34', 443], { kind: 'passthrough', service: undefined, proto: 'TCP', to: '93.184.216.34:443', authority: undefined, ids: [] }],
    ['service VIP → HBONE to endpoint :15008, authority pod:target port, SANs + identity', [client, '10.96.0.10', 80],
      { kind: 'service', service: 'web', via: 'ep:web-1', proto: 'HBONE', to: '10.244.2.10:15008', authority: '10.244.2.10:8080', ids: [id('extra'), id('web')] }],
    ['endpoint not in the mesh → plain TCP to pod:target port', [client, '10.96.0.11', 80], { kind: 'service', service: 'plain', via: 'ep:plain-1', proto: 'TCP', to: '10.244.2.11:8080', authority: undefined, ids: [] }],
    ['known service without endpoints → NoHealthyUpstream', [client, '10.96.0.12', 80], { kind: 'error', reason: 'NoHealthyUpstream' }],
    ['port not on the service → NoHealthyUpstream', [client, '10.96.0.10', 81], { kind: 'error', reason: 'NoHealthyUpstream' }],
    ['unhealthy endpoints excluded', [client, '10.96.0.13', 80], { kind: 'error', reason: 'NoHealthyUpstream' }],
    ['health_policy ALLOW_ALL keeps unhealthy endpoints', [client, '10.96.0.14', 80], { kind: 'service', service: 'sick-ok', via: 'ep:sick-ok-1', proto: 'HBONE', to: '10.244.2.14:15008', authority: '10.244.2.14:8080', ids: [id('default')] }],
    ['named port: only endpoints mapping it, their own port', [client, '10.96.0.15', 80], { kind: 'service', service: 'named', via: 'ep:named-1', proto: 'HBONE', to: '10.244.2.15:15008', authority: '10.244.2.15:3000', ids: [id('default')] }],
    ['named port unmapped by every endpoint → NoHealthyUpstream', [client, '10.96.0.35', 80], { kind: 'error', reason: 'NoHealthyUpstream' }],
    ['named port mapped → that port', [client, '10.96.0.35', 443], { kind: 'service', service: 'unmapped', via: 'ep:unmapped-1', proto: 'HBONE', to: '10.244.2.35:15008', authority: '10.244.2.35:8443', ids: [id('default')] }],
    ['PASSTHROUGH mode → original destination', [client, '10.96.0.16', 80], { kind: 'passthrough', service: 'pt', proto: 'TCP', to: '10.96.0.16:80', authority: undefined, ids: [] }],
    ['service with waypoint → HBONE to waypoint, authority = VIP:port', [client, '10.96.0.20', 80],
      { kind: 'service', service: 'viawp', via: 'wp:waypoint-1', proto: 'HBONE', to: '10.244.3.100:15008', authority: '10.96.0.20:80', ids: [id('waypoint')] }],
    ['source is the service\'s waypoint → straight to the endpoint', [waypoint, '10.96.0.20', 80],
      { kind: 'service', service: 'viawp', via: 'ep:viawp-1', proto: 'HBONE', to: '10.244.2.20:15008', authority: '10.244.2.20:8080', ids: [id('default')] }],
    ['pod IP with workload waypoint → waypoint, authority = pod:port', [client, '10.244.2.21', 8080],
      { kind: 'workload', workload: 'pod-wp', via: 'wp:waypoint-1', proto: 'HBONE', to: '10.244.3.100:15008', authority: '10.244.2.21:8080', ids: [id('waypoint')] }],
    ['source is that waypoint → direct', [waypoint, '10.244.2.21', 8080],
      { kind: 'workload', workload: 'pod-wp', via: 'direct', proto: 'HBONE', to: '10.244.2.21:15008', authority: '10.244.2.21:8080', ids: [id('default')] }],
    ['waypoint identity from another IP is not the waypoint', [waypoint, '10.244.2.21', 8080, { srcIp: '10.244.9.9' }],
      { kind: 'workload', workload: 'pod-wp', via: 'wp:waypoint-1', proto: 'HBONE', to: '10.244.3.100:15008', authority: '10.244.2.21:8080', ids: [id('waypoint')] }],
    ['waypoint referenced by IP', [client, '10.244.2.22', 9000],
      { kind: 'workload', workload: 'pod-wp-ip', via: 'wp:waypoint-1', proto: 'HBONE', to: '10.244.3.100:15008', authority: '10.244.2.22:9000', ids: [id('waypoint')] }],
    ['unknown waypoint → UnknownWaypoint', [client, '10.96.0.23', 80], { kind: 'error', reason: 'UnknownWaypoint' }],
    ['pod IP in the mesh → HBONE to pod:15008, authority pod:port', [client, '10.244.2.10', 8080],
      { kind: 'workload', workload: 'web-1', via: 'direct', proto: 'HBONE', to: '10.244.2.10:15008', authority: '10.244.2.10:8080', ids: [id('web')] }],
    ['pod IP not in the mesh → plain TCP', [client, '10.244.2.30', 8080], { kind: 'workload', workload: 'outside', via: 'direct', proto: 'TCP', to: '10.244.2.30:8080', authority: undefined, ids: [] }],
    ['endpoint on another network → CrossNetwork', [client, '10.96.0.31', 80], { kind: 'error', reason: 'CrossNetwork' }],
    ['dual stack: v6 VIP picks the v6 address', [client, 'fd00:96::32', 80],
      { kind: 'service', service: 'dual', via: 'ep:dual-1', proto: 'HBONE', to: 'fd00:244::32:15008', authority: '[fd00:244::32]:8080', ids: [id('default')] }],
    ['IPV4_ONLY service dialed over v6 picks the v4 address', [client, 'fd00:96::33', 80],
      { kind: 'service', service: 'v4only', via: 'ep:v4only-1', proto: 'HBONE', to: '10.244.2.33:15008', authority: '10.244.2.33:8080', ids: [id('default')] }],
    ['hostname-only endpoint → NoValidDestination', [client, '10.96.0.34', 80], { kind: 'error', reason: 'NoValidDestination' }],
    ['not an IP → NoValidDestination', [client, 'nope', 80], { kind: 'error', reason: 'NoValidDestination' }],
  ];
  for (const [name, args, want] of rows) t.same(summary(s.resolveDestination(...args)), want, name);
});

t.test('VIP shared across namespaces: client namespace, then canonical, then first; visibility', async (t) => {
  const s = setup([
    svc('shared', { ns: 'a', vips: ['10.96.1.1'] }),
    svc('shared', { ns: 'b', vips: ['10.96.1.1'], canonical: true }),
    svc('shared', { ns: 'c', vips: ['10.96.1.1'] }),
    svc('private', { ns: 'a', vips: ['10.96.1.2'], namespaceOnly: true }),
    svc('private', { ns: 'b', vips: ['10.96.1.2'] }),
    svc('only-private', { ns: 'a', vips: ['10.96.1.3'], namespaceOnly: true }),
  ]);
  const ns = (n: string | undefined): string | undefined => s.serviceByVip('10.96.1.1', { clientNamespace: n })?.namespace;
  t.equal(ns('a'), 'a');
  t.equal(ns('c'), 'c');
  t.equal(ns('zzz'), 'b', 'canonical outside the namespaces');
  t.equal(s.serviceByVip('10.96.1.2', { clientNamespace: 'a' })?.namespace, 'a');
  t.equal(s.serviceByVip('10.96.1.2', { clientNamespace: 'z' })?.namespace, 'b', 'NAMESPACE visibility hides it elsewhere');
  t.equal(s.serviceByVip('10.96.1.3', { clientNamespace: 'z' }), undefined);
  const other = s.workloadByUid('Kubernetes//Pod/c/other-ns-client');
  if (!other) throw new Error('fixture');
  t.same(summary(s.resolveDestination(other, '10.96.1.3', 80)), { kind: 'passthrough', service: undefined, proto: 'TCP', to: '10.96.1.3:80', authority: undefined, ids: [] }, 'invisible service = unknown IP');
  t.equal(s.serviceByHostname('shared.b.svc.cluster.local', 'a')?.namespace, 'b');
  t.equal(s.serviceByHostname('private.a.svc.cluster.local', 'z'), undefined);
});

t.test('CIDR VIPs: exact first, then namespace, longest prefix, canonical', async (t) => {
  const s = setup([
    svc('wide', { ns: 'a', vips: [{ ip: '10.100.0.0', length: 16 }] }),
    svc('narrow', { ns: 'b', vips: [{ ip: '10.100.1.0', length: 24 }] }),
    svc('exact', { ns: 'b', vips: ['10.100.1.7'] }),
  ]);
  t.equal(s.serviceByVip('10.100.1.5', { clientNamespace: 'z' })?.name, 'narrow', 'longest prefix');
  t.equal(s.serviceByVip('10.100.1.5', { clientNamespace: 'a' })?.name, 'wide', 'namespace beats prefix');
  t.equal(s.serviceByVip('10.100.1.7', { clientNamespace: 'a' })?.name, 'exact', 'exact VIP beats any range');
  t.equal(s.serviceByVip('10.101.0.1'), undefined);
  s.applyAddresses([], [key('narrow', 'b')]);
  t.equal(s.serviceByVip('10.100.1.5', { clientNamespace: 'z' })?.name, 'wide', 'removed range unindexed');
});

t.test('weighted waypoints pick by weight; a zero total falls back to the waypoint field', async (t) => {
  const s = setup([
    svc('canary', { vips: ['10.96.2.1'], waypoint: WP, weighted: [{ gw: WP, weight: 1 }, { gw: { ns: 'default', host: 'wp2.default.svc.cluster.local' }, weight: 3 }] }),
    svc('wp2', { vips: ['10.96.0.101'], ports: [[15008, 15008]] }),
    wl('wp2-1', { ips: ['10.244.3.101'], sa: 'wp2', services: EP('wp2', [[15008, 15008]]) }),
    svc('zero', { vips: ['10.96.2.2'], waypoint: WP, weighted: [{ gw: { ns: 'default', host: 'wp2.default.svc.cluster.local' }, weight: 0 }] }),
  ]);
  const client = s.workloadByUid('Kubernetes//Pod/default/client');
  if (!client) throw new Error('fixture');
  const counts = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const r = s.resolveDestination(client, '10.96.2.1', 80);
    const n = r.kind === 'service' && r.waypoint ? r.waypoint.workload.name : 'none';
    counts.set(n, (counts.get(n) ?? 0) + 1);
  }
  const wp2 = counts.get('wp2-1') ?? 0;
  t.ok(wp2 > 250 && wp2 < 350, `about 3/4 to wp2 (${wp2}/400)`);
  t.equal((counts.get('waypoint-1') ?? 0) + wp2, 400);
  const z = s.resolveDestination(client, '10.96.2.2', 80);
  t.equal(z.kind === 'service' && z.waypoint?.workload.name, 'waypoint-1');
});

t.test('gatewayIncludes and targetPortFor (inbound helpers)', async (t) => {
  const s = setup();
  const wp = s.workloadByUid('Kubernetes//Pod/default/waypoint-1');
  const web = s.workloadByUid('Kubernetes//Pod/default/web-1');
  const named = s.workloadByUid('Kubernetes//Pod/default/named-1');
  const svcNamed = s.serviceByVip('10.96.0.15');
  if (!wp || !web || !named || !svcNamed) throw new Error('fixture');
  t.ok(s.gatewayIncludes({ kind: 'hostname', namespace: 'default', hostname: 'waypoint.default.svc.cluster.local', hbonePort: 15008 }, wp));
  t.notOk(s.gatewayIncludes({ kind: 'hostname', namespace: 'default', hostname: 'waypoint.default.svc.cluster.local', hbonePort: 15008 }, web));
  t.ok(s.gatewayIncludes({ kind: 'address', network: '', ip: '10.244.3.100', hbonePort: 15008 }, wp));
  t.equal(s.targetPortFor(svcNamed, named, 80), 3000);
  t.equal(s.targetPortFor(svcNamed, named, 81), undefined);
});
