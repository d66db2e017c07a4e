import t from 'tap';
import { nextTrace, parseB3Multi, parseB3Single, parseTraceparent, readIncoming } from './trace-context.js';

const bytes = (n: number) => Buffer.alloc(n, 0xab);
const SPAN = 'ab'.repeat(8);
const NEW_TRACE = 'ab'.repeat(16);
const T32 = '0af7651916cd43dd8448eb211c80319c';
const T16 = '8448eb211c80319c';
const P = 'b7ad6b7169203331';

t.test('traceparent: kept trace, new span per hop', async (t) => {
  const n = nextTrace({ traceparent: `00-${T32}-${P}-01` }, { bytes });
  t.equal(n.traceId, T32);
  t.equal(n.parentSpanId, P);
  t.equal(n.sampled, true);
  t.equal(n.traceparent, `00-${T32}-${SPAN}-01`);
  t.same(n.headers, { traceparent: n.traceparent }, 'no B3 when the caller sent none');
  const unsampled = nextTrace({ traceparent: `00-${T32}-${P}-00` }, { bytes, sample: () => true });
  t.equal(unsampled.sampled, false, "the caller's decision wins over the sampler");
  t.equal(unsampled.flags, '00');
});

t.test('traceparent: started when absent or invalid', async (t) => {
  for (const bad of [undefined, 'garbage', `00-${'0'.repeat(32)}-${P}-01`, `ff-${T32}-${P}-01`, `00-${T32}-${'0'.repeat(16)}-01`, `00-${T32}-${P}-01-extra`]) {
    const n = nextTrace(bad === undefined ? {} : { traceparent: bad }, { bytes });
    t.equal(n.parentSpanId, undefined, String(bad));
    t.equal(n.traceparent, `00-${NEW_TRACE}-${SPAN}-01`);
  }
  t.equal(nextTrace({}, { bytes, sample: () => false }).traceparent, `00-${NEW_TRACE}-${SPAN}-00`, 'a new trace follows the sampler');
  t.equal(nextTrace({ traceparent: `01-${T32}-${P}-01-future` }, { bytes }).parentSpanId, P, 'a later version may carry more fields');
});

t.test('ztunnel without tracing: a fresh unsampled traceparent per connection; malformed ones are refused', async (t) => {
  const a = nextTrace({}, { sample: () => false }).traceparent;
  t.match(a, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  t.not(a, nextTrace({}, { sample: () => false }).traceparent, 'random per connection');
  t.same(parseTraceparent(`00-${T32}-${P}-01`), { traceId: T32, spanId: P, flags: '01' });
  for (const bad of [`00-${'0'.repeat(32)}-${P}-01`, `00-${T32}-${'0'.repeat(16)}-01`, '00-xyz', `ff-${T32}-${P}-01`, undefined]) t.equal(parseTraceparent(bad), undefined, String(bad));
});

t.test('B3 single header: table', async (t) => {
  const cases: Array<[string, ReturnType<typeof parseB3Single>]> = [
    [`${T32}-${P}-1`, { traceId: T32, spanId: P, sampled: true, short: false }],
    [`${T32}-${P}-0-${SPAN}`, { traceId: T32, spanId: P, sampled: false, short: false }],
    [`${T32}-${P}-d`, { traceId: T32, spanId: P, sampled: true, short: false }],
    [`${T32}-${P}`, { traceId: T32, spanId: P, sampled: undefined, short: false }],
    [`${T16}-${P}-1`, { traceId: '0'.repeat(16) + T16, spanId: P, sampled: true, short: true }],
    ['0', { sampled: false, short: false }],
    ['1', { sampled: true, short: false }],
    [`${T32}-${P}-x`, undefined],
    [`${T32}-short-1`, undefined],
    [`${'0'.repeat(32)}-${P}-1`, undefined],
    [`${T32}-${P}-1-${SPAN}-more`, undefined],
    ['maybe', undefined],
  ];
  for (const [v, want] of cases) t.same(parseB3Single(v), want, v);
});

t.test('B3 multi headers: table', async (t) => {
  const cases: Array<[Record<string, string>, ReturnType<typeof parseB3Multi>]> = [
    [{ 'x-b3-traceid': T32, 'x-b3-spanid': P, 'x-b3-sampled': '1' }, { traceId: T32, spanId: P, sampled: true, short: false }],
    [{ 'x-b3-traceid': T16, 'x-b3-spanid': P, 'x-b3-sampled': '0' }, { traceId: '0'.repeat(16) + T16, spanId: P, sampled: false, short: true }],
    [{ 'x-b3-traceid': T32, 'x-b3-spanid': P, 'x-b3-flags': '1', 'x-b3-sampled': '0' }, { traceId: T32, spanId: P, sampled: true, short: false }],
    [{ 'x-b3-traceid': T32, 'x-b3-spanid': P, 'x-b3-sampled': 'true' }, { traceId: T32, spanId: P, sampled: true, short: false }],
    [{ 'x-b3-traceid': T32, 'x-b3-spanid': P }, { traceId: T32, spanId: P, sampled: undefined, short: false }],
    [{ 'x-b3-sampled': '0' }, { sampled: false, short: false }],
    [{ 'x-b3-traceid': T32 }, undefined],
    [{ 'x-b3-traceid': 'nothex', 'x-b3-spanid': P }, undefined],
    [{}, undefined],
  ];
  for (const [h, want] of cases) t.same(parseB3Multi(h), want, JSON.stringify(h));
});

t.test('B3 is continued and propagated in the forms the caller used, next to traceparent', async (t) => {
  const single = nextTrace({ b3: `${T32}-${P}-1` }, { bytes });
  t.equal(single.traceId, T32);
  t.equal(single.parentSpanId, P);
  t.same(single.headers, { traceparent: `00-${T32}-${SPAN}-01`, b3: `${T32}-${SPAN}-1-${P}` });

  const multi = nextTrace({ 'x-b3-traceid': T16, 'x-b3-spanid': P, 'x-b3-sampled': '0' }, { bytes });
  t.equal(multi.sampled, false);
  t.same(multi.headers, { traceparent: `00-${'0'.repeat(16)}${T16}-${SPAN}-00`, 'x-b3-traceid': T16, 'x-b3-spanid': SPAN, 'x-b3-sampled': '0', 'x-b3-parentspanid': P }, 'a 64-bit B3 trace id stays 64-bit in B3');

  const deny = nextTrace({ b3: '0' }, { bytes, sample: () => true });
  t.equal(deny.sampled, false, '`b3: 0` says do not sample');
  t.equal(deny.parentSpanId, undefined);
  t.equal(deny.headers.b3, `${NEW_TRACE}-${SPAN}-0`);

  const deferred = nextTrace({ 'x-b3-traceid': T32, 'x-b3-spanid': P }, { bytes, sample: () => false });
  t.equal(deferred.sampled, false, 'no decision in B3: the sampler decides');

  const both = nextTrace({ traceparent: `00-${T32}-${P}-01`, b3: `${'1'.repeat(32)}-${'2'.repeat(16)}-0` }, { bytes });
  t.equal(both.parentSpanId, P, 'traceparent wins over b3');
  t.equal(both.headers.b3, `${T32}-${SPAN}-1-${P}`, 'and b3 is rewritten to match it');
  t.same(readIncoming({ b3: 'garbage', traceparent: `00-${T32}-${P}-01` }).b3, ['single']);
});

t.test('the HBONE tunnel traceparent is the fallback parent', async (t) => {
  const tunnel = `00-${T32}-${P}-01`;
  const n = nextTrace({}, { bytes, fallbackParent: tunnel });
  t.equal(n.traceId, T32);
  t.equal(n.parentSpanId, P);
  const own = nextTrace({ traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` }, { bytes, fallbackParent: tunnel });
  t.equal(own.parentSpanId, '2'.repeat(16), "the request's own context wins");
  t.equal(nextTrace({}, { bytes, fallbackParent: 'junk' }).parentSpanId, undefined);
});

t.test('pooled random bytes: fresh bytes each call, across refills, and copies that stay put', async (t) => {
  const { pooledRandomBytes } = await import('./random-pool.js');
  const pooled = pooledRandomBytes(64);
  const seen = new Set<string>();
  const kept: Array<[Buffer, string]> = [];
  for (let i = 0; i < 200; i++) {
    const b = pooled(i % 2 ? 16 : 8);
    t.equal(b.length, i % 2 ? 16 : 8);
    seen.add(b.toString('hex'));
    kept.push([b, b.toString('hex')]);
  }
  t.equal(seen.size, 200, 'no two alike');
  t.ok(kept.every(([b, hex]) => b.toString('hex') === hex), 'earlier ids unchanged by later refills');
  t.equal(pooled(100).length, 100, 'more than the pool: its own buffer');
  t.match(nextTrace({}).traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'the default source makes valid ids');
});
