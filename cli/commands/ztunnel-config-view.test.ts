// The tables of `ambit ztunnel-config`, from a /config_dump as ztunnel writes it.
import t from 'tap';
import { table } from '../format.js';
import { certificatesTable, connectionsTable, endpointCount, mergeNodes, parseSection, policiesTable, sectionTable, servicesTable, waypointName, workloadsTable, ztunnelAdmins, type ConfigDump } from './ztunnel-config-view.js';

const dump: ConfigDump = {
  workloads: [
    { uid: 'Kubernetes//Pod/bookinfo/reviews-v1-1', name: 'reviews-v1-1', namespace: 'bookinfo', addresses: ['10.244.1.5'], node: 'node1', tunnelProtocol: 'HBONE', status: 'HEALTHY', services: { 'bookinfo/reviews.bookinfo.svc.cluster.local': { '9080': 9080 } } },
    { uid: 'Kubernetes//Pod/bookinfo/reviews-v2-1', name: 'reviews-v2-1', namespace: 'bookinfo', addresses: ['10.244.2.5'], node: 'node2', tunnelProtocol: 'HBONE', status: 'UNHEALTHY', services: { 'bookinfo/reviews.bookinfo.svc.cluster.local': { '9080': 9080 } } },
    {
      uid: 'Kubernetes//Pod/bookinfo/waypoint-1', name: 'waypoint-1', namespace: 'bookinfo', addresses: ['10.244.1.9'], node: 'node1', tunnelProtocol: 'HBONE',
      waypoint: { kind: 'hostname', namespace: 'bookinfo', hostname: 'waypoint.bookinfo.svc.cluster.local', hbonePort: 15008 },
    },
    { uid: 'Kubernetes//Pod/default/plain-1', name: 'plain-1', namespace: 'default', addresses: [], node: '', tunnelProtocol: 'NONE' },
  ],
  services: [
    { key: 'bookinfo/reviews.bookinfo.svc.cluster.local', name: 'reviews', namespace: 'bookinfo', hostname: 'reviews.bookinfo.svc.cluster.local', vips: [{ network: '', ip: '10.96.0.20' }], waypoint: { kind: 'hostname', namespace: 'bookinfo', hostname: 'waypoint.bookinfo.svc.cluster.local', hbonePort: 15008 } },
    { key: 'bookinfo/details.bookinfo.svc.cluster.local', name: 'details', namespace: 'bookinfo', hostname: 'details.bookinfo.svc.cluster.local', vips: [] },
  ],
  policies: [
    { key: 'bookinfo/deny-ratings', name: 'deny-ratings', namespace: 'bookinfo', scope: 'WORKLOAD_SELECTOR', action: 'DENY' },
    { key: 'istio-system/mesh', name: 'mesh', namespace: 'istio-system', scope: 'GLOBAL', action: 'ALLOW' },
    { key: 'bookinfo/ns', name: 'ns', namespace: 'bookinfo', scope: 'NAMESPACE', action: 'ALLOW' },
  ],
  certificates: [
    { identity: 'spiffe://cluster.local/ns/bookinfo/sa/reviews', state: 'available', serialNumber: 'ab12', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-01-02T00:00:00.000Z' },
    { identity: 'spiffe://cluster.local/ns/bookinfo/sa/details', state: 'initializing' },
  ],
  connections: [
    { srcIp: '10.244.1.9', srcIdentity: 'spiffe://cluster.local/ns/bookinfo/sa/waypoint', dstIp: '10.244.1.5', dstPort: 9080, workload: 'Kubernetes//Pod/bookinfo/reviews-v1-1', protocol: 'HBONE' },
    { srcIp: '10.244.0.3', dstIp: 'fd00::5', dstPort: 9080, workload: 'Kubernetes//Pod/gone/x' },
    { direction: 'outbound', srcIp: '10.244.2.5', srcPort: 40100, srcIdentity: 'spiffe://cluster.local/ns/bookinfo/sa/reviews', dstIp: '10.244.1.9', dstPort: 15008, originalDst: '10.96.0.30:9080', workload: 'Kubernetes//Pod/bookinfo/reviews-v2-1', protocol: 'HBONE' },
  ],
};

t.test('workloads: NAMESPACE POD NAME ADDRESS NODE WAYPOINT PROTOCOL, sorted', async (t) => {
  const w = workloadsTable(dump);
  t.same(w.header, ['NAMESPACE', 'POD NAME', 'ADDRESS', 'NODE', 'WAYPOINT', 'PROTOCOL']);
  t.same(w.rows, [
    ['bookinfo', 'reviews-v1-1', '10.244.1.5', 'node1', 'None', 'HBONE'],
    ['bookinfo', 'reviews-v2-1', '10.244.2.5', 'node2', 'None', 'HBONE'],
    ['bookinfo', 'waypoint-1', '10.244.1.9', 'node1', 'waypoint', 'HBONE'],
    ['default', 'plain-1', 'None', 'None', 'None', 'TCP'],
  ]);
  t.equal(table(w.header, w.rows).split('\n')[0], 'NAMESPACE   POD NAME       ADDRESS      NODE    WAYPOINT   PROTOCOL');
});

t.test('services: the VIPs, the waypoint, healthy/total endpoints', async (t) => {
  const s = servicesTable(dump);
  t.same(s.header, ['NAMESPACE', 'SERVICE NAME', 'SERVICE VIP', 'WAYPOINT', 'ENDPOINTS']);
  t.same(s.rows, [
    ['bookinfo', 'details', 'None', 'None', '0/0'],
    ['bookinfo', 'reviews', '10.96.0.20', 'waypoint', '1/2'],
  ]);
  t.equal(endpointCount(dump.services![0]!, []), '0/0');
});

t.test('policies: action and scope in Istio words', async (t) => {
  t.same(policiesTable(dump).rows, [
    ['bookinfo', 'deny-ratings', 'Deny', 'WorkloadSelector'],
    ['bookinfo', 'ns', 'Allow', 'Namespace'],
    ['istio-system', 'mesh', 'Allow', 'Global'],
  ]);
});

t.test('certificates: valid only inside the validity window', async (t) => {
  const inside = certificatesTable(dump, Date.parse('2026-01-01T12:00:00Z'));
  t.same(inside.header, ['CERTIFICATE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE']);
  t.same(inside.rows, [
    ['spiffe://cluster.local/ns/bookinfo/sa/details', 'Leaf', 'Initializing', 'false', 'None', 'None', 'None'],
    ['spiffe://cluster.local/ns/bookinfo/sa/reviews', 'Leaf', 'Available', 'true', 'ab12', '2026-01-02T00:00:00.000Z', '2026-01-01T00:00:00.000Z'],
  ]);
  t.equal(certificatesTable(dump, Date.parse('2026-01-02T00:00:00Z')).rows[1]![3], 'false', 'expired at notAfter');
});

t.test('connections: both directions, named workload, IPv6 in brackets, protocol from the dump or the identity', async (t) => {
  const c = connectionsTable(dump);
  t.same(c.header, ['WORKLOAD', 'DIRECTION', 'LOCAL', 'REMOTE', 'REMOTE TARGET', 'PROTOCOL']);
  t.same(c.rows, [
    ['Kubernetes//Pod/gone/x', 'Inbound', '[fd00::5]:9080', '10.244.0.3', 'None', 'TCP'],
    ['reviews-v1-1.bookinfo', 'Inbound', '10.244.1.5:9080', '10.244.1.9', 'spiffe://cluster.local/ns/bookinfo/sa/waypoint', 'HBONE'],
    ['reviews-v2-1.bookinfo', 'Outbound', '10.244.2.5:40100', '10.96.0.30:9080', '10.244.1.9:15008', 'HBONE'],
  ]);
});

t.test('an empty dump gives the headers and no rows', async (t) => {
  for (const s of ['workloads', 'services', 'policies', 'certificates', 'connections'] as const) t.same(sectionTable(s, {}).rows, [], s);
});

t.test('sections, nodes and forwards', async (t) => {
  t.equal(parseSection('workload'), 'workloads');
  t.equal(parseSection('certificates'), 'certificates');
  t.throws(() => parseSection('routes'), /unknown type "routes"; use one of workloads, services/);
  t.equal(waypointName({ kind: 'address', network: '', ip: '10.0.0.1', hbonePort: 15008 }), '10.0.0.1');
  t.same(mergeNodes([{ node: 'n1', table: { header: ['A'], rows: [['x']] } }, { node: 'n2', table: { header: ['A'], rows: [['y'], ['z']] } }]), { header: ['NODE', 'A'], rows: [['n1', 'x'], ['n2', 'y'], ['n2', 'z']] });
  t.same([...ztunnelAdmins({ 'ztunnel node1 admin (/config_dump)': '127.0.0.1:1', 'ztunnel node1 metrics': '127.0.0.1:2', 'ztunnel node2 admin (/config_dump)': '127.0.0.1:3', frontend: '127.0.0.1:4' })], [['node1', '127.0.0.1:1'], ['node2', '127.0.0.1:3']]);
});
