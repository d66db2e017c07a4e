import t from 'tap';
import { MetricHistory } from './history.js';
import { edgesFromHistory } from './source.js';

const base = {
  source_workload: 'productpage',
  source_workload_namespace: 'demo',
  destination_workload: 'reviews-v1',
  destination_workload_namespace: 'demo',
  destination_service_name: 'reviews',
  destination_service_namespace: 'demo',
  connection_security_policy: 'mutual_tls',
};

t.test('edgesFromHistory: HTTP from waypoints, TCP from the destination side, once each', async (t) => {
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
    ]);
  at(0, 0, 0, 0, 0);
  at(5000, 90, 10, 5000, 1000);
  at(10_000, 180, 20, 10_000, 2000);
  const edges = edgesFromHistory(h, 10_000, 10_000);
  t.same(
    edges.map((e) => [e.source, e.destination, e.mtls, e.viaWaypoint]),
    [
      ['demo/curl', 'demo/db', false, false],
      ['demo/productpage', 'demo/db', true, false],
      ['demo/productpage', 'demo/reviews', true, true],
    ],
    'a service name when known, else the destination workload; mTLS from the security label',
  );
  const reviews = edges.find((e) => e.destination === 'demo/reviews');
  t.equal(reviews?.requestsPerSecond, 20, '200 requests in 10 s, the source-side reports not counted');
  t.equal(reviews?.errorRatio, 0.1, '5xx share');
  t.equal(reviews?.tcpBytesPerSecond, 1000, 'destination-side bytes only');
  t.ok(reviews?.p50Ms !== undefined && reviews.p50Ms <= 5, 'p50 within the first bucket');
  t.equal(edges.find((e) => e.source === 'demo/curl')?.p50Ms, undefined, 'no latency without requests');
  const half = edgesFromHistory(h, 10_000, 5000).find((e) => e.destination === 'demo/reviews');
  t.equal(half?.requestsPerSecond, 20, 'a 5 s window');
  t.same(edgesFromHistory(new MetricHistory(1000), 0, 1000), [], 'no data, no edges');
});
