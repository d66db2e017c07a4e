import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { foldAnswer, increaseQuery, PrometheusSource, queryUrl } from './prometheus-source.js';
import { trafficEdges } from './signals.js';

t.test('increaseQuery and queryUrl: instant for one step, range for many', async (t) => {
  t.match(increaseQuery('istio_requests_total', 30_000), /^sum by \(reporter, source_workload, .*, le\) \(increase\(istio_requests_total\{reporter=~"waypoint\|destination"\}\[30s\]\)\)$/);
  t.match(increaseQuery('x', 10), /\[1s\]/, 'at least a second');
  const one = queryUrl('http://p:9090', 'x', [10_000], 5000);
  t.equal(one.pathname, '/api/v1/query');
  t.equal(one.searchParams.get('time'), '10');
  const many = queryUrl('http://p:9090/prom/', 'x', [0, 30_000, 60_000], 30_000);
  t.equal(many.pathname, '/prom/api/v1/query_range', 'a path prefix is kept');
  t.same([many.searchParams.get('start'), many.searchParams.get('end'), many.searchParams.get('step')], ['0', '60', '30s']);
});

t.test('foldAnswer: vectors and matrices into per-step maps; errors named', async (t) => {
  const group = (l: Record<string, string>) => l.code;
  const vector = { status: 'success', data: { resultType: 'vector', result: [{ metric: { code: '200' }, value: [10, '4'] }, { metric: { code: '200' }, value: [10, '1'] }, { metric: {}, value: [10, '9'] }] } };
  t.same(foldAnswer(vector, [10_000], group, 'q').map((m) => Object.fromEntries(m)), [{ '200': 5 }], 'summed per group; ungrouped left out');
  const matrix = { status: 'success', data: { resultType: 'matrix', result: [{ metric: { code: '500' }, values: [[0, '1'], [30, '2'], [60, 'NaN']] }] } };
  t.same(foldAnswer(matrix, [0, 30_000, 60_000], group, 'q').map((m) => Object.fromEntries(m)), [{ '500': 1 }, { '500': 2 }, {}], 'NaN points skipped');
  t.throws(() => foldAnswer({ status: 'error', errorType: 'bad_data', error: 'parse error' }, [0], group, 'http://p/api/v1/query for x'), /Prometheus http:\/\/p\/api\/v1\/query for x: bad_data: parse error/);
  t.throws(() => foldAnswer({ status: 'success', data: { resultType: 'scalar', result: [] } }, [0], group, 'q'), /expected a vector or a matrix, got scalar/);
});

t.test('PrometheusSource against an HTTP server speaking the API', async (t) => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    seen.push(u.searchParams.get('query') ?? '');
    const q = u.searchParams.get('query') ?? '';
    const labels = { reporter: 'waypoint', source_workload: 'a', source_workload_namespace: 'ns', destination_service_name: 'b', destination_service_namespace: 'ns', response_code: '200', connection_security_policy: 'mutual_tls' };
    const result = q.includes('increase(istio_requests_total') ? [{ metric: labels, value: [Number(u.searchParams.get('time')), '50'] }] : [];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const src = new PrometheusSource({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, now: () => 100_000 });
  const edges = await trafficEdges(src, src.now(), 10_000);
  t.match(edges, [{ source: 'ns/a', destination: 'ns/b', requestsPerSecond: 5, mtls: true, viaWaypoint: true }]);
  t.ok(seen.some((q) => q.includes('istio_tcp_connections_failed_total')), 'the TCP counters are queried too');
  const down = new PrometheusSource({ url: 'http://127.0.0.1:1', timeoutMs: 1000 });
  await t.rejects(down.increase('x', [0], 1000, () => 'k'), /Prometheus http:\/\/127\.0\.0\.1:1\/api\/v1\/query for x: /);
});
