import t from 'tap';
import { DEFAULT_RETRY } from './defaults.js';
import { compile, condition, grpcRoute, httpRoute, serviceParent } from './testkit.js';
import type { RouteModel } from './types.js';

const WEB = 'app/web.app.svc.cluster.local';
const host = (n: string) => `${n}.app.svc.cluster.local`;
const dest = (name: string, port = 0, weight = 1) => ({ hostname: host(name), namespace: 'app', port, weight });

function routesOf(spec: Record<string, unknown>, kind: 'HTTPRoute' | 'GRPCRoute' = 'HTTPRoute'): RouteModel[] {
  const obj = kind === 'HTTPRoute' ? httpRoute('app', 'r', { parentRefs: [serviceParent('web')], ...spec }) : grpcRoute('app', 'r', { parentRefs: [serviceParent('web')], ...spec });
  const m = compile(kind === 'HTTPRoute' ? { httpRoutes: [obj] } : { grpcRoutes: [obj] });
  return m.routeConfigs.get(WEB)?.routes ?? [];
}

t.test('HTTPRoute features', async (t) => {
  const cases: Array<{ what: string; rule: Record<string, unknown>; want: Partial<RouteModel> }> = [
    { what: 'no matches: path prefix / and default retries', rule: { backendRefs: [{ name: 'api', port: 80 }] },
      want: { matches: [{ path: { prefix: '/' } }], action: { forward: [dest('api', 80)] }, retry: DEFAULT_RETRY } },
    { what: 'exact path, headers, query, method', rule: { matches: [{ path: { type: 'Exact', value: '/login' }, headers: [{ name: 'X-User', value: 'a' }, { type: 'RegularExpression', name: 'x-v', value: 'v[12]' }], queryParams: [{ name: 'debug', value: '1' }], method: 'POST' }], backendRefs: [{ name: 'web', port: 80 }] },
      want: { matches: [{ path: { exact: '/login' }, headers: [{ name: 'x-user', exact: 'a' }, { name: 'x-v', regex: 'v[12]' }], queryParams: [{ name: 'debug', exact: '1' }], method: 'POST' }] } },
    { what: 'regex path', rule: { matches: [{ path: { type: 'RegularExpression', value: '/v[0-9]+/.*' } }], backendRefs: [{ name: 'web', port: 80 }] },
      want: { matches: [{ path: { regex: '/v[0-9]+/.*' } }] } },
    { what: 'trailing slash of a prefix is ignored', rule: { matches: [{ path: { value: '/api/' } }], backendRefs: [{ name: 'web', port: 80 }] },
      want: { matches: [{ path: { prefix: '/api' } }] } },
    { what: 'weighted backends (canary), weight 0 left out', rule: { backendRefs: [{ name: 'web', port: 80, weight: 90 }, { name: 'api', port: 80, weight: 10 }, { name: 'reviews', port: 9080, weight: 0 }] },
      want: { action: { forward: [dest('web', 80, 90), dest('api', 80, 10)] } } },
    { what: 'backend without port keeps the request port', rule: { backendRefs: [{ name: 'api' }] }, want: { action: { forward: [dest('api')] } } },
    { what: 'header modifiers', rule: { filters: [
      { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-A', value: '1' }], add: [{ name: 'x-b', value: '2' }], remove: ['X-C'] } },
      { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'x-r', value: 'y' }] } }], backendRefs: [{ name: 'web', port: 80 }] },
      want: { requestHeaders: { set: { 'x-a': '1' }, add: { 'x-b': '2' }, remove: ['x-c'] }, responseHeaders: { set: { 'x-r': 'y' } } } },
    { what: 'backend-level header filter', rule: { backendRefs: [{ name: 'web', port: 80, filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-canary', value: 'no' }] } }] }] },
      want: { action: { forward: [{ ...dest('web', 80), requestHeaders: { set: { 'x-canary': 'no' } } }] } } },
    { what: 'redirect defaults to 302', rule: { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', hostname: 'example.com', port: 8443 } }] },
      want: { action: { redirect: { statusCode: 302, scheme: 'https', host: 'example.com', port: 8443 } } } },
    { what: 'redirect prefix replacement', rule: { matches: [{ path: { value: '/old' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { statusCode: 301, path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } } }] },
      want: { action: { redirect: { statusCode: 301, prefix: '/new' } } } },
    { what: 'URL rewrite full path and host', rule: { filters: [{ type: 'URLRewrite', urlRewrite: { hostname: 'api.internal', path: { type: 'ReplaceFullPath', replaceFullPath: '/v2' } } }], backendRefs: [{ name: 'api', port: 80 }] },
      want: { rewrite: { host: 'api.internal', fullPath: '/v2' } } },
    { what: 'mirror with percent', rule: { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'reviews', port: 9080 }, percent: 25 } }], backendRefs: [{ name: 'web', port: 80 }] },
      want: { mirrors: [{ destination: dest('reviews', 9080), percentage: 25 }] } },
    { what: 'mirror with fraction', rule: { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'reviews' }, fraction: { numerator: 1, denominator: 8 } } }], backendRefs: [{ name: 'web', port: 80 }] },
      want: { mirrors: [{ destination: dest('reviews'), percentage: 12.5 }] } },
    { what: 'mirror without a share mirrors everything', rule: { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'reviews' } } }], backendRefs: [{ name: 'web', port: 80 }] },
      want: { mirrors: [{ destination: dest('reviews'), percentage: 100 }] } },
    { what: 'request timeout', rule: { timeouts: { request: '5s' }, backendRefs: [{ name: 'web', port: 80 }] }, want: { timeoutMs: 5000, retry: DEFAULT_RETRY } },
    { what: '0s disables the timeout', rule: { timeouts: { request: '0s' }, backendRefs: [{ name: 'web', port: 80 }] }, want: { timeoutMs: undefined } },
    { what: 'backendRequest becomes the per-try timeout', rule: { timeouts: { request: '10s', backendRequest: '2s' }, backendRefs: [{ name: 'web', port: 80 }] },
      want: { timeoutMs: 10_000, retry: { ...DEFAULT_RETRY, perTryTimeoutMs: 2000 } } },
    { what: 'retry with codes', rule: { retry: { codes: [503, 504], attempts: 3, backoff: '100ms' }, backendRefs: [{ name: 'web', port: 80 }] },
      want: { retry: { attempts: 3, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'], retriableStatusCodes: [503, 504], backoffMs: 100 } } },
    { what: 'retry attempts default to 2', rule: { retry: {}, backendRefs: [{ name: 'web', port: 80 }] },
      want: { retry: { attempts: 2, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled'] } } },
    { what: 'retry attempts 0 disables retries', rule: { retry: { attempts: 0 }, backendRefs: [{ name: 'web', port: 80 }] }, want: { retry: undefined } },
    { what: 'weights all zero: 500', rule: { backendRefs: [{ name: 'web', port: 80, weight: 0 }] }, want: { action: { directResponse: { status: 500 } } } },
    { what: 'no backends: 500', rule: {}, want: { action: { directResponse: { status: 500 } } } },
  ];
  for (const c of cases) {
    const routes = routesOf({ rules: [c.rule] });
    t.equal(routes.length, 1, c.what);
    t.match(routes[0], c.want, c.what);
    for (const [k, v] of Object.entries(c.want)) if (v === undefined) t.equal((routes[0] as unknown as Record<string, unknown>)?.[k], undefined, `${c.what}: ${k} unset`);
  }
});

t.test('parentRef port, names and one route per match', async (t) => {
  const m = compile({ httpRoutes: [httpRoute('app', 'r', { parentRefs: [serviceParent('web', 8080)], rules: [{ matches: [{ path: { value: '/a' } }, { path: { value: '/b' } }], backendRefs: [{ name: 'web', port: 8080 }] }] })] });
  const rc = m.routeConfigs.get(WEB);
  t.same(rc?.routes.map((r) => [r.name, r.matches]), [
    ['HTTPRoute app/r rules[0].matches[0]', [{ path: { prefix: '/a' }, port: 8080 }]],
    ['HTTPRoute app/r rules[0].matches[1]', [{ path: { prefix: '/b' }, port: 8080 }]],
  ]);
  t.same(rc?.sources, ['HTTPRoute app/r']);
  t.same(m.status.get('HTTPRoute/app/r')?.parentRefs, [{ group: '', kind: 'Service', namespace: 'app', name: 'web', port: 8080 }]);
  t.match(condition(m, 'HTTPRoute/app/r', 'Accepted'), { status: 'True', reason: 'Accepted' });
  t.match(condition(m, 'HTTPRoute/app/r', 'ResolvedRefs'), { status: 'True', reason: 'ResolvedRefs' });
});

t.test('GRPCRoute', async (t) => {
  const cases: Array<{ what: string; match: Record<string, unknown>; want: unknown }> = [
    { what: 'service and method', match: { method: { service: 'pkg.Greeter', method: 'Hello' } }, want: { path: { exact: '/pkg.Greeter/Hello' } } },
    { what: 'service only', match: { method: { service: 'pkg.Greeter' } }, want: { path: { plainPrefix: '/pkg.Greeter/' } } },
    { what: 'method only', match: { method: { method: 'Hello' } }, want: { path: { regex: '/[^/]+/Hello' } } },
    { what: 'regex', match: { method: { type: 'RegularExpression', service: 'pkg\\..*' } }, want: { path: { regex: '/pkg\\..*/[^/]+' } } },
    { what: 'headers', match: { headers: [{ name: 'x-tenant', value: 't1' }] }, want: { headers: [{ name: 'x-tenant', exact: 't1' }] } },
  ];
  for (const c of cases) {
    const routes = routesOf({ rules: [{ matches: [c.match], backendRefs: [{ name: 'api', port: 80 }] }] }, 'GRPCRoute');
    t.same(routes[0]?.matches, [c.want], c.what);
    t.same(routes[0]?.retry, DEFAULT_RETRY, `${c.what}: default retries`);
  }
  const mirrored = routesOf({ rules: [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'reviews' } } }], backendRefs: [{ name: 'api', port: 80 }] }] }, 'GRPCRoute');
  t.same(mirrored[0]?.matches, [{}], 'no matches: every request');
  t.equal(mirrored[0]?.mirrors?.length, 1);
});

t.test('route errors: the route is skipped and Accepted=False names the field', async (t) => {
  const cases: Array<{ what: string; spec: Record<string, unknown>; kind?: 'GRPCRoute'; field: string; reason: string; message: RegExp }> = [
    { what: 'look-ahead path regex', spec: { rules: [{ matches: [{ path: { type: 'RegularExpression', value: '/a(?=b)' } }] }] }, field: 'spec.rules[0].matches[0].path.value', reason: 'UnsupportedValue', message: /look-ahead/ },
    { what: 'back-reference header regex', spec: { rules: [{ matches: [{ headers: [{ type: 'RegularExpression', name: 'x', value: '(a)\\1' }] }] }] }, field: 'spec.rules[0].matches[0].headers[0].value', reason: 'UnsupportedValue', message: /back-references/ },
    { what: 'unsupported filter', spec: { rules: [{ filters: [{ type: 'ExtensionRef', extensionRef: {} }] }] }, field: 'spec.rules[0].filters[0].type', reason: 'UnsupportedValue', message: /unsupported filter type "ExtensionRef"/ },
    { what: 'URLRewrite on a GRPCRoute', kind: 'GRPCRoute', spec: { rules: [{ filters: [{ type: 'URLRewrite', urlRewrite: {} }] }] }, field: 'spec.rules[0].filters[0].type', reason: 'UnsupportedValue', message: /on a GRPCRoute/ },
    { what: 'path not starting with /', spec: { rules: [{ matches: [{ path: { type: 'Exact', value: 'login' } }] }] }, field: 'spec.rules[0].matches[0].path.value', reason: 'UnsupportedValue', message: /starting with "\/"/ },
    { what: 'unknown method', spec: { rules: [{ matches: [{ method: 'FETCH' }] }] }, field: 'spec.rules[0].matches[0].method', reason: 'UnsupportedValue', message: /must be one of GET/ },
    { what: 'negative weight', spec: { rules: [{ backendRefs: [{ name: 'web', port: 80, weight: -1 }] }] }, field: 'spec.rules[0].backendRefs[0].weight', reason: 'UnsupportedValue', message: /must not be negative/ },
    { what: 'bad redirect code', spec: { rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { statusCode: 305 } }] }] }, field: 'spec.rules[0].filters[0].requestRedirect.statusCode', reason: 'UnsupportedValue', message: /301, 302, 303, 307, 308/ },
    { what: 'prefix replacement without a prefix match', spec: { rules: [{ matches: [{ path: { type: 'Exact', value: '/a' } }], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/b' } } }], backendRefs: [{ name: 'web' }] }] }, field: 'spec.rules[0].filters', reason: 'UnsupportedValue', message: /PathPrefix/ },
    { what: 'redirect with rewrite', spec: { rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: {} }, { type: 'URLRewrite', urlRewrite: {} }] }] }, field: 'spec.rules[0].filters', reason: 'UnsupportedValue', message: /cannot be used in the same rule/ },
    { what: 'bare-number timeout', spec: { rules: [{ timeouts: { request: 5 }, backendRefs: [{ name: 'web' }] }] }, field: 'spec.rules[0].timeouts.request', reason: 'UnsupportedValue', message: /duration/ },
    { what: 'backendRequest longer than request', spec: { rules: [{ timeouts: { request: '1s', backendRequest: '2s' }, backendRefs: [{ name: 'web' }] }] }, field: 'spec.rules[0].timeouts.backendRequest', reason: 'UnsupportedValue', message: /must not be longer/ },
    { what: 'retry code out of range', spec: { rules: [{ retry: { codes: [200] }, backendRefs: [{ name: 'web' }] }] }, field: 'spec.rules[0].retry.codes[0]', reason: 'UnsupportedValue', message: /at least 400/ },
    { what: 'mirror percent and fraction', spec: { rules: [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'web' }, percent: 1, fraction: { numerator: 1 } } }] }] }, field: 'spec.rules[0].filters[0].requestMirror', reason: 'UnsupportedValue', message: /not both/ },
    { what: 'missing parent Service', spec: { parentRefs: [serviceParent('nope')], rules: [{}] }, field: 'spec.parentRefs[0].name', reason: 'NoMatchingParent', message: /Service app\/nope does not exist/ },
    { what: 'parent port the Service lacks', spec: { parentRefs: [serviceParent('web', 9999)], rules: [{}] }, field: 'spec.parentRefs[0].port', reason: 'NoMatchingParent', message: /no port 9999/ },
  ];
  for (const c of cases) {
    const spec = { parentRefs: [serviceParent('web')], ...c.spec };
    const m = compile(c.kind ? { grpcRoutes: [grpcRoute('app', 'bad', spec)] } : { httpRoutes: [httpRoute('app', 'bad', spec)] });
    const key = `${c.kind ?? 'HTTPRoute'}/app/bad`;
    const cond = condition(m, key, 'Accepted');
    t.match(cond, { status: 'False', reason: c.reason }, c.what);
    t.match(cond?.message, c.field, `${c.what}: message names the field`);
    t.match(m.problems, [{ object: `${c.kind ?? 'HTTPRoute'} app/bad`, kind: c.kind ?? 'HTTPRoute', namespace: 'app', name: 'bad', field: c.field, message: c.message }], c.what);
    // The service keeps its default route: nothing of the bad route is used.
    t.same(m.routeConfigs.get(WEB)?.routes.map((r) => r.name), ['default'], `${c.what}: not applied`);
  }
});

t.test('reference errors keep the route: ResolvedRefs=False and 500 for the share', async (t) => {
  const cases: Array<{ what: string; ref: Record<string, unknown>; reason: string; field: string }> = [
    { what: 'missing Service', ref: { name: 'nope', port: 80 }, reason: 'BackendNotFound', field: 'spec.rules[0].backendRefs[1].name' },
    { what: 'port the Service lacks', ref: { name: 'api', port: 81 }, reason: 'BackendNotFound', field: 'spec.rules[0].backendRefs[1].port' },
    { what: 'not a Service', ref: { group: 'networking.istio.io', kind: 'ServiceEntry', name: 'x' }, reason: 'InvalidKind', field: 'spec.rules[0].backendRefs[1].kind' },
    { what: 'another namespace', ref: { name: 'lone', namespace: 'plain' }, reason: 'RefNotPermitted', field: 'spec.rules[0].backendRefs[1].namespace' },
  ];
  for (const c of cases) {
    const m = compile({ httpRoutes: [httpRoute('app', 'r', { parentRefs: [serviceParent('web')], rules: [{ backendRefs: [{ name: 'web', port: 80, weight: 3 }, { ...c.ref, weight: 1 }] }] })] });
    t.match(condition(m, 'HTTPRoute/app/r', 'ResolvedRefs'), { status: 'False', reason: c.reason, message: new RegExp(c.field.replace(/[[\].]/g, '\\$&')) }, c.what);
    t.match(condition(m, 'HTTPRoute/app/r', 'Accepted'), { status: 'True' }, `${c.what}: still accepted`);
    const fwd = m.routeConfigs.get(WEB)?.routes[0]?.action;
    t.match(fwd, { forward: [{ hostname: host('web'), weight: 3 }, { weight: 1, failureStatus: 500 }] }, `${c.what}: its share gets 500`);
  }
  const mirror = compile({ httpRoutes: [httpRoute('app', 'r', { parentRefs: [serviceParent('web')], rules: [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'nope' } } }], backendRefs: [{ name: 'web' }] }] })] });
  t.equal(mirror.routeConfigs.get(WEB)?.routes[0]?.mirrors, undefined, 'an unresolved mirror is dropped');
  t.match(condition(mirror, 'HTTPRoute/app/r', 'ResolvedRefs'), { status: 'False', reason: 'BackendNotFound' });
});

t.test('attachment rules', async (t) => {
  const consumer = compile({ httpRoutes: [httpRoute('plain', 'r', { parentRefs: [{ ...serviceParent('web'), namespace: 'app' }], rules: [{}] })] });
  t.match(condition(consumer, 'HTTPRoute/plain/r', 'Accepted'), { status: 'False', reason: 'NotAllowedByListeners' }, 'consumer routes are refused');
  const noWaypoint = compile({ httpRoutes: [httpRoute('plain', 'r', { parentRefs: [serviceParent('lone')], rules: [{ backendRefs: [{ name: 'lone' }] }] })] });
  t.match(condition(noWaypoint, 'HTTPRoute/plain/r', 'Accepted'), { status: 'True', message: /no waypoint serves Service plain\/lone/ }, 'accepted, with a hint');
  t.equal(noWaypoint.routeConfigs.has('plain/lone.plain.svc.cluster.local'), false, 'no waypoint, no RouteConfig');
  const north = compile({ httpRoutes: [httpRoute('app', 'ingress', { parentRefs: [{ name: 'public-gw' }], rules: [{}] })] });
  t.equal(north.status.has('HTTPRoute/app/ingress'), false, 'routes for ingress Gateways are not ours');
});

t.test('Gateway API precedence across routes', async (t) => {
  const b = [{ name: 'web', port: 80 }];
  const m = compile({
    httpRoutes: [
      httpRoute('app', 'young', { parentRefs: [serviceParent('web')], rules: [{ matches: [{ path: { value: '/' } }], backendRefs: b }, { matches: [{ path: { value: '/api' } }], backendRefs: b }] }, { creationTimestamp: '2026-01-02T00:00:00Z' }),
      httpRoute('app', 'old', { parentRefs: [serviceParent('web')], rules: [
        { matches: [{ path: { value: '/api' } }], backendRefs: b },
        { matches: [{ path: { value: '/api' }, method: 'GET' }], backendRefs: b },
        { matches: [{ path: { value: '/api' }, headers: [{ name: 'a', value: '1' }, { name: 'b', value: '2' }] }], backendRefs: b },
        { matches: [{ path: { value: '/api' }, headers: [{ name: 'a', value: '1' }] }], backendRefs: b },
        { matches: [{ path: { value: '/api' }, headers: [{ name: 'a', value: '1' }], queryParams: [{ name: 'q', value: '1' }] }], backendRefs: b },
        { matches: [{ path: { type: 'Exact', value: '/api' } }], backendRefs: b },
        { matches: [{ path: { type: 'RegularExpression', value: '/a.*' } }], backendRefs: b },
        { matches: [{ path: { value: '/api/v1' } }], backendRefs: b },
      ] }, { creationTimestamp: '2026-01-01T00:00:00Z' }),
    ],
  });
  t.same(m.routeConfigs.get(WEB)?.routes.map((r) => r.name), [
    'HTTPRoute app/old rules[5]', // exact
    'HTTPRoute app/old rules[6]', // regex
    'HTTPRoute app/old rules[7]', // longest prefix
    'HTTPRoute app/old rules[1]', // method
    'HTTPRoute app/old rules[2]', // two headers
    'HTTPRoute app/old rules[4]', // one header + query
    'HTTPRoute app/old rules[3]', // one header
    'HTTPRoute app/old rules[0]', // older route first on a tie
    'HTTPRoute app/young rules[1]',
    'HTTPRoute app/young rules[0]', // prefix /
  ]);
  const byName = compile({ httpRoutes: ['b', 'a'].map((n) => httpRoute('app', n, { parentRefs: [serviceParent('web')], rules: [{ backendRefs: b }] }, { creationTimestamp: '2026-01-01T00:00:00Z' })) });
  t.same(byName.routeConfigs.get(WEB)?.routes.map((r) => r.name), ['HTTPRoute app/a rules[0]', 'HTTPRoute app/b rules[0]'], 'same age: by name');
});
