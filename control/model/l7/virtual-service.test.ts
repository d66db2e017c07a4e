import t from 'tap';
import { DEFAULT_RETRY } from './defaults.js';
import { compile, condition, destinationRule, httpRoute, serviceParent, virtualService } from './testkit.js';
import type { RouteModel } from './types.js';

const REVIEWS = 'app/reviews.app.svc.cluster.local';
const host = (n: string) => `${n}.app.svc.cluster.local`;
const subsets = destinationRule('app', 'reviews', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] });

function routesOf(http: unknown[], extra: Record<string, unknown> = {}): RouteModel[] {
  const m = compile({ virtualServices: [virtualService('app', 'vs', { hosts: ['reviews'], http, ...extra })], destinationRules: [subsets] });
  return m.routeConfigs.get(REVIEWS)?.routes ?? [];
}

t.test('VirtualService features', async (t) => {
  const to = (subset?: string) => ({ destination: { host: 'reviews', ...(subset ? { subset } : {}) } });
  const cases: Array<{ what: string; http: Record<string, unknown>; want: Record<string, unknown> }> = [
    { what: 'one destination takes all traffic, default retries', http: { route: [to()] },
      want: { matches: [], action: { forward: [{ hostname: host('reviews'), namespace: 'app', port: 0, weight: 100 }] }, retry: DEFAULT_RETRY, timeoutMs: undefined } },
    { what: 'matches', http: { match: [{ uri: { prefix: '/api' }, headers: { 'X-User': { exact: 'jason' }, 'x-any': {} }, withoutHeaders: { 'x-test': { regex: 'y.*' } }, queryParams: { q: { exact: '1' } }, method: { exact: 'GET' }, port: 9080 }], route: [to()] },
      want: { matches: [{ path: { plainPrefix: '/api' }, headers: [{ name: 'x-user', exact: 'jason' }, { name: 'x-any', present: true }, { name: 'x-test', regex: 'y.*', invert: true }], queryParams: [{ name: 'q', exact: '1' }], method: 'GET', port: 9080 }] } },
    { what: 'weighted subsets resolve to labels', http: { route: [{ ...to('v1'), weight: 75 }, { ...to('v2'), weight: 25 }] },
      want: { action: { forward: [
        { hostname: host('reviews'), subset: 'v1', subsetLabels: { version: 'v1' }, weight: 75 },
        { hostname: host('reviews'), subset: 'v2', subsetLabels: { version: 'v2' }, weight: 25 }] } } },
    { what: 'destination port and headers', http: { route: [{ destination: { host: 'reviews.app.svc.cluster.local', port: { number: 9080 } }, headers: { request: { set: { 'X-A': 'b' } } } }] },
      want: { action: { forward: [{ port: 9080, requestHeaders: { set: { 'x-a': 'b' } } }] } } },
    { what: 'retries', http: { route: [to()], retries: { attempts: 3, perTryTimeout: '2s', retryOn: 'gateway-error,503', backoff: '50ms' } },
      want: { retry: { attempts: 3, perTryTimeoutMs: 2000, retryOn: ['gateway-error', 'retriable-status-codes'], retriableStatusCodes: [503], backoffMs: 50 } } },
    { what: 'retries attempts 0 disables them', http: { route: [to()], retries: { attempts: 0 } }, want: { retry: undefined } },
    { what: 'timeout', http: { route: [to()], timeout: '1.5s' }, want: { timeoutMs: 1500 } },
    { what: 'fault delay and abort', http: { route: [to()], fault: { delay: { fixedDelay: '7s', percentage: { value: 50 } }, abort: { httpStatus: 503, percentage: { value: 10.5 } } } },
      want: { fault: { delay: { fixedDelayMs: 7000, percentage: 50 }, abort: { httpStatus: 503, percentage: 10.5 } } } },
    { what: 'gRPC abort by name, legacy percent', http: { route: [to()], fault: { abort: { grpcStatus: 'UNAVAILABLE', percent: 20 } } }, want: { fault: { abort: { grpcStatus: 14, percentage: 20 } } } },
    { what: 'fault without percentage affects no request', http: { route: [to()], fault: { delay: { fixedDelay: '1s' } } }, want: { fault: { delay: { fixedDelayMs: 1000, percentage: 0 } } } },
    { what: 'mirror + mirrorPercentage', http: { route: [to()], mirror: { host: 'web' }, mirrorPercentage: { value: 5 } }, want: { mirrors: [{ destination: { hostname: host('web') }, percentage: 5 }] } },
    { what: 'mirror without percentage: all', http: { route: [to()], mirrors: [{ destination: { host: 'web', subset: undefined } }] }, want: { mirrors: [{ destination: { hostname: host('web') }, percentage: 100 }] } },
    { what: 'rewrite', http: { match: [{ uri: { prefix: '/old' } }], route: [to()], rewrite: { uri: '/new', authority: 'reviews.internal' } }, want: { rewrite: { prefix: '/new', host: 'reviews.internal' } } },
    { what: 'redirect defaults to 301', http: { redirect: { uri: '/v2', authority: 'other', scheme: 'https', port: 8443 } },
      want: { action: { redirect: { statusCode: 301, fullPath: '/v2', host: 'other', scheme: 'https', port: 8443 } } } },
    { what: 'direct response', http: { directResponse: { status: 418, body: { string: 'teapot' } } }, want: { action: { directResponse: { status: 418, body: 'teapot' } } } },
    { what: 'headers', http: { route: [to()], headers: { request: { add: { 'x-b': '1' }, remove: ['X-C'] }, response: { set: { 'x-d': '2' } } } },
      want: { requestHeaders: { add: { 'x-b': '1' }, remove: ['x-c'] }, responseHeaders: { set: { 'x-d': '2' } } } },
  ];
  for (const c of cases) {
    const routes = routesOf([c.http]);
    t.equal(routes.length, 1, c.what);
    t.match(routes[0], c.want, c.what);
    for (const [k, v] of Object.entries(c.want)) if (v === undefined) t.equal((routes[0] as unknown as Record<string, unknown>)?.[k], undefined, `${c.what}: ${k} unset`);
  }
});

t.test('VirtualService errors: skipped, WaypointAccepted=False names the field', async (t) => {
  const cases: Array<{ what: string; spec: Record<string, unknown>; field: string; reason: string; message: RegExp }> = [
    { what: 'look-behind regex', spec: { http: [{ match: [{}, { uri: { regex: '(?<=a)b' } }], route: [{ destination: { host: 'reviews' } }] }] }, field: 'spec.http[0].match[1].uri.regex', reason: 'UnsupportedValue', message: /look-behind/ },
    { what: 'weights all zero', spec: { http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 0 }, { destination: { host: 'reviews', subset: 'v2' } }] }] }, field: 'spec.http[0].route', reason: 'Invalid', message: /weights are all 0/ },
    { what: 'negative weight', spec: { http: [{ route: [{ destination: { host: 'reviews' }, weight: -5 }] }] }, field: 'spec.http[0].route[0].weight', reason: 'Invalid', message: /must not be negative/ },
    { what: 'no action', spec: { http: [{ match: [{ uri: { exact: '/' } }] }] }, field: 'spec.http[0]', reason: 'Invalid', message: /needs a route, a redirect or a directResponse/ },
    { what: 'two actions', spec: { http: [{ route: [{ destination: { host: 'reviews' } }], redirect: { uri: '/' } }] }, field: 'spec.http[0]', reason: 'Invalid', message: /route and redirect/ },
    { what: 'unknown retryOn', spec: { http: [{ route: [{ destination: { host: 'reviews' } }], retries: { attempts: 1, retryOn: '5xx,sometimes' } }] }, field: 'spec.http[0].retries.retryOn', reason: 'Invalid', message: /unknown retry condition "sometimes"/ },
    { what: 'bad grpc status', spec: { http: [{ route: [{ destination: { host: 'reviews' } }], fault: { abort: { grpcStatus: 'NOPE' } } }] }, field: 'spec.http[0].fault.abort.grpcStatus', reason: 'Invalid', message: /gRPC status name/ },
    { what: 'percentage over 100', spec: { http: [{ route: [{ destination: { host: 'reviews' } }], fault: { delay: { fixedDelay: '1s', percentage: { value: 150 } } } }] }, field: 'spec.http[0].fault.delay.percentage.value', reason: 'Invalid', message: /between 0 and 100/ },
    { what: 'negative timeout', spec: { http: [{ route: [{ destination: { host: 'reviews' } }], timeout: '-1s' }] }, field: 'spec.http[0].timeout', reason: 'Invalid', message: /must not be negative/ },
    { what: 'delegate', spec: { http: [{ delegate: { name: 'x' } }] }, field: 'spec.http[0].delegate', reason: 'UnsupportedValue', message: /delegation/ },
    { what: 'sourceNamespace', spec: { http: [{ match: [{ sourceNamespace: 'x' }], route: [{ destination: { host: 'reviews' } }] }] }, field: 'spec.http[0].match[0].sourceNamespace', reason: 'UnsupportedValue', message: /not supported/ },
    { what: 'no hosts', spec: { hosts: [], http: [] }, field: 'spec.hosts', reason: 'Invalid', message: /at least one host/ },
  ];
  for (const c of cases) {
    const m = compile({ virtualServices: [virtualService('app', 'bad', { hosts: ['reviews'], ...c.spec })], destinationRules: [subsets] });
    const cond = condition(m, 'VirtualService/app/bad', 'WaypointAccepted');
    t.match(cond, { status: 'False', reason: c.reason, message: c.field }, c.what);
    t.match(m.problems, [{ kind: 'VirtualService', namespace: 'app', name: 'bad', field: c.field, message: c.message }], c.what);
    t.same(m.routeConfigs.get(REVIEWS)?.routes.map((r) => r.name), ['default'], `${c.what}: not applied`);
  }
});

t.test('unresolved destinations keep the VirtualService: PartiallyInvalid and 503', async (t) => {
  const cases: Array<{ what: string; destination: Record<string, unknown>; field: string; message: RegExp }> = [
    { what: 'unknown subset', destination: { host: 'reviews', subset: 'v3' }, field: 'spec.http[0].route[1].destination.subset', message: /no DestinationRule defines subset "v3"/ },
    { what: 'unknown host', destination: { host: 'ratings' }, field: 'spec.http[0].route[1].destination.host', message: /no Service has the hostname ratings\.app\.svc\.cluster\.local/ },
    { what: 'unknown port', destination: { host: 'reviews', port: { number: 1 } }, field: 'spec.http[0].route[1].destination.port.number', message: /no port 1/ },
  ];
  for (const c of cases) {
    const m = compile({ virtualServices: [virtualService('app', 'vs', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 50 }, { destination: c.destination, weight: 50 }] }] })], destinationRules: [subsets] });
    t.match(condition(m, 'VirtualService/app/vs', 'WaypointAccepted'), { status: 'False', reason: 'PartiallyInvalid' }, c.what);
    t.match(m.problems, [{ field: c.field, message: c.message }], c.what);
    t.match(m.routeConfigs.get(REVIEWS)?.routes[0]?.action, { forward: [{ subset: 'v1' }, { failureStatus: 503 }] }, `${c.what}: 503 for its share`);
  }
});

t.test('merging, catch-all, mesh binding and precedence', async (t) => {
  const r = (uri: string) => ({ match: [{ uri: { prefix: uri } }], route: [{ destination: { host: 'reviews' } }] });
  const catchAll = { route: [{ destination: { host: 'reviews' } }] };
  const m = compile({
    virtualServices: [
      virtualService('app', 'b', { hosts: ['reviews'], http: [r('/b')] }, { creationTimestamp: '2026-01-02T00:00:00Z' }),
      virtualService('app', 'a', { hosts: ['reviews.app.svc.cluster.local'], http: [r('/a'), catchAll, r('/never')] }, { creationTimestamp: '2026-01-01T00:00:00Z' }),
      virtualService('app', 'ingress', { hosts: ['reviews'], gateways: ['istio-system/public'], http: [r('/ingress')] }),
    ],
  });
  const rc = m.routeConfigs.get(REVIEWS);
  t.same(rc?.routes.map((x) => x.name), ['VirtualService app/a http[0]', 'VirtualService app/a http[1]'], 'oldest first; the catch-all ends the list');
  t.same(rc?.sources, ['VirtualService app/a']);
  t.match(condition(m, 'VirtualService/app/b', 'WaypointAccepted'), { status: 'True', message: /never reached/ });
  t.equal(m.status.has('VirtualService/app/ingress'), false, 'gateway-only VirtualServices are not ours');

  const named = compile({ virtualServices: [virtualService('app', 'n', { hosts: ['reviews'], http: [{ name: 'canary', ...catchAll }] })] });
  t.equal(named.routeConfigs.get(REVIEWS)?.routes[0]?.name, 'VirtualService app/n canary');

  const wildcard = compile({ virtualServices: [virtualService('app', 'w', { hosts: ['*.app.svc.cluster.local'], http: [catchAll] })] });
  t.same([...wildcard.routeConfigs.values()].filter((c) => c.sources.length).map((c) => c.hostname).sort(), [host('api'), host('reviews'), host('web')], 'wildcard hosts');
  const star = compile({ virtualServices: [virtualService('app', 's', { hosts: ['*'], http: [catchAll] })] });
  t.same([...star.routeConfigs.values()].filter((c) => c.sources.length).map((c) => c.hostname).sort(), [host('api'), host('reviews'), host('web')], '* covers every host of the namespace');

  const gatewayMatch = compile({ virtualServices: [virtualService('app', 'g', { hosts: ['reviews'], http: [{ match: [{ gateways: ['public'] }], ...catchAll }, r('/mesh')] })] });
  t.same(gatewayMatch.routeConfigs.get(REVIEWS)?.routes.map((x) => x.name), ['VirtualService app/g http[1]'], 'routes only for other gateways are left out');

  const other = compile({ virtualServices: [virtualService('plain', 'x', { hosts: ['reviews.app.svc.cluster.local'], http: [catchAll] })] });
  t.same(other.routeConfigs.get(REVIEWS)?.routes.map((x) => x.name), ['default'], 'a VirtualService in another namespace is a consumer route: ignored');

  const both = compile({
    virtualServices: [virtualService('app', 'vs', { hosts: ['reviews'], http: [catchAll] })],
    httpRoutes: [httpRoute('app', 'hr', { parentRefs: [serviceParent('reviews')], rules: [{ backendRefs: [{ name: 'reviews', port: 9080 }] }] })],
  });
  t.same(both.routeConfigs.get(REVIEWS)?.sources, ['HTTPRoute app/hr'], 'an HTTPRoute overrides a VirtualService');
  t.match(condition(both, 'VirtualService/app/vs', 'WaypointAccepted'), { status: 'True', message: /HTTPRoute or GRPCRoute attaches to Service app\/reviews and takes precedence/ });

  const warn = compile({ virtualServices: [virtualService('app', 'w', { hosts: ['reviews'], http: [{ match: [{ sourceLabels: { app: 'x' } }], ...catchAll }] })] });
  t.match(condition(warn, 'VirtualService/app/w', 'WaypointAccepted'), { status: 'True', message: /sourceLabels/ }, 'sourceLabels are dropped with a warning');
  t.same(warn.routeConfigs.get(REVIEWS)?.routes[0]?.matches, [{}]);
});
