import t from 'tap';
import { GlobalLimit_Unit } from '../../lib/proto/gen/ambit/l7/v1/ratelimit_pb.js';
import type { L7Request } from './l7-request.js';
import { RateLimits, rateLimitHeaders, TokenBucket } from './rate-limit.js';
import { combine } from './rate-limit-decision.js';
import { descriptorValues, windowCounters } from './rate-limit-keys.js';
import { rateLimit, WAYPOINT } from './testkit.js';

const ms = (n: number) => ({ seconds: BigInt(Math.floor(n / 1000)), nanos: (n % 1000) * 1e6 });
const req: L7Request = { method: 'GET', path: '/login?next=/', host: 'web', port: 80, headers: { 'x-user': 'alice' }, sourceIp: '10.0.0.1', principal: 'spiffe://cluster.local/ns/a/sa/b' };
const HOST = 'web.default.svc.cluster.local';

class Clock {
  constructor(public t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
}

t.test('token bucket', async (t) => {
  const rows: Array<[string, [number, number, number], Array<[number, boolean]>]> = [
    // [name, [maxTokens, tokensPerFill, fillIntervalMs], [[ms since start, allowed], ...]]
    ['starts full, then empty', [3, 1, 1000], [[0, true], [0, true], [0, true], [0, false], [999, false]]],
    ['one fill adds tokensPerFill', [3, 2, 1000], [[0, true], [0, true], [0, true], [1000, true], [1000, true], [1000, false]]],
    ['fills never exceed maxTokens', [2, 2, 100], [[0, true], [10_000, true], [10_000, true], [10_000, false]]],
    ['fills land on interval boundaries, not on request times', [1, 1, 1000], [[0, true], [1500, true], [1999, false], [2000, true]]],
  ];
  for (const [name, [max, per, interval], steps] of rows) {
    const b = new TokenBucket(max, per, interval, 0);
    t.same(steps.map(([at]) => b.take(at).allowed), steps.map(([, ok]) => ok), name);
  }
  const b = new TokenBucket(2, 1, 3000, 0);
  t.same(b.take(500), { allowed: true, remaining: 1, resetSeconds: 3 }, 'remaining and time to the next fill');
  t.same(b.take(2500), { allowed: true, remaining: 0, resetSeconds: 1 });
  t.same(b.take(2600), { allowed: false, remaining: 0, resetSeconds: 1 });
});

const local = (name: string, maxTokens: number, tokensPerFill = maxTokens, fillMs = 1000, targets: Array<{ waypoint: string; hostnames?: string[] }> = [{ waypoint: WAYPOINT }]) =>
  rateLimit({ name, targets, local: { maxTokens, tokensPerFill, fillInterval: ms(fillMs) } });

async function admitted(rl: RateLimits, n: number, host = HOST): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await rl.check(host, req)).allowed) ok++;
  return ok;
}

t.test('local limits: targets, several policies, headers', async (t) => {
  const clock = new Clock();
  const rl = new RateLimits({ waypoint: WAYPOINT, clock });
  rl.update([
    local('all', 50),
    local('web-only', 2, 2, 1000, [{ waypoint: WAYPOINT, hostnames: [HOST] }]),
    local('elsewhere', 1, 1, 1000, [{ waypoint: 'other/waypoint' }]),
  ]);
  t.equal(await admitted(rl, 60, 'api.default.svc.cluster.local'), 50, 'another service: only the whole-waypoint bucket');
  clock.t += 1000;
  const first = await rl.check(HOST, req);
  t.same(rateLimitHeaders(first), { 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '1' }, 'headers of the limit closest to running out');
  t.equal(await admitted(rl, 10), 1, 'web: the smaller bucket decides');
  const refused = await rl.check(HOST, req);
  t.equal(refused.allowed, false);
  t.equal(refused.policy, 'default/web-only');
  t.same(rateLimitHeaders(refused), { 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1', 'x-envoy-ratelimited': 'true' });
  const none = new RateLimits({ waypoint: WAYPOINT, clock });
  const d = await none.limiter(HOST).check(req);
  t.same([d.allowed, rateLimitHeaders(d)], [true, {}], 'no policy: allowed, no headers');
});

t.test('buckets survive updates unless their settings change', async (t) => {
  const clock = new Clock();
  const rl = new RateLimits({ waypoint: WAYPOINT, clock });
  const limiter = rl.limiter(HOST);
  rl.update([local('p', 3)]);
  t.equal(await admitted(rl, 3), 3);
  rl.update([local('p', 3), local('q', 100)]);
  t.equal((await limiter.check(req)).allowed, false, 'an unrelated update does not refill p (and the old limiter object sees it)');
  rl.update([local('p', 4), local('q', 100)]);
  t.equal(await admitted(rl, 10), 4, 'changed settings: a new, full bucket');
  rl.update([local('q', 100)]);
  t.equal(await admitted(rl, 10), 10, 'p removed');
  rl.update([rateLimit({ name: 'zero', local: { maxTokens: 0, tokensPerFill: 0 } })]);
  t.equal(await admitted(rl, 5), 5, 'a bucket without size or interval limits nothing');
});

t.test('descriptors decide whether a global limit applies and what its counter is', async (t) => {
  const rows: Array<[string, Parameters<typeof rateLimit>[0]['global'], string[] | undefined]> = [
    ['no descriptors: one counter for all', { limits: [{ requestsPerUnit: 5n }] }, []],
    ['header value', { limits: [{ descriptors: [{ key: { case: 'header', value: 'x-user' } }] }] }, ['alice']],
    ['header name lower-cased', { limits: [{ descriptors: [{ key: { case: 'header', value: 'X-User' } }] }] }, ['alice']],
    ['missing header: not counted', { limits: [{ descriptors: [{ key: { case: 'header', value: 'x-none' } }] }] }, undefined],
    ['header with a fixed value, equal', { limits: [{ descriptors: [{ key: { case: 'header', value: 'x-user' }, value: 'alice' }] }] }, ['alice']],
    ['header with a fixed value, different', { limits: [{ descriptors: [{ key: { case: 'header', value: 'x-user' }, value: 'bob' }] }] }, undefined],
    ['path without the query', { limits: [{ descriptors: [{ key: { case: 'path', value: true } }] }] }, ['/login']],
    ['path with a fixed value', { limits: [{ descriptors: [{ key: { case: 'path', value: true }, value: '/login' }] }] }, ['/login']],
    ['source identity without the scheme', { limits: [{ descriptors: [{ key: { case: 'sourceIdentity', value: true } }] }] }, ['cluster.local/ns/a/sa/b']],
    [
      'several descriptors AND-ed',
      { limits: [{ descriptors: [{ key: { case: 'header', value: 'x-user' } }, { key: { case: 'path', value: true }, value: '/other' }] }] },
      undefined,
    ],
  ];
  for (const [name, global, want] of rows) {
    const g = rateLimit({ name: 'p', global }).global;
    const limit = g?.limits[0];
    t.same(limit && descriptorValues(limit, req), want, name);
  }
  t.equal(descriptorValues(rateLimit({ name: 'p', global: { limits: [{ descriptors: [{ key: { case: 'sourceIdentity', value: true } }] }] } }).global!.limits[0]!, { ...req, principal: undefined }), undefined, 'no identity: not counted');
});

t.test('window counters: keys per descriptor values and window', async (t) => {
  const g = rateLimit({
    name: 'p',
    global: {
      limits: [
        { requestsPerUnit: 10n, unit: GlobalLimit_Unit.SECOND, descriptors: [{ key: { case: 'header', value: 'x-user' } }] },
        { requestsPerUnit: 100n, unit: GlobalLimit_Unit.MINUTE },
        { requestsPerUnit: 1n, unit: GlobalLimit_Unit.HOUR, descriptors: [{ key: { case: 'header', value: 'x-none' } }] },
        { requestsPerUnit: 1n, unit: GlobalLimit_Unit.DAY },
      ],
    },
  }).global!;
  const at = 1_700_000_123_456;
  const w = windowCounters('ns/p', g, req, at);
  t.same(w.map((c) => [c.key, c.limit, c.windowMs, c.windowEnd, c.index]), [
    ['ambit:rl:ns%2Fp:0:alice:1700000123000', 10, 1000, 1_700_000_124_000, 0],
    ['ambit:rl:ns%2Fp:1:1700000100000', 100, 60_000, 1_700_000_160_000, 1],
    ['ambit:rl:ns%2Fp:3:1699920000000', 1, 86_400_000, 1_700_006_400_000, 3],
  ]);
  const bob = windowCounters('ns/p', g, { ...req, headers: { 'x-user': 'b:ob' } }, at);
  t.equal(bob[0]?.key, 'ambit:rl:ns%2Fp:0:b%3Aob:1700000123000', 'values are encoded: each tuple its own key');
  t.not(windowCounters('ns/p', g, req, at + 1000)[0]?.key, w[0]?.key, 'the next second is a new window');
});

t.test('combine', async (t) => {
  const a = { allowed: true, limit: 10, remaining: 5, resetSeconds: 1, policy: 'a' };
  const b = { allowed: true, limit: 3, remaining: 1, resetSeconds: 2, policy: 'b' };
  const c = { allowed: false, limit: 100, remaining: 0, resetSeconds: 9, policy: 'c' };
  t.equal(combine([a, b]).policy, 'b', 'fewest remaining');
  t.equal(combine([a, c, b]).policy, 'c', 'a refusal wins');
  t.equal(combine([]).allowed, true, 'nothing applied');
});
