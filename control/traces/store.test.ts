import t from 'tap';
import type { StoredSpan } from '../../lib/telemetry/span.js';
import { TraceStore } from './store.js';

const span = (trace: number, id: number, service = 'svc', startNs = BigInt(id)): StoredSpan => ({
  traceId: trace.toString(16).padStart(32, '0'),
  spanId: id.toString(16).padStart(16, '0'),
  parentSpanId: undefined,
  name: `op${id}`,
  kind: 'server',
  startNs,
  endNs: startNs + 10n,
  attributes: {},
  status: { code: 'unset' },
  service,
});

t.test('grouped by trace, newest first, filtered by service, limited', async (t) => {
  const s = new TraceStore();
  s.add([span(1, 1, 'a'), span(2, 2, 'b')]);
  s.add([span(1, 3, 'c', 0n)]);
  t.same(s.findTraces().map((x) => x.traceId.slice(-1)), ['1', '2'], 'trace 1 was updated last');
  t.same(s.getTrace(span(1, 0).traceId)!.spans.map((x) => x.name), ['op3', 'op1'], 'spans in start order');
  t.same(s.findTraces({ service: 'b' }).map((x) => x.traceId.slice(-1)), ['2']);
  t.same(s.findTraces({ service: 'nobody' }), []);
  t.equal(s.findTraces({ limit: 1 }).length, 1);
  t.same(s.services(), ['a', 'b', 'c']);
  t.equal(s.getTrace('f'.repeat(32)), undefined);
  s.add([span(1, 1, 'a')]);
  t.equal(s.stats.spans, 3, 'a span sent twice is kept once');
});

t.test('bounded by span count: whole oldest traces go', async (t) => {
  const s = new TraceStore({ maxSpans: 5 });
  for (let tr = 1; tr <= 4; tr++) s.add([span(tr, tr * 10), span(tr, tr * 10 + 1)]);
  t.same(s.findTraces().map((x) => x.traceId.slice(-1)), ['4', '3'], '8 spans over a bound of 5: traces 1 and 2 evicted');
  t.same(s.stats, { traces: 2, spans: 4, evictedSpans: 4 });
});

t.test('bounded by age: a trace quiet for longer than maxAge is forgotten', async (t) => {
  let now = 0;
  const s = new TraceStore({ maxAgeMs: 1000, now: () => now });
  s.add([span(1, 1)]);
  now = 600;
  s.add([span(2, 2)]);
  now = 1100;
  t.same(s.findTraces().map((x) => x.traceId.slice(-1)), ['2']);
  s.add([span(2, 3)]);
  now = 2000;
  t.equal(s.getTrace(span(2, 0).traceId)?.spans.length, 2, 'a new span keeps its trace alive');
  now = 2200;
  t.same(s.stats, { traces: 0, spans: 0, evictedSpans: 3 });
});
