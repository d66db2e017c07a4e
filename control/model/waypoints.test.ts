import t from 'tap';
import { Problems, readMeta } from './objects.js';
import { gw, svc } from './testkit.js';
import { allowsAttachment, bindService, bindWorkload, buildWaypoints, type ServiceRef, type Waypoint } from './waypoints.js';
import { resolveOptions } from './types.js';

const opts = resolveOptions();
const hostAddr = (ns: string, host: string) => ({ hostname: { namespace: ns, hostname: host }, hboneMtlsPort: 15008 });

function build(gateways: unknown[], services: ServiceRef[] = []) {
  const problems = new Problems();
  return { waypoints: buildWaypoints(gateways, services, opts, problems), problems: problems.list };
}

t.test('Gateway → waypoint', async (t) => {
  const cases: Array<{ what: string; gw: unknown; services?: ServiceRef[]; want?: Partial<Waypoint>; problem?: string }> = [
    { what: 'status hostname preferred', gw: gw('a', 'waypoint', { addresses: [{ type: 'IPAddress', value: '10.96.0.5' }, { type: 'Hostname', value: 'waypoint.a.svc.cluster.local' }] }),
      want: { trafficType: 'service', address: hostAddr('a', 'waypoint.a.svc.cluster.local') } },
    { what: 'status IP', gw: gw('a', 'waypoint', { addresses: [{ value: '10.96.0.5' }] }),
      want: { address: { address: { network: '', ip: '10.96.0.5' }, hboneMtlsPort: 15008 } } },
    { what: 'fronting Service when no status', gw: gw('a', 'wp'), services: [{ name: 'wp', namespace: 'a', labels: { 'gateway.networking.k8s.io/gateway-name': 'wp' } }],
      want: { address: hostAddr('a', 'wp.a.svc.cluster.local') } },
    { what: 'Service in another namespace does not count', gw: gw('a', 'wp'), services: [{ name: 'wp', namespace: 'b', labels: { 'gateway.networking.k8s.io/gateway-name': 'wp' } }],
      want: { address: undefined } },
    { what: 'waypoint-for label', gw: gw('a', 'w', { labels: { 'istio.io/waypoint-for': 'all' } }), want: { trafficType: 'all' } },
    { what: 'allowedRoutes All', gw: gw('a', 'w', { allowedFrom: 'All' }), want: { allowed: { from: 'All' } } },
    { what: 'bad waypoint-for', gw: gw('a', 'w', { labels: { 'istio.io/waypoint-for': 'pods' } }), problem: "metadata.labels['istio.io/waypoint-for']" },
    { what: 'no name', gw: { ...gw('a', 'x'), metadata: { namespace: 'a' } }, problem: 'metadata.name' },
    { what: 'no class', gw: { ...gw('a', 'x'), spec: {} }, problem: 'spec.gatewayClassName' },
    { what: 'reserved name', gw: gw('a', 'none'), problem: 'metadata.name' },
    { what: 'bad allowedRoutes', gw: gw('a', 'w', { allowedFrom: 'Some' }), problem: 'spec.listeners[].allowedRoutes.namespaces.from' },
  ];
  for (const c of cases) {
    const { waypoints, problems } = build([c.gw], c.services);
    if (c.problem) {
      t.equal(waypoints.size, 0, c.what);
      t.match(problems, [{ field: c.problem }], c.what);
    } else {
      t.same(problems, [], c.what);
      t.match(waypoints.get(`a/${(c.gw as { metadata: { name: string } }).metadata.name}`), c.want ?? {}, c.what);
    }
  }
  const other = build([gw('a', 'ingress', { className: 'istio' }), gw('a', 'sandwich', { className: 'istio', addresses: [{ value: '10.0.0.9' }] })]);
  t.same([...other.waypoints.keys()], ['a/sandwich'], 'other classes only once they report an address');
  const dup = build([gw('a', 'w'), gw('a', 'w')]);
  t.equal(dup.waypoints.size, 1);
  t.match(dup.problems, [{ message: /duplicate/ }]);
});

t.test('attachment from other namespaces', async (t) => {
  const { waypoints } = build([
    gw('a', 'same'),
    gw('a', 'all', { allowedFrom: 'All' }),
    gw('a', 'sel', { allowedFrom: 'Selector', selector: { matchLabels: { team: 'x' }, matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] } }),
  ]);
  const w = (n: string) => waypoints.get(`a/${n}`) as Waypoint;
  t.ok(allowsAttachment(w('same'), 'a', {}));
  t.notOk(allowsAttachment(w('same'), 'b', {}));
  t.ok(allowsAttachment(w('all'), 'b', {}));
  t.ok(allowsAttachment(w('sel'), 'b', { team: 'x' }));
  t.notOk(allowsAttachment(w('sel'), 'b', { team: 'x', env: 'prod' }));
  t.notOk(allowsAttachment(w('sel'), 'b', { team: 'y' }));
});

t.test('binding services and workloads', async (t) => {
  const { waypoints } = build([
    gw('a', 'svc-wp', { addresses: [{ type: 'Hostname', value: 'svc-wp.a.svc.cluster.local' }] }),
    gw('a', 'wl-wp', { labels: { 'istio.io/waypoint-for': 'workload' }, addresses: [{ type: 'Hostname', value: 'wl-wp.a.svc.cluster.local' }] }),
    gw('a', 'all-wp', { labels: { 'istio.io/waypoint-for': 'all' }, addresses: [{ type: 'Hostname', value: 'all-wp.a.svc.cluster.local' }], allowedFrom: 'All' }),
    gw('a', 'none-wp', { labels: { 'istio.io/waypoint-for': 'none' }, addresses: [{ type: 'Hostname', value: 'none-wp.a.svc.cluster.local' }] }),
    gw('a', 'pending'),
  ]);
  const p = new Problems();
  const m = (namespace: string, labels: Record<string, string>) => readMeta(svc(namespace, 'x', { labels }), 'Service', true, p)!;
  const use = (name: string, extra: Record<string, string> = {}) => ({ 'istio.io/use-waypoint': name, ...extra });
  const svcCases: Array<[string, ReturnType<typeof m>, Record<string, string>, string | undefined, string | undefined]> = [
    ['no label', m('a', {}), {}, undefined, undefined],
    ['service waypoint', m('a', use('svc-wp')), {}, 'svc-wp', 'WaypointAccepted'],
    ['all waypoint', m('a', use('all-wp')), {}, 'all-wp', 'WaypointAccepted'],
    ['workload-only waypoint', m('a', use('wl-wp')), {}, undefined, 'UnsupportedTrafficType'],
    ['none-type waypoint', m('a', use('none-wp')), {}, undefined, 'UnsupportedTrafficType'],
    ['missing', m('a', use('nope')), {}, undefined, 'WaypointNotFound'],
    ['no address yet', m('a', use('pending')), {}, undefined, 'WaypointNotReady'],
    ['namespace label', m('a', {}), use('svc-wp'), 'svc-wp', 'WaypointAccepted'],
    ['service opts out', m('a', use('none')), use('svc-wp'), undefined, undefined],
    ['service label overrides namespace', m('a', use('all-wp')), use('svc-wp'), 'all-wp', 'WaypointAccepted'],
    ['cross-namespace, Same', m('b', use('svc-wp', { 'istio.io/use-waypoint-namespace': 'a' })), {}, undefined, 'AttachmentDenied'],
    ['cross-namespace, All', m('b', use('all-wp', { 'istio.io/use-waypoint-namespace': 'a' })), {}, 'all-wp', 'WaypointAccepted'],
    ['waypoint service itself', m('a', { 'gateway.networking.k8s.io/gateway-name': 'svc-wp' }), use('svc-wp'), undefined, undefined],
  ];
  for (const [what, meta, nsLabels, want, reason] of svcCases) {
    const b = bindService(meta, nsLabels, waypoints);
    t.same(b.waypoint && 'hostname' in b.waypoint ? b.waypoint.hostname.hostname.split('.')[0] : undefined, want, `${what}: waypoint`);
    t.equal(b.condition?.reason, reason, `${what}: condition`);
    if (reason) t.equal(b.condition?.status, reason === 'WaypointAccepted' ? 'True' : 'False');
  }
  const wlCases: Array<[string, ReturnType<typeof m>, Record<string, string>, string | undefined]> = [
    ['workload waypoint', m('a', use('wl-wp')), {}, 'wl-wp'],
    ['all waypoint', m('a', use('all-wp')), {}, 'all-wp'],
    ['service-only waypoint on pod', m('a', use('svc-wp')), {}, undefined],
    ['service-only waypoint from namespace: silently none', m('a', {}), use('svc-wp'), undefined],
    ['namespace workload waypoint', m('a', {}), use('wl-wp'), 'wl-wp'],
    ['pod opts out', m('a', use('none')), use('wl-wp'), undefined],
  ];
  for (const [what, meta, nsLabels, want] of wlCases) {
    const w = bindWorkload(meta, nsLabels, waypoints);
    t.equal(w && 'hostname' in w ? w.hostname.hostname.split('.')[0] : undefined, want, what);
  }
});
