import t from 'tap';
import { Problems } from './objects.js';
import { appProtocolOf, buildServices, parseServices, type NamespaceInfo } from './services.js';
import { gw, svc } from './testkit.js';
import { resolveOptions, type ServiceModel } from './types.js';
import { buildWaypoints } from './waypoints.js';

const opts = resolveOptions();

function run(objs: unknown[], namespaces: Map<string, NamespaceInfo> = new Map(), gateways: unknown[] = []) {
  const problems = new Problems();
  const parsed = parseServices(objs, opts, problems);
  const waypoints = buildWaypoints(gateways, parsed.map((p) => p.meta), opts, problems);
  return { ...buildServices(parsed, namespaces, waypoints, opts), parsed, problems: problems.list };
}

t.test('Service fields', async (t) => {
  const cases: Array<{ what: string; obj: unknown; want: Partial<ServiceModel> }> = [
    {
      what: 'basic',
      obj: svc('default', 'web', { ports: [{ name: 'http', port: 80, targetPort: 8080 }, { port: 443 }] }),
      want: {
        name: 'web', namespace: 'default', hostname: 'web.default.svc.cluster.local',
        addresses: [{ network: '', ip: '10.96.0.10' }],
        ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 'HTTP11' }, { servicePort: 443, targetPort: 443, appProtocol: 'UNKNOWN' }],
        subjectAltNames: [], ipFamilies: 'IPV4_ONLY', canonical: true, ingressUseWaypoint: false,
      },
    },
    { what: 'named target port → 0', obj: svc('d', 's', { ports: [{ port: 80, targetPort: 'web' }, { port: 81, targetPort: '8081' }] }),
      want: { ports: [{ servicePort: 80, targetPort: 0, appProtocol: 'UNKNOWN' }, { servicePort: 81, targetPort: 8081, appProtocol: 'UNKNOWN' }] } },
    { what: 'headless', obj: svc('d', 's', { clusterIP: 'None' }), want: { addresses: [], ipFamilies: 'AUTOMATIC' } },
    { what: 'dual stack', obj: svc('d', 's', { spec: { clusterIPs: ['10.96.0.1', 'fd00::1'] } }), want: { addresses: [{ network: '', ip: '10.96.0.1' }, { network: '', ip: 'fd00::1' }], ipFamilies: 'DUAL' } },
    { what: 'appProtocol wins over name', obj: svc('d', 's', { ports: [{ name: 'http', port: 80, appProtocol: 'grpc' }, { name: 'http2-x', port: 81 }] }),
      want: { ports: [{ servicePort: 80, targetPort: 80, appProtocol: 'GRPC' }, { servicePort: 81, targetPort: 81, appProtocol: 'HTTP2' }] } },
    { what: 'internalTrafficPolicy Local', obj: svc('d', 's', { spec: { internalTrafficPolicy: 'Local' } }), want: { loadBalancing: { routingPreference: ['NODE'], mode: 'STRICT', healthPolicy: 'ONLY_HEALTHY' } } },
    { what: 'PreferClose', obj: svc('d', 's', { spec: { trafficDistribution: 'PreferClose' } }), want: { loadBalancing: { routingPreference: ['NETWORK', 'REGION', 'ZONE'], mode: 'FAILOVER', healthPolicy: 'ONLY_HEALTHY' } } },
    { what: 'publishNotReadyAddresses', obj: svc('d', 's', { spec: { publishNotReadyAddresses: true } }), want: { loadBalancing: { routingPreference: [], mode: 'UNSPECIFIED', healthPolicy: 'ALLOW_ALL' } } },
    { what: 'SANs from annotations', obj: svc('d', 's', { annotations: { 'alpha.istio.io/kubernetes-serviceaccounts': 'a, b', 'alpha.istio.io/canonical-serviceaccounts': 'spiffe://other/ns/x/sa/y' } }),
      want: { subjectAltNames: ['spiffe://cluster.local/ns/d/sa/a', 'spiffe://cluster.local/ns/d/sa/b', 'spiffe://other/ns/x/sa/y'] } },
    { what: 'ingress-use-waypoint', obj: svc('d', 's', { labels: { 'istio.io/ingress-use-waypoint': 'true' } }), want: { ingressUseWaypoint: true } },
  ];
  for (const c of cases) {
    const r = run([c.obj]);
    t.same(r.problems, [], c.what);
    t.match([...r.services.values()][0], c.want, c.what);
  }
  const pn = run([svc('d', 's')], new Map([['d', { labels: {}, annotations: { 'networking.istio.io/traffic-distribution': 'PreferSameNode' } }]]));
  t.same(pn.services.get('d/s.d.svc.cluster.local')?.loadBalancing?.routingPreference, ['NETWORK', 'REGION', 'ZONE', 'SUBZONE', 'NODE'], 'namespace annotation');
  t.equal(run([svc('d', 'ext', { spec: { type: 'ExternalName', externalName: 'x.com' } })]).services.size, 0, 'ExternalName left out');
});

t.test('bad Services are skipped with a problem, others still flow', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['non-numeric port', svc('d', 'bad', { ports: [{ port: 'eighty' }] }), 'spec.ports[0].port'],
    ['port out of range', svc('d', 'bad', { ports: [{ port: 80 }, { port: 70000 }] }), 'spec.ports[1].port'],
    ['bad target port', svc('d', 'bad', { ports: [{ port: 80, targetPort: 0 }] }), 'spec.ports[0].targetPort'],
    ['ports not a list', svc('d', 'bad', { spec: { ports: { a: 1 } } }), 'spec.ports'],
    ['bad cluster IP', svc('d', 'bad', { clusterIP: '10.96.0.300' }), 'spec.clusterIP'],
    ['bad selector', svc('d', 'bad', { selector: { app: 1 } as unknown as Record<string, string> }), 'spec.selector'],
    ['spec not an object', { ...svc('d', 'bad'), spec: 'x' }, 'spec'],
    ['no name', { ...svc('d', 'bad'), metadata: { namespace: 'd' } }, 'metadata.name'],
  ];
  for (const [what, obj, field] of cases) {
    const r = run([obj, svc('d', 'good')]);
    t.same([...r.services.keys()], ['d/good.d.svc.cluster.local'], what);
    t.equal(r.problems.length, 1, what);
    t.match(r.problems[0], { object: /^Service d\//, field }, what);
  }
  const dup = run([svc('d', 'a'), svc('d', 'a')]);
  t.equal(dup.services.size, 1);
  t.match(dup.problems, [{ object: 'Service d/a', message: /duplicate/ }]);
});

t.test('waypoint binding and status', async (t) => {
  const r = run(
    [svc('d', 'bound', { labels: { 'istio.io/use-waypoint': 'waypoint' } }), svc('d', 'plain'), svc('d', 'lost', { labels: { 'istio.io/use-waypoint': 'gone' } }),
      svc('d', 'waypoint', { labels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' }, selector: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } })],
    new Map([['d', { labels: {}, annotations: {} }]]),
    [gw('d', 'waypoint')],
  );
  t.same(r.services.get('d/bound.d.svc.cluster.local')?.waypoint, { hostname: { namespace: 'd', hostname: 'waypoint.d.svc.cluster.local' }, hboneMtlsPort: 15008 });
  t.equal(r.services.get('d/plain.d.svc.cluster.local')?.waypoint, undefined);
  t.equal(r.services.get('d/waypoint.d.svc.cluster.local')?.waypoint, undefined, 'the waypoint Service itself is never bound');
  t.match(r.status.get('d/bound'), { kind: 'Service', conditions: [{ type: 'istio.io/WaypointBound', status: 'True', message: 'bound to d/waypoint' }] });
  t.match(r.status.get('d/lost'), { conditions: [{ status: 'False', reason: 'WaypointNotFound' }] });
  t.notOk(r.status.has('d/plain'));
});

t.test('appProtocolOf', async (t) => {
  t.same([['http', undefined], ['http-web', undefined], ['grpc-x', undefined], ['tcp', 'kubernetes.io/h2c'], ['https', undefined], ['', undefined]].map(([n, a]) => appProtocolOf(n as string, a)),
    ['HTTP11', 'HTTP11', 'GRPC', 'HTTP2', 'UNKNOWN', 'UNKNOWN']);
});
