import t from 'tap';
import { fromBinary } from '@bufbuild/protobuf';
import { L7AuthorizationSchema, L7Authorization_Action } from '../../../lib/proto/gen/ambit/l7/v1/authorization_pb.js';
import { DestinationPolicySchema, LoadBalancer_Policy } from '../../../lib/proto/gen/ambit/l7/v1/destination_pb.js';
import { GlobalLimit_Unit, RateLimitSchema } from '../../../lib/proto/gen/ambit/l7/v1/ratelimit_pb.js';
import { RouteConfigSchema } from '../../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { DEFAULT_RETRY } from './defaults.js';
import { encodeL7, l7Versions } from './resources.js';
import { authorizationPolicy, compile, destinationRule, httpRoute, rateLimitPolicy, serviceParent, virtualService } from './testkit.js';

t.test('every service a waypoint serves gets a RouteConfig; the default route goes to the service', async (t) => {
  const m = compile({});
  t.same([...m.routeConfigs.keys()], ['app/api.app.svc.cluster.local', 'app/reviews.app.svc.cluster.local', 'app/web.app.svc.cluster.local'], 'not plain/lone: no waypoint');
  t.same(m.routeConfigs.get('app/api.app.svc.cluster.local'), {
    name: 'app/api.app.svc.cluster.local',
    hostname: 'api.app.svc.cluster.local',
    namespace: 'app',
    waypoint: 'app/waypoint',
    routes: [{ name: 'default', matches: [], action: { forward: [{ hostname: 'api.app.svc.cluster.local', namespace: 'app', port: 0, weight: 1 }] }, retry: DEFAULT_RETRY }],
    sources: [],
  });
  t.same(m.problems, []);
  t.equal(m.status.size, 0);
});

t.test('a service opted out with use-waypoint=none, or a waypoint not ready, gets nothing', async (t) => {
  const m = compile({ services: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'out', namespace: 'app', labels: { 'istio.io/use-waypoint': 'none' } }, spec: { selector: { app: 'out' }, ports: [{ port: 80 }], clusterIP: '10.96.1.1' } }] });
  t.equal(m.routeConfigs.has('app/out.app.svc.cluster.local'), false);
  const notReady = compile({ gateways: [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'waypoint', namespace: 'app' }, spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } }] });
  t.equal(notReady.routeConfigs.size, 0, 'no address yet: not served');
});

t.test('encoded resources decode to the same content, and versions are stable', async (t) => {
  const snapshot = {
    httpRoutes: [httpRoute('app', 'r', { parentRefs: [serviceParent('web')], rules: [{
      matches: [{ path: { type: 'RegularExpression', value: '/v[0-9]' }, headers: [{ name: 'x', value: 'y' }] }],
      filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'api' }, percent: 10 } }, { type: 'URLRewrite', urlRewrite: { hostname: 'h' } }],
      backendRefs: [{ name: 'web', port: 80, weight: 2 }, { name: 'gone', weight: 1 }],
      timeouts: { request: '1.25s' },
      retry: { attempts: 4, codes: [503] },
    }] })],
    virtualServices: [virtualService('app', 'vs', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }], fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 5 } }, delay: { fixedDelay: '250ms', percentage: { value: 1 } } } }] })],
    destinationRules: [destinationRule('app', 'dr', { host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: 's', ttl: '10s' } } }, connectionPool: { tcp: { maxConnections: 7 } }, outlierDetection: {} }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] })],
    authorizationPolicies: [authorizationPolicy('app', 'p', { targetRefs: [{ kind: 'Service', name: 'web' }], action: 'DENY', rules: [{ from: [{ source: { ipBlocks: ['10.1.0.0/16'] } }], when: [{ key: 'request.headers[x-a]', values: ['b*'] }] }] })],
    rateLimitPolicies: [rateLimitPolicy('app', 'rl', { targetRefs: [{ kind: 'Service', name: 'web' }], local: { tokens: 3, fillInterval: '1s' }, global: { redis: { address: 'redis:6379' }, limits: [{ requests: 9, unit: 'Day', descriptors: [{ header: { name: 'x-user' } }] }] } })],
  };
  const m = compile(snapshot);

  const rc = fromBinary(RouteConfigSchema, encodeL7('routeConfigs', m.routeConfigs.get('app/web.app.svc.cluster.local')!));
  const r = rc.routes[0]!;
  t.equal(rc.waypoint, 'app/waypoint');
  t.match(r.matches[0], { path: { kind: { case: 'regex', value: '/v[0-9]' } }, headers: [{ name: 'x', kind: { case: 'exact', value: 'y' } }] });
  t.equal(r.action.case, 'forward');
  const dests = r.action.case === 'forward' ? r.action.value.destinations : [];
  t.match(dests, [{ hostname: 'web.app.svc.cluster.local', port: 80, weight: 2, failureStatus: 0 }, { hostname: 'gone.app.svc.cluster.local', weight: 1, failureStatus: 500 }]);
  t.match(r.timeout, { seconds: 1n, nanos: 250_000_000 });
  t.match(r.retry, { attempts: 4, retriableStatusCodes: [503] });
  t.match(r.mirrors, [{ percentage: 10, destination: { hostname: 'api.app.svc.cluster.local' } }]);
  t.match(r.rewrite, { host: 'h', path: { case: undefined } });

  const vsRoute = fromBinary(RouteConfigSchema, encodeL7('routeConfigs', m.routeConfigs.get('app/reviews.app.svc.cluster.local')!)).routes[0]!;
  t.match(vsRoute.fault, { abort: { error: { case: 'grpcStatus', value: 14 }, percentage: 5 }, delay: { fixedDelay: { seconds: 0n, nanos: 250_000_000 }, percentage: 1 } });
  t.match(vsRoute.action.value, { destinations: [{ subset: 'v1', subsetLabels: { version: 'v1' } }] });

  const dp = fromBinary(DestinationPolicySchema, encodeL7('destinationPolicies', m.destinationPolicies.get('app/reviews.app.svc.cluster.local')!));
  t.equal(dp.trafficPolicy?.loadBalancer?.policy, LoadBalancer_Policy.CONSISTENT_HASH);
  t.match(dp.trafficPolicy?.loadBalancer?.consistentHash, { key: { case: 'cookie', value: { name: 's', ttl: { seconds: 10n } } }, minimumRingSize: 1024n });
  t.equal(dp.trafficPolicy?.connectionPool?.maxConnections, 7);
  t.equal(dp.trafficPolicy?.connectionPool?.maxRetries, undefined, 'unset limits stay unset (unlimited)');
  t.match(dp.trafficPolicy?.outlierDetection, { consecutive5xxErrors: 5, interval: { seconds: 10n }, baseEjectionTime: { seconds: 30n }, maxEjectionPercent: 10 });
  t.equal(dp.subsets[0]?.name, 'v1');

  const ap = fromBinary(L7AuthorizationSchema, encodeL7('authorizations', m.authorizations.get('app/p')!));
  t.equal(ap.action, L7Authorization_Action.DENY);
  t.match(ap.targets, [{ waypoint: 'app/waypoint', hostnames: ['web.app.svc.cluster.local'] }]);
  t.same([...(ap.rules[0]?.from[0]?.ipBlocks[0]?.address ?? [])], [10, 1, 0, 0]);
  t.match(ap.rules[0]?.when[0], { header: 'x-a', values: [{ matchType: { case: 'prefix', value: 'b' } }] });

  const rl = fromBinary(RateLimitSchema, encodeL7('rateLimits', m.rateLimits.get('app/rl')!));
  t.match(rl.local, { maxTokens: 3, tokensPerFill: 3, fillInterval: { seconds: 1n } });
  t.match(rl.global, { redisAddress: 'redis:6379', limits: [{ requestsPerUnit: 9n, unit: GlobalLimit_Unit.DAY, descriptors: [{ key: { case: 'header', value: 'x-user' } }] }] });

  const v1 = l7Versions(m);
  t.same(l7Versions(compile(snapshot)), v1, 'same content, same versions');
  const changed = l7Versions(compile({ ...snapshot, rateLimitPolicies: [rateLimitPolicy('app', 'rl', { targetRefs: [{ kind: 'Service', name: 'web' }], local: { tokens: 4, fillInterval: '1s' } })] }));
  t.not(changed.rateLimits.get('app/rl'), v1.rateLimits.get('app/rl'), 'a change gives a new version');
  t.equal(changed.routeConfigs.get('app/web.app.svc.cluster.local'), v1.routeConfigs.get('app/web.app.svc.cluster.local'), 'other resources keep theirs');
});
