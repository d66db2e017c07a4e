import t from 'tap';
import type { Caller } from '../ca/authn.js';
import { admitStream, isWaypointAccount, parseNodeId } from './admission.js';

const ZT = 'ztunnel~10.0.0.5~ztunnel-abc.istio-system~istio-system.svc.cluster.local';
const WP = 'router~10.244.1.9~waypoint-xyz.demo~demo.svc.cluster.local';
const node = (nodeName: string): Caller => ({ kind: 'node', nodeName });
const wl = (ns: string, sa: string): Caller => ({ kind: 'workload', identity: `spiffe://cluster.local/ns/${ns}/sa/${sa}` });
const ctx = { isWaypointAccount: (ns: string, sa: string) => ns === 'demo' && sa === 'waypoint' };

t.test('who may subscribe', async (t) => {
  const cases: Array<[string, Caller, string, Record<string, string>, RegExp | true]> = [
    ['ztunnel of its own node', node('n1'), ZT, { NODE_NAME: 'n1' }, true],
    ['waypoint with its node credential', node('n1'), WP, { NODE_NAME: 'n1' }, true],
    ['ztunnel claiming another node', node('n1'), ZT, { NODE_NAME: 'n2' }, /claims node "n2".*credential is for node "n1"/],
    ['no NODE_NAME', node('n1'), ZT, {}, /NODE_NAME is missing/],
    ['bare node id', node('n1'), 'ztunnel-n1', { NODE_NAME: 'n1' }, /is not <type>~<ip>/],
    ['sidecar type', node('n1'), 'sidecar~1.2.3.4~p.demo~demo.svc.cluster.local', { NODE_NAME: 'n1' }, /neither "ztunnel" nor "router"/],
    ['waypoint service account', wl('demo', 'waypoint'), WP, {}, true],
    ['workload credential as a ztunnel', wl('demo', 'waypoint'), ZT.replace(/istio-system/g, 'demo'), {}, /is a ztunnel, but its credential is the workload/],
    ['any workload', wl('demo', 'web'), WP, {}, /not the service account of an istio-waypoint Gateway/],
    ['waypoint account, node id in another namespace', wl('demo', 'waypoint'), WP.replace(/demo/g, 'other'), {}, /in namespace "other".*namespace "demo"/],
  ];
  for (const [name, caller, id, metadata, want] of cases) {
    const a = admitStream(caller, { id, metadata }, ctx);
    if (want === true) t.same(a, { admitted: true }, name);
    else t.match(a, { admitted: false, reason: want }, name);
  }
});

t.test('node ids', async (t) => {
  t.match(parseNodeId(ZT), { type: 'ztunnel', ip: '10.0.0.5', podName: 'ztunnel-abc', namespace: 'istio-system' });
  t.match(parseNodeId('router~1.2.3.4~p~demo.svc'), /is not <pod>.<namespace>/);
  t.match(parseNodeId('router~1.2.3.4~p.demo~other.svc'), /not in namespace "demo"/);
  t.match(parseNodeId('ztunnel~~p.demo~demo.svc'), { ip: '' }, 'the IP may be empty (a ztunnel outside a pod)');
});

t.test('waypoint accounts are those of istio-waypoint Gateways', async (t) => {
  const gw = (ns: string, name: string, cls: string) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { namespace: ns, name }, spec: { gatewayClassName: cls } });
  const all = [gw('demo', 'waypoint', 'istio-waypoint'), gw('demo', 'ingress', 'istio')];
  t.equal(isWaypointAccount(all, 'demo', 'waypoint'), true);
  t.equal(isWaypointAccount(all, 'demo', 'ingress'), false, 'another class');
  t.equal(isWaypointAccount(all, 'other', 'waypoint'), false, 'another namespace');
});
