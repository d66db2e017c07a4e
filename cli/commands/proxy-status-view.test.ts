// The tables of `ambit proxy-status`, from /debug/connections as the control plane serves it.
import t from 'tap';
import { controlForward, findProxy, proxyDetailTable, proxyName, proxyStatusTable, proxyType, typeColumn, type DebugConnection } from './proxy-status-view.js';

const ADDR = 'type.googleapis.com/istio.workload.Address';
const AUTHZ = 'type.googleapis.com/istio.security.Authorization';
const ROUTES = 'type.googleapis.com/ambit.l7.v1.RouteConfig';

const conns: DebugConnection[] = [
  {
    id: 3, peer: '10.244.2.8:55772', nodeId: 'router~10.244.2.8~waypoint-f31-abc.bookinfo~bookinfo.svc.cluster.local', cluster: 'Kubernetes', controlPlane: 'control-0',
    types: [
      { typeUrl: ROUTES, state: 'NACKED', sentVersion: '4', ackedVersion: '3', nackedVersion: '4', acks: 3, nacks: 1, lastNack: 'route bookinfo/reviews: bad weight', resources: 2 },
      { typeUrl: ADDR, state: 'SYNCED', sentVersion: '17', ackedVersion: '17', acks: 15, nacks: 0, resources: 16 },
    ],
  },
  {
    id: 1, peer: '10.240.0.11:59954', nodeId: 'ztunnel~10.240.0.11~ztunnel-node-1.istio-system~istio-system.svc.cluster.local', controlPlane: 'control-0', version: '0.1.0',
    types: [
      { typeUrl: ADDR, state: 'STALE', sentVersion: '18', ackedVersion: '17', acks: 15, nacks: 0, resources: 16 },
      { typeUrl: AUTHZ, state: 'SYNCED', sentVersion: '2', ackedVersion: '2', acks: 2, nacks: 0, resources: 1 },
      { typeUrl: 'type.googleapis.com/example.v1.Thing', state: 'SYNCED' },
    ],
  },
  { id: 9, peer: '10.0.0.9:1', nodeId: 'odd-id' },
];

t.test('the summary: one row per proxy, one column per type, NOT SENT where it does not subscribe', async (t) => {
  const s = proxyStatusTable(conns);
  t.same(s.header, ['NAME', 'CLUSTER', 'TYPE', 'ADDRESS', 'AUTHORIZATION', 'ROUTES', 'THING', 'ISTIOD', 'VERSION']);
  t.same(s.rows, [
    ['odd-id', 'Kubernetes', 'odd-id', 'NOT SENT', 'NOT SENT', 'NOT SENT', 'NOT SENT', 'unknown', 'unknown'],
    ['waypoint-f31-abc.bookinfo', 'Kubernetes', 'waypoint', 'SYNCED', 'NOT SENT', 'NACKED', 'NOT SENT', 'control-0', 'unknown'],
    ['ztunnel-node-1.istio-system', 'Kubernetes', 'ztunnel', 'STALE', 'SYNCED', 'NOT SENT', 'SYNCED', 'control-0', '0.1.0'],
  ]);
  t.same(proxyStatusTable([]).rows, []);
});

t.test('one proxy: versions sent, ACKed and NACKed per type, known types first', async (t) => {
  const d = proxyDetailTable(conns[0]!);
  t.same(d.header, ['TYPE', 'STATE', 'RESOURCES', 'SENT', 'ACKED', 'NACKED', 'ACKS', 'NACKS', 'LAST NACK']);
  t.same(d.rows, [
    ['ADDRESS', 'SYNCED', '16', '17', '17', '-', '15', '0', ''],
    ['ROUTES', 'NACKED', '2', '4', '3', '4', '3', '1', 'route bookinfo/reviews: bad weight'],
  ]);
});

t.test('names, types, lookup and the forward', async (t) => {
  t.equal(proxyName({ id: 1, peer: '1.2.3.4:5' }), '1.2.3.4:5', 'no node id: the peer');
  t.equal(proxyType(conns[1]!), 'ztunnel');
  t.equal(typeColumn('type.googleapis.com/ambit.l7.v1.RateLimit'), 'RATE-LIMITS');
  t.same(findProxy(conns, 'ztunnel-node-1.istio-system').map((c) => c.id), [1], 'exact');
  t.same(findProxy(conns, 'waypoint').map((c) => c.id), [3], 'prefix');
  t.same(findProxy(conns, 'nope'), []);
  t.equal(controlForward({ 'ztunnel node-1 metrics': 'a', 'control (metrics, /debug/model)': '127.0.0.1:9' }), '127.0.0.1:9');
  t.equal(controlForward({}), undefined);
});
