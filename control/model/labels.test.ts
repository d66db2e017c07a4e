import t from 'tap';
import { canonicalOf, labelsMatch, parseBool, useWaypoint, workloadOf } from './labels.js';
import { canonicalIp, ipBytes, parseCidr } from './net.js';
import { byAge, parsePort, Problems, readMeta, type Meta } from './objects.js';

const meta = (name: string, labels: Record<string, string> = {}, owners: Meta['ownerReferences'] = []): Meta => ({
  id: `Pod ns/${name}`, name, namespace: 'ns', labels, annotations: {}, creationTimestamp: '', ownerReferences: owners,
});

t.test('workloadOf', async (t) => {
  const cases: Array<[string, Meta, { name: string; type: string }]> = [
    ['bare pod', meta('solo'), { name: 'solo', type: 'POD' }],
    ['hash in name, no owner', meta('web-5d8f7c9b6-x2x9z', { 'pod-template-hash': '5d8f7c9b6' }), { name: 'web', type: 'DEPLOYMENT' }],
    ['hash label but name does not carry it', meta('other', { 'pod-template-hash': 'abc' }), { name: 'other', type: 'POD' }],
    ['ReplicaSet of a Deployment', meta('p', { 'pod-template-hash': '7f9' }, [{ kind: 'ReplicaSet', name: 'api-7f9', controller: true }]), { name: 'api', type: 'DEPLOYMENT' }],
    ['bare ReplicaSet', meta('p', {}, [{ kind: 'ReplicaSet', name: 'rs', controller: true }]), { name: 'rs', type: 'POD' }],
    ['Deployment owner (local cluster)', meta('p', {}, [{ kind: 'Deployment', name: 'echo', controller: true }]), { name: 'echo', type: 'DEPLOYMENT' }],
    ['Job of a CronJob', meta('p', {}, [{ kind: 'Job', name: 'backup-28391040', controller: true }]), { name: 'backup', type: 'CRONJOB' }],
    ['plain Job', meta('p', {}, [{ kind: 'Job', name: 'migrate', controller: true }]), { name: 'migrate', type: 'JOB' }],
    ['StatefulSet', meta('db-0', {}, [{ kind: 'StatefulSet', name: 'db', controller: true }]), { name: 'db', type: 'POD' }],
    ['controller owner preferred', meta('p', {}, [{ kind: 'ConfigMap', name: 'x', controller: false }, { kind: 'Deployment', name: 'd', controller: true }]), { name: 'd', type: 'DEPLOYMENT' }],
  ];
  for (const [what, m, want] of cases) t.same(workloadOf(m), want, what);
});

t.test('canonicalOf follows Istio label precedence', async (t) => {
  const cases: Array<[Record<string, string>, { name: string; revision: string }]> = [
    [{ 'service.istio.io/canonical-name': 'c', 'app.kubernetes.io/name': 'k', app: 'a', 'service.istio.io/canonical-revision': 'r', version: 'v' }, { name: 'c', revision: 'r' }],
    [{ 'app.kubernetes.io/name': 'k', app: 'a', 'app.kubernetes.io/version': 'kv', version: 'v' }, { name: 'k', revision: 'kv' }],
    [{ app: 'a', version: 'v' }, { name: 'a', revision: 'v' }],
    [{}, { name: 'wl', revision: 'latest' }],
  ];
  for (const [labels, want] of cases) t.same(canonicalOf(labels, 'wl'), want, JSON.stringify(labels));
});

t.test('useWaypoint: object label wins, none opts out, namespace default', async (t) => {
  t.same(useWaypoint({}, 'a', {}), { kind: 'unset' });
  t.same(useWaypoint({ 'istio.io/use-waypoint': 'w' }, 'a', {}), { kind: 'ref', namespace: 'a', name: 'w', from: 'object' });
  t.same(useWaypoint({ 'istio.io/use-waypoint': 'w', 'istio.io/use-waypoint-namespace': 'b' }, 'a', {}), { kind: 'ref', namespace: 'b', name: 'w', from: 'object' });
  t.same(useWaypoint({}, 'a', { 'istio.io/use-waypoint': 'nw' }), { kind: 'ref', namespace: 'a', name: 'nw', from: 'namespace' });
  t.same(useWaypoint({ 'istio.io/use-waypoint': 'none' }, 'a', { 'istio.io/use-waypoint': 'nw' }), { kind: 'none', from: 'object' });
  t.same(useWaypoint({ 'istio.io/use-waypoint': 'own' }, 'a', { 'istio.io/use-waypoint': 'nw' }), { kind: 'ref', namespace: 'a', name: 'own', from: 'object' });
});

t.test('small helpers', async (t) => {
  t.ok(labelsMatch({}, { a: '1' }));
  t.ok(labelsMatch({ a: '1' }, { a: '1', b: '2' }));
  t.notOk(labelsMatch({ a: '1' }, { a: '2' }));
  t.same(['true', 'True', '1', 't', 'yes', 'false', undefined].map((v) => parseBool(v)), [true, true, true, true, false, false, false]);
  t.same(['80', 80, '0', 65536, '8o', 1.5, '65535'].map(parsePort), [80, 80, undefined, undefined, undefined, undefined, 65535]);
  t.equal(canonicalIp('10.0.0.1'), '10.0.0.1');
  t.equal(canonicalIp('2001:DB8:0:0::1'), '2001:db8::1');
  t.same(['010.0.0.1', '10.0.0', 'fe80::1%eth0', 'x', 7].map(canonicalIp), [undefined, undefined, undefined, undefined, undefined]);
  t.same(parseCidr('10.0.0.0/8'), { ip: '10.0.0.0', length: 8 });
  t.same(parseCidr('10.1.2.3'), { ip: '10.1.2.3', length: 32 });
  t.same(parseCidr('fd00::/8'), { ip: 'fd00::', length: 8 });
  t.same(['10.0.0.0/33', '10.0.0.0/', 'a/8', '::/129'].map(parseCidr), [undefined, undefined, undefined, undefined]);
  t.same([...ipBytes('10.244.1.5')], [10, 244, 1, 5]);
  t.equal(ipBytes('fd00::1').length, 16);
  const a = { ...meta('b'), creationTimestamp: '2024-01-01T00:00:00Z' };
  const b = { ...meta('a'), creationTimestamp: '2024-01-02T00:00:00Z' };
  const c = meta('c');
  t.same([c, b, a].sort(byAge).map((m) => m.name), ['b', 'a', 'c'], 'oldest first, no timestamp last');
});

t.test('readMeta reports what is wrong', async (t) => {
  const cases: Array<[unknown, string, string]> = [
    [{}, 'Pod <no namespace>/<no name>', 'metadata'],
    [{ metadata: { namespace: 'a' } }, 'Pod a/<no name>', 'metadata.name'],
    [{ metadata: { name: 'p' } }, 'Pod <no namespace>/p', 'metadata.namespace'],
    [{ metadata: { name: 'p', namespace: 'a', labels: { x: 1 } } }, 'Pod a/p', 'metadata.labels'],
    [{ metadata: { name: 'p', namespace: 'a', annotations: [] } }, 'Pod a/p', 'metadata.annotations'],
  ];
  for (const [obj, object, field] of cases) {
    const p = new Problems();
    t.equal(readMeta(obj, 'Pod', true, p), undefined, field);
    t.match(p.list, [{ object, field }], field);
  }
});
