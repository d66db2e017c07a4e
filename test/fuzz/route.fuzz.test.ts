// The waypoint's first look at a tunnel (protocol detection, forwarded, hop-by-hop headers) and
// its route matching under arbitrary requests and RE2 patterns. The control plane
// judges a pattern once (regexProblem); the waypoint compiles and matches it on every request.
// The two must agree: a pattern the control plane accepts is one the waypoint matches with, and
// no pattern or request makes matching throw or stall.
import { create } from '@bufbuild/protobuf';
import fc from 'fast-check';
import t from 'tap';
import { RouteSchema, type Route } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { compileRe2, regexProblem } from '../../lib/regex/re2.js';
import { buildForwarded } from '../../lib/hbone/headers.js';
import { forwardable } from '../../waypoint/listener/hop-by-hop.js';
import { sourceIpOf } from '../../waypoint/listener/listener.js';
import { detectProtocol } from '../../waypoint/listener/sniff.js';
import { fullMatch, selectRoute } from '../../waypoint/route/match.js';
import type { RouteRequest } from '../../waypoint/route/request.js';
import { fuzz } from './harness.js';

/** Small regular expressions from a grammar (RE2 and JS syntax alike), plus arbitrary text. */
const { re } = fc.letrec<{ re: string; atom: string }>((tie) => ({
  atom: fc.oneof(
    { arbitrary: fc.constantFrom('a', 'b', '/', '.', '\\d', '\\w', '[ab]', '[^/]', '\\-', '\\.', '\\p{L}', '[a-z]', '\\/'), weight: 5 },
    { arbitrary: tie('re').map((r) => `(${r})`), weight: 1 },
    { arbitrary: tie('re').map((r) => `(?:${r})`), weight: 1 },
    { arbitrary: tie('re').map((r) => `(?P<g>${r})`), weight: 1 },
  ),
  re: fc.oneof(
    { arbitrary: tie('atom'), weight: 3 },
    { arbitrary: fc.tuple(tie('atom'), fc.constantFrom('*', '+', '?', '{2}', '{1,3}', '*?')).map(([a, q]) => a + q), weight: 2 },
    { arbitrary: fc.tuple(tie('re'), tie('re')).map(([a, b]) => a + b), weight: 2 },
    { arbitrary: fc.tuple(tie('re'), tie('re')).map(([a, b]) => `${a}|${b}`), weight: 1 },
  ),
}));
const pattern = fc.oneof(
  { arbitrary: re, weight: 4 },
  { arbitrary: re.map((r) => `(?i)${r}`), weight: 1 },
  { arbitrary: fc.string({ maxLength: 16 }), weight: 2 },
  { arbitrary: fc.string({ unit: fc.constantFrom(...'()[]{}?*+|\\^$.:=!<>Pkia1-'.split('')), maxLength: 12 }), weight: 2 },
);
const value = fc.string({ unit: fc.constantFrom('a', 'b', 'A', '/', '1', '-', '.', 'é', '😀'), maxLength: 16 });

t.test('regular expressions', async (t) => {
  fuzz(t, 'waypoint regex (control plane and waypoint agree)', [pattern, value], (p, v) => {
    const problem = regexProblem(p);
    const compiled = compileRe2(p);
    if (problem === undefined && typeof compiled === 'string') throw new Error(`the control plane accepts ${JSON.stringify(p)} but the waypoint cannot compile it: ${compiled}`);
    if (problem !== undefined && typeof compiled !== 'string') throw new Error(`the control plane refuses ${JSON.stringify(p)} (${problem}) but the waypoint compiles it`);
    const hit = fullMatch(p, v);
    if (typeof compiled === 'string') return !hit;
    const want = compiled.test(v);
    if (hit !== want) throw new Error(`${JSON.stringify(p)} against ${JSON.stringify(v)}: waypoint says ${hit}, the compiled pattern ${want}`);
  }, { weight: 5 });
});

const name = fc.constantFrom('x-user', 'user-agent', 'cookie', 'x-version');
const str = fc.string({ maxLength: 8 });
const kind = fc.oneof(
  str.map((value) => ({ case: 'exact' as const, value })),
  str.map((value) => ({ case: 'prefix' as const, value })),
  pattern.map((value) => ({ case: 'regex' as const, value })),
  fc.boolean().map((value) => ({ case: 'present' as const, value })),
  fc.constant({ case: undefined }),
);
const route: fc.Arbitrary<Route> = fc
  .array(
    fc.record({
      method: fc.constantFrom('', 'GET', 'POST'),
      port: fc.constantFrom(0, 80, 8080),
      path: fc.option(fc.oneof(str.map((value) => ({ kind: { case: 'exact' as const, value } })), fc.constantFrom('/', '/api', '/api/').map((value) => ({ kind: { case: 'prefix' as const, value } })), pattern.map((value) => ({ kind: { case: 'regex' as const, value } }))), { nil: undefined }),
      headers: fc.array(fc.record({ name, invert: fc.boolean(), kind }), { maxLength: 2 }),
      queryParams: fc.array(fc.record({ name: fc.constantFrom('v', 'debug'), kind }), { maxLength: 2 }),
    }),
    { maxLength: 3 },
  )
  .map((matches) => create(RouteSchema, { matches } as Parameters<typeof create<typeof RouteSchema>>[1]));
const request: fc.Arbitrary<RouteRequest> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'DELETE'),
  path: fc.oneof(fc.constantFrom('/', '/api', '/api/v1', '/apix'), fc.string({ maxLength: 20 })),
  query: fc.oneof(fc.constantFrom('', 'v=1', 'debug&v=%zz', 'v=%E0%A4%A'), fc.string({ maxLength: 20 })),
  headers: fc.dictionary(name, fc.oneof(str, fc.array(str, { maxLength: 3 })), { maxKeys: 3 }),
  port: fc.constantFrom(80, 8080),
});

t.test('selectRoute', async (t) => {
  fuzz(t, 'waypoint route matching', [fc.array(route, { maxLength: 4 }), request], (routes, req) => {
    const sel = selectRoute(routes, req);
    if (sel && routes[sel.index] !== sel.route) throw new Error('selected route is not the one at its index');
  }, { weight: 3 });
});

const firstBytes = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  fc.tuple(fc.constantFrom('GET ', 'POST ', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'PUT', 'GE', 'HEAD /', 'SSH-2.0-'), fc.uint8Array({ maxLength: 16 })).map(([a, b]) => Buffer.concat([Buffer.from(a, 'latin1'), Buffer.from(b)])),
);

t.test('the waypoint listener', async (t) => {
  fuzz(t, 'waypoint protocol detection', [firstBytes], (b) => {
    // Once the first bytes decide, more bytes never change the answer.
    let decided: string | undefined;
    for (let n = 0; n <= b.length; n++) {
      const d = detectProtocol(b.subarray(0, n));
      if (decided !== undefined && d !== decided) throw new Error(`${n} bytes say ${String(d)}, fewer said ${decided}`);
      decided ??= d;
    }
  }, { weight: 3 });
  const peer = { address: '10.0.0.9', port: 15008, family: 4 as const };
  fuzz(t, 'waypoint forwarded source', [fc.oneof(fc.option(fc.string({ maxLength: 60 }), { nil: undefined }), fc.oneof(fc.ipV4().map((ip) => `${ip}:80`), fc.ipV6().map((ip) => `[${ip}]:80`)).map((a) => buildForwarded(a)))], (f) => {
    const ip = sourceIpOf(f, peer);
    if (typeof ip !== 'string') throw new Error('no address');
    // What ztunnel writes is read back as its address.
    const m = f !== undefined && /^for="(.*)"$/.exec(f);
    if (m && m[1]!.replace(/^\[|\]:\d+$|:\d+$/g, '') !== ip) throw new Error(`${f} read as ${ip}`);
  }, { weight: 3 });
  fuzz(t, 'waypoint hop-by-hop headers', [fc.dictionary(fc.oneof(fc.constantFrom('connection', 'te', 'upgrade', 'host', 'x-a', 'keep-alive', ':path'), fc.stringMatching(/^[a-z-]{1,8}$/)), fc.oneof(fc.string({ maxLength: 20 }), fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 })), { maxKeys: 6 })], (h) => {
    const out = forwardable(h);
    for (const k of Object.keys(out)) if (['connection', 'upgrade', 'host', 'keep-alive'].includes(k) || k.startsWith(':')) throw new Error(`forwarded ${k}`);
    if (out.te !== undefined && out.te !== 'trailers') throw new Error(`forwarded te ${String(out.te)}`);
  }, { weight: 2 });
});
