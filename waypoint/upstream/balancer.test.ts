import t from 'tap';
import { LoadBalancer_Policy } from '../../lib/proto/gen/ambit/l7/v1/destination_pb.js';
import { cookieValue, createBalancer, type PickContext, type UpstreamEndpoint } from './balancer.js';
import { HashRing, hash32 } from './hash-ring.js';
import { seededRandom } from '../../lib/sys/testkit.js';
import { endpoint, endpoints, loadBalancer, tally } from './testkit.js';

const ctx: PickContext = { headers: {}, sourceIp: '10.244.0.9' };
const { LEAST_REQUEST, ROUND_ROBIN, RANDOM, CONSISTENT_HASH } = LoadBalancer_Policy;

function picks(policy: LoadBalancer_Policy, eps: UpstreamEndpoint[], n: number, seed = 1): Record<string, number> {
  const b = createBalancer(loadBalancer({ policy }), { random: seededRandom(seed) });
  return tally(Array.from({ length: n }, () => b.pick(eps, ctx)?.id));
}

t.test('every policy: no endpoints gives undefined, one endpoint is always that one', async (t) => {
  for (const policy of [LEAST_REQUEST, ROUND_ROBIN, RANDOM]) {
    const b = createBalancer(loadBalancer({ policy }));
    t.equal(b.pick([], ctx), undefined, `${LoadBalancer_Policy[policy]} empty`);
    const only = endpoint('a');
    t.equal(b.pick([only], ctx), only, `${LoadBalancer_Policy[policy]} single`);
  }
  const ch = createBalancer(loadBalancer({ policy: CONSISTENT_HASH, consistentHash: { key: { case: 'useSourceIp', value: true } } }));
  t.equal(ch.pick([], ctx), undefined, 'CONSISTENT_HASH empty');
});

t.test('undefined and the proto default are least-request', async (t) => {
  // Least-request never sends to the busy one of two endpoints; round robin or random would.
  const eps = [endpoint('idle'), endpoint('busy', { active: 5 })];
  for (const b of [createBalancer(undefined, { random: seededRandom(3) }), createBalancer(loadBalancer({}), { random: seededRandom(3) })]) {
    t.same(tally(Array.from({ length: 50 }, () => b.pick(eps, ctx)?.id)), { idle: 50 });
  }
});

t.test('round robin', async (t) => {
  const eps = endpoints(3);
  const rr = createBalancer(loadBalancer({ policy: ROUND_ROBIN }));
  t.same(Array.from({ length: 7 }, () => rr.pick(eps, ctx)?.id), ['ep-0', 'ep-1', 'ep-2', 'ep-0', 'ep-1', 'ep-2', 'ep-0'], 'equal weights rotate in order');

  const w = [endpoint('a', { weight: 5 }), endpoint('b'), endpoint('c')];
  const wrr = createBalancer(loadBalancer({ policy: ROUND_ROBIN }));
  t.same(Array.from({ length: 7 }, () => wrr.pick(w, ctx)?.id), ['a', 'a', 'b', 'a', 'c', 'a', 'a'], 'weights 5:1:1 interleave (smooth)');

  const rr2 = createBalancer(loadBalancer({ policy: ROUND_ROBIN }));
  rr2.pick(eps, ctx);
  const left = eps.filter((e) => e.id !== 'ep-1');
  const after = tally(Array.from({ length: 100 }, () => rr2.pick(left, ctx)?.id));
  t.ok(Math.abs((after['ep-0'] ?? 0) - (after['ep-2'] ?? 0)) <= 2, `an endpoint leaving keeps the others even ${JSON.stringify(after)}`);
  t.same(picks(ROUND_ROBIN, [endpoint('z', { weight: 0 }), endpoint('y', { weight: Number.NaN })], 10), { z: 5, y: 5 }, 'weights below 1 count as 1');
});

t.test('random', async (t) => {
  const even = picks(RANDOM, endpoints(4), 8000);
  for (const id of ['ep-0', 'ep-1', 'ep-2', 'ep-3']) t.ok(Math.abs((even[id] ?? 0) - 2000) < 200, `${id} near a quarter: ${even[id]}`);
  const w = picks(RANDOM, [endpoint('heavy', { weight: 3 }), endpoint('light')], 8000);
  t.ok(Math.abs((w.heavy ?? 0) - 6000) < 250, `weight 3:1 → three quarters: ${w.heavy}`);
});

t.test('least request: power of two choices', async (t) => {
  const rows: Array<[string, UpstreamEndpoint[], (r: Record<string, number>) => boolean]> = [
    ['the busy one of two is never chosen', [endpoint('a', { active: 3 }), endpoint('b', { active: 1 })], (r) => r.b === 4000],
    ['one busy of three is never chosen (candidates are distinct)', [endpoint('a'), endpoint('b'), endpoint('busy', { active: 9 })], (r) => r.busy === undefined],
    ['idle endpoints share evenly', endpoints(4), (r) => Object.values(r).every((n) => Math.abs(n - 1000) < 120)],
    ['idle endpoints share by weight', [endpoint('heavy', { weight: 3 }), endpoint('light')], (r) => Math.abs((r.heavy ?? 0) - 3000) < 150],
    [
      'the least busy of many wins more often than the rest',
      [endpoint('a', { active: 0 }), endpoint('b', { active: 4 }), endpoint('c', { active: 4 }), endpoint('d', { active: 4 }), endpoint('e', { active: 4 })],
      (r) => (r.a ?? 0) > 1400 && (r.a ?? 0) < 1800, // P(a drawn among 2 of 5) = 40%
    ],
  ];
  for (const [name, eps, ok] of rows) {
    const r = picks(LEAST_REQUEST, eps, 4000, 7);
    t.ok(ok(r), `${name}: ${JSON.stringify(r)}`);
  }
});

const hashed = (key: NonNullable<Parameters<typeof loadBalancer>[0]['consistentHash']>['key'], minimumRingSize = 1024n) =>
  createBalancer(loadBalancer({ policy: CONSISTENT_HASH, consistentHash: { key, minimumRingSize } }), { random: seededRandom(5) });

t.test('consistent hash: keys from header, cookie, query parameter, source IP', async (t) => {
  const eps = endpoints(5);
  const rows: Array<[string, ReturnType<typeof hashed>, (k: string) => PickContext]> = [
    ['header', hashed({ case: 'headerName', value: 'X-User' }), (k) => ({ headers: { 'x-user': k }, sourceIp: '1.1.1.1' })],
    ['header with several values', hashed({ case: 'headerName', value: 'x-user' }), (k) => ({ headers: { 'x-user': [k, 'tail'] }, sourceIp: '1.1.1.1' })],
    ['cookie', hashed({ case: 'cookie', value: { name: 'sid' } }), (k) => ({ headers: { cookie: `a=1; sid=${k}; b=2` }, sourceIp: '1.1.1.1' })],
    ['query parameter from :path', hashed({ case: 'queryParameterName', value: 'u' }), (k) => ({ headers: { ':path': `/x?a=1&u=${k}` }, sourceIp: '1.1.1.1' })],
    ['query parameter from ctx.path', hashed({ case: 'queryParameterName', value: 'u' }), (k) => ({ headers: {}, path: `/x?u=${k}`, sourceIp: '1.1.1.1' })],
    ['source ip', hashed({ case: 'useSourceIp', value: true }), (k) => ({ headers: {}, sourceIp: `10.0.${k.length}.${k.charCodeAt(k.length - 1)}` })],
  ];
  for (const [name, b, mk] of rows) {
    const first = new Map<string, string | undefined>();
    for (let i = 0; i < 200; i++) first.set(`user-${i}`, b.pick(eps, mk(`user-${i}`))?.id);
    let stable = true;
    for (let round = 0; round < 3; round++) for (const [k, id] of first) if (b.pick(eps, mk(k))?.id !== id) stable = false;
    t.ok(stable, `${name}: the same key always maps to the same endpoint`);
    const spread = tally(first.values());
    t.ok(Object.keys(spread).length >= 4, `${name}: keys spread over the endpoints ${JSON.stringify(spread)}`);
  }
});

t.test('consistent hash: the mapping does not depend on the balancer instance or the endpoint order', async (t) => {
  const eps = endpoints(6);
  const a = hashed({ case: 'headerName', value: 'x-k' });
  const b = hashed({ case: 'headerName', value: 'x-k' });
  const reversed = [...eps].reverse();
  for (let i = 0; i < 100; i++) {
    const c = { headers: { 'x-k': `k${i}` }, sourceIp: '' };
    if (a.pick(eps, c)?.id !== b.pick(reversed, c)?.id) return t.fail(`key k${i} maps differently`);
  }
  t.pass('two replicas agree');
});

t.test('consistent hash: few keys move when an endpoint leaves or joins', async (t) => {
  const eps = endpoints(5);
  const b = hashed({ case: 'headerName', value: 'x-k' });
  const keys = Array.from({ length: 2000 }, (_, i) => ({ headers: { 'x-k': `key-${i}` }, sourceIp: '' }));
  const before = keys.map((k) => b.pick(eps, k)?.id);
  const without = eps.filter((e) => e.id !== 'ep-2');
  const after = keys.map((k) => b.pick(without, k)?.id);
  let movedOthers = 0;
  let onRemoved = 0;
  for (let i = 0; i < keys.length; i++) {
    if (before[i] === 'ep-2') onRemoved++;
    else if (before[i] !== after[i]) movedOthers++;
  }
  t.ok(onRemoved > 250, `the removed endpoint had its share of keys (${onRemoved})`);
  t.equal(after.filter((id) => id === 'ep-2').length, 0, 'no key maps to the removed endpoint');
  t.equal(movedOthers, 0, 'keys of the remaining endpoints stay where they were');
  const back = keys.map((k) => b.pick(eps, k)?.id);
  t.same(back, before, 'when it returns the original mapping is back');
  const grown = [...eps, endpoint('new')];
  const moved = keys.filter((k, i) => b.pick(grown, k)?.id !== before[i]);
  t.ok(moved.length < keys.length * 0.25, `a sixth endpoint takes about a sixth of the keys (${moved.length} of ${keys.length})`);
  t.ok(moved.every((k) => b.pick(grown, k)?.id === 'new'), 'every key that moved went to the new endpoint');
});

t.test('consistent hash: weights, missing keys, ring size', async (t) => {
  const b = hashed({ case: 'headerName', value: 'x-k' });
  const eps = [endpoint('heavy', { weight: 3 }), endpoint('light')];
  const r = tally(Array.from({ length: 4000 }, (_, i) => b.pick(eps, { headers: { 'x-k': `k${i}` }, sourceIp: '' })?.id));
  t.ok(Math.abs((r.heavy ?? 0) - 3000) < 250, `weight 3:1 gets three quarters of the keys ${JSON.stringify(r)}`);
  const missing = tally(Array.from({ length: 1000 }, () => b.pick(endpoints(2), ctx)?.id));
  t.ok((missing['ep-0'] ?? 0) > 400 && (missing['ep-1'] ?? 0) > 400, `no key: spread at random ${JSON.stringify(missing)}`);
  t.equal(new HashRing([{ id: 'a', weight: 1 }, { id: 'b', weight: 1 }, { id: 'c', weight: 1 }], 1024).size, 1536, 'k rounds up to a power of two: 3 × 512 ≥ 1024');
  t.equal(new HashRing([{ id: 'a', weight: 1 }], 1).size, 1, 'a ring of one point');
  t.equal(new HashRing([], 1024).lookup(5), undefined, 'empty ring');
  t.not(hash32('a'), hash32('b'), 'hash differs for different keys');
  const small = hashed({ case: 'headerName', value: 'x-k' }, 4n);
  t.ok(small.pick(endpoints(3), { headers: { 'x-k': 'z' }, sourceIp: '' }), 'a small ring still picks');
});

t.test('cookie parsing', async (t) => {
  const rows: Array<[string | string[] | undefined, string, string | undefined]> = [
    ['sid=abc', 'sid', 'abc'],
    ['a=1; sid=abc; b=2', 'sid', 'abc'],
    ['xsid=1; sid=2', 'sid', '2'],
    [['a=1', 'sid=h2'], 'sid', 'h2'],
    ['a=1', 'sid', undefined],
    [undefined, 'sid', undefined],
    ['sid=', 'sid', ''],
  ];
  for (const [h, name, want] of rows) t.equal(cookieValue(h, name), want, JSON.stringify(h));
});
