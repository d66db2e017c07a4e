import t from 'tap';
import { create } from '@bufbuild/protobuf';
import { anyPack, StructSchema } from '@bufbuild/protobuf/wkt';
import { L7AuthorizationSchema } from '../../lib/proto/gen/ambit/l7/v1/authorization_pb.js';
import { RouteConfigSchema } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { AddressSchema, AppProtocol, type Address } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import { targetPortOf } from './addresses.js';
import { WaypointState } from './state.js';

const WP = 'app/waypoint';
const HOST = 'web.app.svc.cluster.local';
const svc = (vip: number[]): Address =>
  create(AddressSchema, { type: { case: 'service', value: { name: 'web', namespace: 'app', hostname: HOST, addresses: [{ address: Uint8Array.from(vip) }], ports: [{ servicePort: 80, targetPort: 8080, appProtocol: AppProtocol.HTTP11 }, { servicePort: 81, targetPort: 0 }] } } });
const pod = (uid: string, ip: number[], version: string, extra: Record<string, string> = {}): Address =>
  create(AddressSchema, {
    type: {
      case: 'workload',
      value: {
        uid,
        name: uid,
        namespace: 'app',
        addresses: [Uint8Array.from(ip)],
        serviceAccount: 'web',
        canonicalName: 'web',
        canonicalRevision: version,
        services: { [`app/${HOST}`]: { ports: [{ servicePort: 80, targetPort: 8080 }, { servicePort: 81, targetPort: 9191 }] } },
        extensions: Object.keys(extra).length ? [{ name: 'ambit.dev/labels', config: anyPack(StructSchema, create(StructSchema, { fields: Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, { kind: { case: 'stringValue' as const, value: v } }])) })) }] : [],
      },
    },
  });

t.test('services by VIP and hostname, endpoints with labels, named target ports', async (t) => {
  const s = new WaypointState(WP);
  s.applyAddresses([{ name: `app/${HOST}`, value: svc([10, 96, 0, 1]) }, { name: 'p1', value: pod('p1', [10, 244, 0, 5], 'v1', { tier: 'gold' }) }, { name: 'p2', value: pod('p2', [10, 244, 0, 6], 'v2') }], []);
  const service = s.serviceByVip('10.96.0.1')!;
  t.equal(service, s.serviceByHostname(HOST));
  t.same(service.ports.map((p) => p.appProtocol), ['HTTP11', 'UNKNOWN']);
  const eps = s.endpoints(service.key);
  t.same(eps.map((e) => [e.ip, e.identity, e.labels.version]), [['10.244.0.5', 'spiffe://cluster.local/ns/app/sa/web', 'v1'], ['10.244.0.6', 'spiffe://cluster.local/ns/app/sa/web', 'v2']]);
  t.equal(eps[0]!.labels.tier, 'gold', 'labels from the ambit.dev/labels extension');
  t.equal(targetPortOf(service, eps[0]!, 81), 9191, 'a named port resolves per workload');
  t.equal(s.workloadByIp('10.244.0.6')?.uid, 'p2');
  const gen = s.generation;
  s.applyAddresses([], ['p1']);
  t.same(s.endpoints(service.key).map((e) => e.uid), ['p2']);
  t.ok(s.generation > gen);
});

t.test('a bad resource rejects the whole response and changes nothing', async (t) => {
  const s = new WaypointState(WP);
  s.applyAddresses([{ name: 'p1', value: pod('p1', [10, 244, 0, 5], 'v1') }], []);
  const bad = pod('p2', [10, 244, 0], 'v1');
  t.throws(() => s.applyAddresses([{ name: 'p3', value: pod('p3', [10, 244, 0, 7], 'v1') }, { name: 'p2', value: bad }], ['p1']), /Address "p2": workload.addresses\[0\]: address has 3 bytes/);
  t.ok(s.workloadByIp('10.244.0.5'), 'the last good state stays');
  t.equal(s.workloadByIp('10.244.0.7'), undefined);
});

t.test('only L7 resources targeting this waypoint are kept', async (t) => {
  const s = new WaypointState(WP);
  const rc = (waypoint: string) => create(RouteConfigSchema, { name: `app/${HOST}`, hostname: HOST, namespace: 'app', waypoint, routes: [{ name: waypoint }] });
  s.applyRouteConfigs([{ name: `app/${HOST}`, value: rc('app/other') }], []);
  t.equal(s.routeConfig(HOST), undefined);
  t.same(s.counts().ignored, 1);
  s.applyRouteConfigs([{ name: `app/${HOST}`, value: rc(WP) }], []);
  t.equal(s.routeConfig(HOST)?.routes[0]?.name, WP);
  t.same(s.counts().ignored, 0);
  s.applyRouteConfigs([{ name: `app/${HOST}`, value: rc('app/other') }], []);
  t.equal(s.routeConfig(HOST), undefined, 'retargeted elsewhere: dropped');

  const authz = (name: string, targets: Array<{ waypoint: string; hostnames?: string[] }>) => create(L7AuthorizationSchema, { name, namespace: 'app', targets });
  s.applyAuthorizations([
    { name: 'app/all', value: authz('all', [{ waypoint: WP }]) },
    { name: 'app/web-only', value: authz('web-only', [{ waypoint: WP, hostnames: [HOST] }]) },
    { name: 'app/elsewhere', value: authz('elsewhere', [{ waypoint: 'app/other' }]) },
  ], []);
  t.same(s.authorizations(HOST).map((p) => p.name), ['all', 'web-only']);
  t.same(s.authorizations('db.app.svc.cluster.local').map((p) => p.name), ['all']);
  s.applyAuthorizations([], ['app/all']);
  t.same(s.authorizations('db.app.svc.cluster.local'), []);
});
