import t from 'tap';
import { MetricHistory } from './history.js';
import { historyQueries } from './scrape-source.js';
import { goldenSeries, isErrorCode, stepsOf, trafficEdges } from './signals.js';

const base = {
  source_workload: 'productpage',
  source_workload_namespace: 'demo',
  destination_workload: 'reviews-v1',
  destination_workload_namespace: 'demo',
  destination_service_name: 'reviews',
  destination_service_namespace: 'demo',
  connection_security_policy: 'mutual_tls',
};

function history(): MetricHistory {
  const h = new MetricHistory(900_000);
  const at = (ms: number, ok: number, err: number, bytes: number, srcSide: number): void =>
    h.add('scrape', ms, [
      { name: 'istio_requests_total', labels: { ...base, reporter: 'waypoint', response_code: '200' }, value: ok },
      { name: 'istio_requests_total', labels: { ...base, reporter: 'waypoint', response_code: '503' }, value: err },
      { name: 'istio_requests_total', labels: { ...base, reporter: 'source', response_code: '200' }, value: srcSide },
      { name: 'istio_request_duration_milliseconds_bucket', labels: { ...base, reporter: 'waypoint', response_code: '200', le: '5' }, value: ok },
      { name: 'istio_request_duration_milliseconds_bucket', labels: { ...base, reporter: 'waypoint', response_code: '200', le: '+Inf' }, value: ok },
      { name: 'istio_tcp_sent_bytes_total', labels: { ...base, reporter: 'destination' }, value: bytes },
      { name: 'istio_tcp_sent_bytes_total', labels: { ...base, reporter: 'source' }, value: bytes * 100 },
      { name: 'istio_tcp_connections_opened_total', labels: { ...base, reporter: 'destination', destination_service_name: 'unknown', destination_workload: 'db' }, value: ms / 1000 },
      { name: 'istio_tcp_connections_opened_total', labels: { ...base, reporter: 'destination', source_workload: 'curl', connection_security_policy: 'unknown', destination_service_name: 'unknown', destination_workload: 'db' }, value: ms / 1000 },
      // curl → db: 1 refused per second, never opened; and 1 per 5 s that opened and then failed.
      { name: 'istio_tcp_connections_failed_total', labels: { ...base, reporter: 'destination', source_workload: 'curl', connection_security_policy: 'unknown', destination_service_name: 'unknown', destination_workload: 'db', response_flags: 'DENY' }, value: ms / 1000 + ms / 5000 },
      { name: 'istio_tcp_connections_closed_total', labels: { ...base, reporter: 'destination', source_workload: 'curl', connection_security_policy: 'unknown', destination_service_name: 'unknown', destination_workload: 'db', response_flags: 'CONNECT' }, value: ms / 5000 },
    ]);
  at(0, 0, 0, 0, 0);
  at(5000, 90, 10, 5000, 1000);
  at(10_000, 180, 20, 10_000, 2000);
  return h;
}

t.test('trafficEdges: HTTP from waypoints, TCP from the destination side, once each', async (t) => {
  const q = historyQueries(history(), () => 10_000);
  const edges = await trafficEdges(q, 10_000, 10_000);
  t.same(
    edges.map((e) => [e.source, e.destination, e.destinationIsService, e.mtls, e.viaWaypoint]),
    [
      ['demo/curl', 'demo/db', false, false, false],
      ['demo/productpage', 'demo/db', false, true, false],
      ['demo/productpage', 'demo/reviews', true, true, true],
    ],
    'a service name when known, else the destination workload; mTLS from the security label',
  );
  const reviews = edges.find((e) => e.destination === 'demo/reviews');
  t.equal(reviews?.requestsPerSecond, 20, '200 requests in 10 s, the source-side reports not counted');
  t.equal(reviews?.errorRatio, 0.1, '4xx/5xx share');
  t.equal(reviews?.tcpBytesPerSecond, 1000, 'destination-side bytes only');
  t.ok(reviews?.p50Ms !== undefined && reviews.p50Ms <= 5, 'p50 within the first bucket');
  const curl = edges.find((e) => e.source === 'demo/curl');
  t.equal(curl?.p50Ms, undefined, 'no latency without requests');
  t.equal(curl?.connectionsPerSecond, 1, 'connections opened per second');
  // 10 opened + 12 failed − 2 of the failed were opened = 20 attempts, 12 failed.
  t.equal(curl?.errorRatio, 12 / 20, 'without requests: failed connections over attempts');
  const half = (await trafficEdges(q, 10_000, 5000)).find((e) => e.destination === 'demo/reviews');
  t.equal(half?.requestsPerSecond, 20, 'a 5 s window');
  t.same(await trafficEdges(historyQueries(new MetricHistory(1000), () => 0), 0, 1000), [], 'no data, no edges');
});

t.test('goldenSeries: per step, for a service or a workload', async (t) => {
  const q = historyQueries(history(), () => 10_000);
  const svc = await goldenSeries(q, { kind: 'service', namespace: 'demo', name: 'reviews' }, 10_000, 15_000, 5000);
  t.same(svc.map((p) => p.at), [0, 5000, 10_000], 'oldest first, ending at the last step');
  t.same(svc.map((p) => p.requestsPerSecond), [0, 20, 20]);
  t.same(svc.map((p) => p.errorRatio), [0, 0.1, 0.1]);
  t.equal(svc[0]?.p50Ms, null, 'no latency without requests');
  t.ok((svc[2]?.p99Ms ?? 0) > 0 && (svc[2]?.p99Ms ?? 99) <= 5, 'p99 in the first bucket');
  t.same(svc.map((p) => p.tcpBytesPerSecond), [0, 1000, 1000]);
  const db = await goldenSeries(q, { kind: 'workload', namespace: 'demo', name: 'db' }, 10_000, 10_000, 5000);
  t.same(db.map((p) => p.connectionsPerSecond), [2, 2], 'both callers of the db workload');
  t.same(db.map((p) => p.requestsPerSecond), [0, 0]);
  const none = await goldenSeries(q, { kind: 'service', namespace: 'demo', name: 'nothing' }, 10_000, 10_000, 5000);
  t.same(none.map((p) => p.requestsPerSecond + p.tcpBytesPerSecond), [0, 0], 'a quiet service: zeros, not gaps');
});

t.test('stepsOf and isErrorCode', async (t) => {
  t.same(stepsOf(12_345, 30_000, 10_000), [-10_000, 0, 10_000], 'aligned to the step');
  t.throws(() => stepsOf(0, 1000, 0), /positive step/);
  t.throws(() => stepsOf(0, 1000, 5000), /no longer than its range/);
  const codes: Array<[string | undefined, boolean]> = [['200', false], ['302', false], ['403', true], ['503', true], ['0', true], [undefined, false]];
  for (const [c, want] of codes) t.equal(isErrorCode(c), want, `code ${c}`);
});

t.test('trafficEdges: an edge whose every connection is refused keeps its mTLS lock and shows the failures', async (t) => {
  const h = new MetricHistory(60_000);
  const denied = { ...base, reporter: 'destination', response_flags: 'DENY' };
  h.add('z', 0, [{ name: 'istio_tcp_connections_failed_total', labels: denied, value: 0 }]);
  h.add('z', 5000, [{ name: 'istio_tcp_connections_failed_total', labels: denied, value: 4 }]);
  const [e] = await trafficEdges(historyQueries(h, () => 5000), 5000, 5000);
  t.match(e, { source: 'demo/productpage', destination: 'demo/reviews', errorRatio: 1, connectionsPerSecond: 0, mtls: true });
});
