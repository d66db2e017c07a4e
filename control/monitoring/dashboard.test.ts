import type { IncomingMessage } from 'node:http';
import t from 'tap';
import { dispatch, type Reply } from '../../lib/admin/routes.js';
import type { StoredSpan } from '../../lib/telemetry/span.js';
import { TraceStore } from '../traces/store.js';
import { dashboardRoutes } from './dashboard.js';
import type { CounterQueries } from './signals.js';
import type { MeshView } from './views.js';

const span = (trace: number, id: number, service: string, attributes: StoredSpan['attributes'] = {}): StoredSpan => ({
  traceId: trace.toString(16).padStart(32, '0'),
  spanId: id.toString(16).padStart(16, '0'),
  parentSpanId: undefined,
  name: `op${id}`,
  kind: 'server',
  startNs: 1_000_000n * BigInt(id),
  endNs: 1_000_000n * BigInt(id) + 2_000_000n,
  attributes,
  status: { code: 'unset' },
  service,
});

async function get(routes: ReturnType<typeof dashboardRoutes>, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(path, 'http://dashboard');
  const d = dispatch(routes, 'GET', url.pathname);
  const reply: Reply = d.kind === 'reply' ? d.reply : await d.handler(url, {} as IncomingMessage);
  return { status: reply.status ?? 200, body: JSON.parse(String(reply.body)) as Record<string, unknown> };
}

const signals = { now: () => 0 } as unknown as CounterQueries;
const mesh = () => ({ services: [{ namespace: 'bookinfo', name: 'reviews', hostname: 'reviews.bookinfo.svc.cluster.local' }] }) as unknown as MeshView;

t.test('the trace routes read the store: list filtered by destination, one trace, bad input named', async (t) => {
  const store = new TraceStore();
  store.add([span(1, 1, 'ztunnel', { 'dst.service': 'reviews.bookinfo.svc.cluster.local' }), span(2, 2, 'ztunnel', { 'dst.service': 'details.bookinfo.svc.cluster.local' }), span(3, 3, 'waypoint.bookinfo')]);
  const routes = dashboardRoutes({ signals, mesh, sourceName: 'test', traces: store });
  const ids = (b: Record<string, unknown>) => (b.traces as Array<{ traceId: string }>).map((x) => x.traceId.replace(/^0+/, ''));

  const all = await get(routes, '/api/traces');
  t.equal(all.status, 200);
  t.equal(all.body.source, 'embedded trace store');
  t.same(ids(all.body), ['3', '2', '1'], 'newest first');
  t.same(ids((await get(routes, '/api/traces?limit=2')).body), ['3', '2']);
  t.same(ids((await get(routes, '/api/traces?service=reviews.bookinfo.svc.cluster.local')).body), ['1'], 'by destination hostname');
  t.same(ids((await get(routes, '/api/traces?service=waypoint.bookinfo')).body), ['3'], 'by reporting service');
  const byName = await get(routes, '/api/traces?service=bookinfo/reviews');
  t.same([byName.body.service, ids(byName.body)], ['reviews.bookinfo.svc.cluster.local', ['1']], 'a mesh service by <ns>/<name>: its hostname');
  t.match(await get(routes, '/api/traces?service=bookinfo/nope'), { status: 404, body: { error: 'service: no service bookinfo/nope in the mesh' } });

  const one = await get(routes, '/api/traces/2');
  t.equal(one.status, 200);
  t.match(one.body, { spanCount: 1, durationMs: 2, spans: [{ service: 'ztunnel', name: 'op2', offsetMs: 0, durationMs: 2, depth: 0 }] });

  t.match(await get(routes, '/api/traces?limit=0'), { status: 400, body: { error: /^limit: "0" is not a whole number in 1\.\.200$/ } });
  t.match(await get(routes, '/api/traces/xyz'), { status: 400, body: { error: /trace id: "xyz"/ } });
  t.match(await get(routes, '/api/traces/99'), { status: 404, body: { error: /trace 99 is not in the embedded store/ } });
  t.match(await get(dashboardRoutes({ signals, mesh, sourceName: 'test' }), '/api/traces'), { status: 404, body: { error: /keeps no traces/ } });
});
