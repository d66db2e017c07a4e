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
