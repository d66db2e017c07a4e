import t from 'tap';
import type { StoredSpan } from '../../lib/telemetry/span.js';
import type { Trace } from './store.js';
import { traceConcerns, traceDetail, traceSummary } from './views.js';

const T0 = 1_700_000_000_000_000_000n; // 2023-11-14T22:13:20Z in ns
const TRACE = 'ab'.repeat(16);

/** A span starting `atMs` after T0 and lasting `forMs`. */
function span(id: string, parent: string | undefined, service: string, atMs: number, forMs: number, extra: Partial<StoredSpan> = {}): StoredSpan {
  const startNs = T0 + BigInt(atMs * 1e6);
  return { traceId: TRACE, spanId: id.padStart(16, '0'), parentSpanId: parent?.padStart(16, '0'), name: `op-${id}`, kind: 'server', startNs, endNs: startNs + BigInt(forMs * 1e6), attributes: {}, status: { code: 'unset' }, service, ...extra };
}
const trace = (...spans: StoredSpan[]): Trace => ({ traceId: TRACE, spans });

// The demo's hop chain: ztunnel outbound (root) → waypoint → ztunnel inbound.
const hops = trace(
  span('1', undefined, 'ztunnel', 0, 12, { kind: 'client', name: 'outbound reviews', attributes: { 'dst.service': 'reviews.bookinfo.svc.cluster.local' } }),
  span('2', '1', 'waypoint.bookinfo', 1.5, 9, { attributes: { 'istio.destination_service': 'reviews.bookinfo.svc.cluster.local', 'http.status_code': 200 } }),
  span('3', '2', 'ztunnel', 2, 6.25, { name: 'inbound reviews' }),
);

t.test('summary: root, services in order, span count, duration, error flag', async (t) => {
  t.same(traceSummary(hops), {
    traceId: TRACE,
    root: 'outbound reviews',
    rootService: 'ztunnel',
    services: ['ztunnel', 'waypoint.bookinfo'],
    startedAt: '2023-11-14T22:13:20.000Z',
    durationMs: 12,
    spanCount: 3,
    error: false,
  });
  const failed = trace(span('1', undefined, 'a', 0, 5), span('2', '1', 'b', 1, 10, { status: { code: 'error', message: 'HTTP 503' } }));
  t.equal(traceSummary(failed).error, true, 'one error span flags the trace');
  t.equal(traceSummary(failed).durationMs, 11, 'a child outliving its parent stretches the trace');
  t.throws(() => traceSummary(trace()), /trace abab.*: no spans/);
});

t.test('detail: tree order, depth, offsets and durations from the first start', async (t) => {
  const d = traceDetail(hops);
  t.same(
    d.spans.map((s) => [s.spanId.replace(/^0+/, ''), s.parentSpanId?.replace(/^0+/, '') ?? null, s.depth, s.offsetMs, s.durationMs, s.service]),
    [
      ['1', null, 0, 0, 12, 'ztunnel'],
      ['2', '1', 1, 1.5, 9, 'waypoint.bookinfo'],
      ['3', '2', 2, 2, 6.25, 'ztunnel'],
    ],
  );
  t.same(d.spans[1]!.attributes, { 'istio.destination_service': 'reviews.bookinfo.svc.cluster.local', 'http.status_code': 200 }, 'attributes pass through');
  t.equal(d.spanCount, 3);
});

const cases: Array<{ name: string; spans: StoredSpan[]; want: Array<[string, number, boolean]> }> = [
  {
    name: 'siblings by start time, each child right after its parent',
    spans: [span('1', undefined, 'a', 0, 10), span('3', '1', 'a', 5, 1), span('2', '1', 'a', 1, 1), span('4', '2', 'a', 1.5, 0.2)],
    want: [['1', 0, false], ['2', 1, false], ['4', 2, false], ['3', 1, false]],
  },
  {
    name: 'a parent not received: the span is a root, marked',
    spans: [span('2', 'ff', 'a', 1, 1), span('1', undefined, 'a', 0, 1)],
    want: [['1', 0, false], ['2', 0, true]],
  },
  {
    name: 'a cycle of parents: each span once, flat',
    spans: [span('1', '2', 'a', 0, 1), span('2', '1', 'a', 1, 1)],
    want: [['1', 0, true], ['2', 1, false]],
  },
];
for (const c of cases) {
  t.test(`detail: ${c.name}`, async (t) => {
    t.same(traceDetail(trace(...c.spans)).spans.map((s) => [s.spanId.replace(/^0+/, ''), s.depth, s.missingParent]), c.want);
  });
}

t.test('concerns: the reporting service or a destination hostname', async (t) => {
  const table: Array<[string, boolean]> = [
    ['ztunnel', true],
    ['waypoint.bookinfo', true],
    ['reviews.bookinfo.svc.cluster.local', true],
    ['details.bookinfo.svc.cluster.local', false],
    ['reviews', false],
  ];
  for (const [service, want] of table) t.equal(traceConcerns(hops, service), want, service);
  t.equal(traceConcerns(trace(span('1', undefined, 'z', 0, 1, { attributes: { 'dst.service': 'x.y.svc' } })), 'x.y.svc'), true, "ztunnel's dst.service alone");
});
