// The scrape source against real metrics endpoints: prom-client registries with Istio's TCP and
// request metrics served over HTTP, one endpoint failing.
import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { tcpLabels, TcpMetrics } from '../../lib/telemetry/metrics.js';
import { requestLabels, RequestMetrics } from '../../lib/telemetry/request-metrics.js';
import { ScrapeSource } from './scrape-source.js';
import { trafficEdges } from './signals.js';

async function serve(handler: () => Promise<{ status: number; body: string }>): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    void handler().then((r) => {
      res.writeHead(r.status, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/stats/prometheus` };
}

t.test('ScrapeSource scrapes ztunnel- and waypoint-like endpoints into edges', async (t) => {
  const zt = new Registry();
  const tcp = new TcpMetrics(zt);
  const wp = new Registry();
  const req = new RequestMetrics(wp);
  const a = await serve(async () => ({ status: 200, body: await zt.metrics() }));
  const b = await serve(async () => ({ status: 200, body: await wp.metrics() }));
  const broken = await serve(async () => ({ status: 500, body: 'no' }));
  t.teardown(() => {
    for (const s of [a, b, broken]) s.server.close();
  });

  let now = 1_000_000;
  const src = new ScrapeSource({
    now: () => now,
    targets: () => [
      { name: 'ztunnel/node-1', url: a.url },
      { name: 'waypoint/demo', url: b.url },
      { name: 'ztunnel/node-2', url: broken.url },
      { name: 'ztunnel/node-3', url: 'http://127.0.0.1:1/metrics' },
    ],
  });
  const peers = { source: { workload: 'productpage', namespace: 'demo' }, destination: { workload: 'reviews-v1', namespace: 'demo' }, destinationService: { hostname: 'reviews.demo.svc.cluster.local', namespace: 'demo', name: 'reviews' }, mtls: true };
  const first = await src.scrape();
  t.same(first.map((r) => [r.target, r.ok]), [['ztunnel/node-1', true], ['waypoint/demo', true], ['ztunnel/node-2', false], ['ztunnel/node-3', false]]);
  t.match(first[2]?.error, /HTTP 500/, 'the failure says why');
  t.match(first[3]?.error, /127\.0\.0\.1:1/, 'an unreachable endpoint names its URL');

  const tl = tcpLabels({ reporter: 'destination', ...peers });
  for (let i = 0; i < 4; i++) {
    tcp.connectionOpened(tl);
    tcp.connectionClosed(tl, { received: 1000, sent: 3000 });
  }
  for (let i = 0; i < 50; i++) req.record(requestLabels({ reporter: 'waypoint', ...peers, protocol: 'http', responseCode: i < 5 ? 503 : 200 }), { durationMs: 3, requestBytes: 100, responseBytes: 200 });
  now += 5000;
  await src.scrape();
  const edges = await trafficEdges(src, src.now(), 5000);
  t.equal(edges.length, 1, 'one edge');
  t.match(edges[0], { source: 'demo/productpage', destination: 'demo/reviews', destinationIsService: true, viaWaypoint: true, connectionsPerSecond: 4 / 5, mtls: true, requestsPerSecond: 10, errorRatio: 0.1, tcpBytesPerSecond: 16000 / 5 });
  t.ok(edges[0]?.p50Ms !== undefined && edges[0].p50Ms > 1 && edges[0].p50Ms <= 5, `p50 ${edges[0]?.p50Ms} in the 1–5 ms bucket`);
  t.ok(src.history.size > 0, 'only istio_* kept');

  now += 5000;
  await src.scrape();
  const quiet = await trafficEdges(src, src.now(), 4000);
  t.same(quiet, [], 'no traffic in the last window, no edge');
});

t.test('ScrapeSource start/stop scrapes on its interval', async (t) => {
  let hits = 0;
  const s = await serve(async () => {
    hits++;
    return { status: 200, body: 'istio_x 1\n' };
  });
  t.teardown(() => s.server.close());
  const src = new ScrapeSource({ intervalMs: 50, targets: () => [{ name: 'x', url: s.url }] });
  src.start();
  while (hits < 3) await new Promise((r) => setTimeout(r, 20));
  src.stop();
  const after = hits;
  await new Promise((r) => setTimeout(r, 150));
  t.ok(hits <= after + 1, 'no scrapes after stop (one may be in flight)');
});
