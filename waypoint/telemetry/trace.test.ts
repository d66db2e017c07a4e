import t from 'tap';
import { nextTrace } from './trace.js';

const bytes = (n: number) => Buffer.alloc(n, 0xab);

t.test('traceparent: kept trace, new span per hop', async (t) => {
  const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const n = nextTrace(tp, bytes);
  t.equal(n.traceId, '0af7651916cd43dd8448eb211c80319c');
  t.equal(n.parentSpanId, 'b7ad6b7169203331');
  t.equal(n.traceparent, '00-0af7651916cd43dd8448eb211c80319c-abababababababab-01');
  t.equal(nextTrace('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00', bytes).flags, '00', 'flags kept');
});

t.test('traceparent: started when absent or invalid', async (t) => {
  for (const bad of [undefined, 'garbage', '00-00000000000000000000000000000000-b7ad6b7169203331-01', 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01']) {
    const n = nextTrace(bad, bytes);
    t.equal(n.parentSpanId, undefined, String(bad));
    t.equal(n.traceparent, `00-${'ab'.repeat(16)}-${'ab'.repeat(8)}-01`);
  }
});

t.test('pooled random bytes: fresh bytes each call, across refills, and copies that stay put', async (t) => {
  const { pooledRandomBytes } = await import('./random-pool.js');
  const bytes = pooledRandomBytes(64);
  const seen = new Set<string>();
  const kept: Array<[Buffer, string]> = [];
  for (let i = 0; i < 200; i++) {
    const b = bytes(i % 2 ? 16 : 8);
    t.equal(b.length, i % 2 ? 16 : 8);
    seen.add(b.toString('hex'));
    kept.push([b, b.toString('hex')]);
  }
  t.equal(seen.size, 200, 'no two alike');
  t.ok(kept.every(([b, hex]) => b.toString('hex') === hex), 'earlier ids unchanged by later refills');
  t.equal(bytes(100).length, 100, 'more than the pool: its own buffer');
  t.match(nextTrace(undefined).traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'the default source makes valid ids');
});
