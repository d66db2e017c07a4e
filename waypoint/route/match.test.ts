import t from 'tap';
import { pathMatches, segmentPrefixMatches, selectRoute } from './match.js';
import { match, request, route } from './testkit.js';

t.test('Gateway API path prefixes match whole segments', async (t) => {
  const rows: Array<[string, string, boolean]> = [
    ['/foo', '/foo', true],
    ['/foo', '/foo/bar', true],
    ['/foo', '/foobar', false],
    ['/foo/', '/foo', true],
    ['/foo/', '/foo/x', true],
    ['/', '/anything', true],
    ['/a/b', '/a', false],
  ];
  for (const [prefix, path, want] of rows) t.equal(segmentPrefixMatches(prefix, path), want, `${prefix} vs ${path}`);
});

t.test('path match kinds', async (t) => {
  const rows: Array<[Parameters<typeof match>[0]['path'], string, boolean]> = [
    [{ kind: { case: 'exact', value: '/a' } }, '/a', true],
    [{ kind: { case: 'exact', value: '/a' } }, '/a/', false],
    [{ kind: { case: 'plainPrefix', value: '/ab' } }, '/abc', true],
    [{ kind: { case: 'regex', value: '/v[0-9]+/.*' } }, '/v2/x', true],
    [{ kind: { case: 'regex', value: '/v[0-9]+' } }, '/v2/x', false],
    [{ kind: { case: 'regex', value: '(' } }, '(', false],
    // RE2 spellings the control plane accepts (found by the fuzz tier: they matched nothing here).
    [{ kind: { case: 'regex', value: '(?i)/API/.*' } }, '/api/x', true],
    [{ kind: { case: 'regex', value: '/users/(?P<id>[0-9]+)' } }, '/users/7', true],
    [{ kind: { case: 'regex', value: '/a\\-b' } }, '/a-b', true],
    [undefined, '/whatever', true],
  ];
  for (const [p, path, want] of rows) t.equal(pathMatches(match({ path: p }).path, path), want, `${JSON.stringify(p?.kind)} vs ${path}`);
});

t.test('routes are tried in order; matches OR-ed, fields AND-ed', async (t) => {
  const routes = [
    route('v2-header', [{ headers: [{ name: 'x-version', kind: { case: 'exact', value: 'v2' } }] }]),
    route('post-api', [{ method: 'POST', path: { kind: { case: 'prefix', value: '/api' } } }]),
    route('query-or-port', [{ queryParams: [{ name: 'debug', kind: { case: 'present', value: true } }] }, { port: 9090 }]),
    route('not-beta', [{ headers: [{ name: 'x-beta', kind: { case: 'present', value: true }, invert: true }], path: { kind: { case: 'exact', value: '/only' } } }]),
    route('regex-header', [{ headers: [{ name: 'user-agent', kind: { case: 'regex', value: '.*curl.*' } }] }]),
    route('catch-all'),
  ];
  const rows: Array<[string, Parameters<typeof request>[0], string]> = [
    ['header exact', { headers: { 'x-version': 'v2' } }, 'v2-header'],
    ['header exact, other value', { headers: { 'x-version': 'v1' } }, 'catch-all'],
    ['method and prefix', { method: 'POST', path: '/api/x' }, 'post-api'],
    ['method only', { method: 'GET', path: '/api/x' }, 'catch-all'],
    ['prefix is a segment prefix', { method: 'POST', path: '/apix' }, 'catch-all'],
    ['query present', { query: 'a=1&debug' }, 'query-or-port'],
    ['second match: port', { port: 9090 }, 'query-or-port'],
    ['inverted header absent', { path: '/only' }, 'not-beta'],
    ['inverted header present', { path: '/only', headers: { 'x-beta': '1' } }, 'catch-all'],
    ['regex on a header', { headers: { 'user-agent': 'curl/8.0' } }, 'regex-header'],
    ['repeated header joined', { headers: { 'x-version': ['v2'] } }, 'v2-header'],
  ];
  for (const [name, req, want] of rows) t.equal(selectRoute(routes, request(req))?.route.name, want, name);
});

t.test('no route accepts: undefined (the waypoint answers 404)', async (t) => {
  const routes = [route('only-x', [{ path: { kind: { case: 'exact', value: '/x' } } }])];
  t.equal(selectRoute(routes, request({ path: '/y' })), undefined);
  const sel = selectRoute(routes, request({ path: '/x' }));
  t.equal(sel?.index, 0);
  t.equal(sel?.match?.path?.kind.value, '/x');
});

t.test('query parameter kinds', async (t) => {
  const mk = (kind: NonNullable<Parameters<typeof match>[0]['queryParams']>[number]['kind']) => [route('q', [{ queryParams: [{ name: 'v', kind }] }])];
  t.ok(selectRoute(mk({ case: 'exact', value: 'a b' }), request({ query: 'v=a%20b' })), 'decoded before comparing');
  t.ok(selectRoute(mk({ case: 'prefix', value: 'ab' }), request({ query: 'v=abc' })));
  t.notOk(selectRoute(mk({ case: 'regex', value: 'a+' }), request({ query: 'v=ab' })));
  t.ok(selectRoute(mk({ case: 'present', value: false }), request({ query: 'w=1' })));
  t.ok(selectRoute(mk({ case: 'exact', value: '1' }), request({ query: 'v=1&v=2' })), 'the first value counts');
});
