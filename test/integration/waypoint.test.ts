// The waypoint in process against a fake control plane, a test CA and two upstream pods (HBONE
// servers on their own loopback addresses in front of echo apps), driven the way ztunnel drives
// it: HTTP/1.1, h2c and gRPC inside HBONE tunnels whose :authority is the service VIP.
import http from 'node:http';
import http2 from 'node:http2';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { createTestCa } from '../../lib/identity/testkit.js';
import { AppProtocol } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import { createLogger, silentLogger } from '../../lib/telemetry/log.js';
import { startTestXdsServer } from '../../lib/xds/testkit.js';
import { startWaypoint } from '../../waypoint/app.js';
import { resolveConfig } from '../../waypoint/config.js';
import { FakeControlPlane, HbonePool, issue, loopbackIps, metricSum, serviceResource, startClientTunnel, startEchoPod, testCaClient, workloadResource } from './testkit/waypoint.js';
import { seededRandom } from '../../lib/sys/testkit.js';
import { promtoolCheck } from './testkit/promtool.js';
import { startReceiver } from './testkit/traces.js';

const NS = 'app';
const HOST = `echo.${NS}.svc.cluster.local`;
const VIP = '10.96.0.10';
/** A service on the v1 pod alone, under a DestinationRule's connection pool limits. */
const CAPPED = `capped.${NS}.svc.cluster.local`;
const CAPPED_VIP = '10.96.0.11';
const CLIENT_IP = '10.244.0.5';
const CLIENT_ID = 'spiffe://cluster.local/ns/app/sa/client';
const ms = (n: number) => ({ seconds: BigInt(Math.floor(n / 1000)), nanos: (n % 1000) * 1_000_000 });
const dest = (subset?: 'v1' | 'v2', weight = 1) => ({ hostname: HOST, namespace: NS, port: 0, weight, ...(subset ? { subset, subsetLabels: { version: subset } } : {}) });
const exact = (p: string) => [{ path: { kind: { case: 'exact' as const, value: p } } }];

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

t.test('waypoint: routing, splits, header mutation, faults, retries, timeouts, metrics, gRPC', async (t) => {
  const ca = await createTestCa();
  const cp = new FakeControlPlane();
  const xds = await startTestXdsServer({ sources: cp.sources, debounce: { quietMs: 1, maxMs: 5 } });
  t.teardown(() => xds.close());
  const [ipA, ipB] = loopbackIps(2) as [string, string];
  const v1 = await startEchoPod(t, ca, { name: 'echo-v1', ip: ipA, identity: 'spiffe://cluster.local/ns/app/sa/echo' });
  const v2 = await startEchoPod(t, ca, { name: 'echo-v2', ip: ipB, identity: 'spiffe://cluster.local/ns/app/sa/echo' });

  cp.service(serviceResource({ name: 'echo', namespace: NS, vip: VIP, ports: [[80, 8080, AppProtocol.HTTP11], [90, 9090, AppProtocol.GRPC]] }));
  const ports: Array<[number, number]> = [[80, 8080], [90, 9090]];
  cp.service(serviceResource({ name: 'capped', namespace: NS, vip: CAPPED_VIP, ports: [[80, 8080, AppProtocol.HTTP11], [81, 8080, AppProtocol.HTTP2]] }));
  cp.workload(workloadResource({ name: 'echo-v1-a', namespace: NS, ip: ipA, serviceAccount: 'echo', app: 'echo', version: 'v1', services: { [`${NS}/${HOST}`]: ports, [`${NS}/${CAPPED}`]: [[80, 8080], [81, 8080]] } }));
  cp.workload(workloadResource({ name: 'echo-v2-a', namespace: NS, ip: ipB, serviceAccount: 'echo', app: 'echo', version: 'v2', services: { [`${NS}/${HOST}`]: ports } }));
  cp.workload(workloadResource({ name: 'client-a', namespace: NS, ip: CLIENT_IP, serviceAccount: 'client', app: 'client', version: 'v1', services: {} }));
  cp.routes(NS, HOST, 'app/waypoint', [
    { name: 'by-header', matches: [{ headers: [{ name: 'x-route', kind: { case: 'exact', value: 'v2' } }] }], action: { case: 'forward', value: { destinations: [dest('v2')] } } },
    { name: 'split', matches: [{ path: { kind: { case: 'prefix', value: '/split' } } }], action: { case: 'forward', value: { destinations: [dest('v1', 90), dest('v2', 10)] } } },
    {
      name: 'headers',
      matches: exact('/headers'),
      action: { case: 'forward', value: { destinations: [dest('v1')] } },
      requestHeaders: { set: { 'x-set': 'yes' }, add: { 'x-add': 'more' }, remove: ['x-remove'] },
      responseHeaders: { set: { 'x-resp': 'set' }, remove: ['x-pod'] },
    },
    { name: 'abort', matches: exact('/abort'), action: { case: 'forward', value: { destinations: [dest()] } }, fault: { abort: { error: { case: 'httpStatus', value: 503 }, percentage: 50 } } },
    { name: 'delay', matches: exact('/delay'), action: { case: 'forward', value: { destinations: [dest()] } }, fault: { delay: { fixedDelay: ms(300), percentage: 100 } } },
    { name: 'flaky', matches: exact('/flaky'), action: { case: 'forward', value: { destinations: [dest()] } }, retry: { attempts: 2, retryOn: ['5xx'], backoff: ms(5) } },
    { name: 'flaky-plain', matches: exact('/flaky-plain'), action: { case: 'forward', value: { destinations: [dest()] } }, rewrite: { path: { case: 'fullPath', value: '/flaky' } } },
    { name: 'slow', matches: exact('/slow'), action: { case: 'forward', value: { destinations: [dest()] } }, timeout: ms(200) },
    { name: 'redirect', matches: exact('/old'), action: { case: 'redirect', value: { path: { case: 'fullPath', value: '/new' }, statusCode: 301 } } },
    { name: 'nothing-else', matches: [{ path: { kind: { case: 'prefix', value: '/' } } }], action: { case: 'forward', value: { destinations: [dest()] } } },
  ]);
  // A route for another waypoint must be ignored.
  cp.routes(NS, 'other.app.svc.cluster.local', 'app/other-waypoint', []);

  const receiver = await startReceiver(t);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'waypoint-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'token'), 'node-credential\n');
  const config = resolveConfig(
    { hboneAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', metricsAddress: '127.0.0.1:0', readinessAddress: '127.0.0.1:0', xdsAddress: xds.address, tokenFile: path.join(dir, 'token'), otlpEndpoint: receiver.url, logLevel: 'silent' },
    { GATEWAY_NAME: 'waypoint', POD_NAMESPACE: NS },
  );
  const wp = await startWaypoint(config, { caClient: testCaClient(ca), xdsCredentials: grpc.credentials.createInsecure(), random: seededRandom(42), logger: process.env.WAYPOINT_TEST_LOG ? createLogger('waypoint', 'debug') : silentLogger(), xdsBackoff: { initialMs: 20, maxMs: 200 } });
  t.teardown(() => wp.close(100));
  await wp.whenReady();
  t.same(wp.notReady(), [], 'ready once the certificate and the configuration arrived');
  t.equal(wp.state.routeConfig('other.app.svc.cluster.local'), undefined, 'a RouteConfig for another waypoint is ignored');
  const ready = await fetch(`http://${wp.addresses.readiness}/healthz/ready`);
  t.equal(ready.status, 200);

  const pool = new HbonePool();
  t.teardown(() => pool.close());
  const clientCreds = await issue(ca, CLIENT_ID);
  const tunnel = (port: number) => startClientTunnel(t, { pool, credentials: clientCreds, identity: CLIENT_ID, waypoint: wp.addresses.hbone, waypointIdentity: wp.identity, authority: `${VIP}:${port}`, clientIp: CLIENT_IP });
  const port80 = await tunnel(80);
  const cappedPort = await startClientTunnel(t, { pool, credentials: clientCreds, identity: CLIENT_ID, waypoint: wp.addresses.hbone, waypointIdentity: wp.identity, authority: `${CAPPED_VIP}:80`, clientIp: CLIENT_IP });
  const port90 = await tunnel(90);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  t.teardown(() => agent.destroy());
  const get = (p: string, headers: http.OutgoingHttpHeaders = {}, port = port80): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const req = http.request({ host: '127.0.0.1', port, path: p, agent, headers: { host: `echo.${NS}:80`, ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), ms: performance.now() - started }));
      });
      req.on('error', reject);
      req.end();
    });
  const many = async (n: number, p: string, concurrency = 16): Promise<Reply[]> => {
    const out: Reply[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        out.push(await get(p));
      }
    }));
    return out;
  };
  const podOf = (r: Reply): string => (JSON.parse(r.body) as { pod: string }).pod;

  await t.test('routing by header, and the default route over both pods', async (t) => {
    for (let i = 0; i < 10; i++) t.equal(podOf(await get('/x', { 'x-route': 'v2' })), 'echo-v2');
    const pods = new Set((await many(40, '/anything')).map(podOf));
    t.same([...pods].sort(), ['echo-v1', 'echo-v2']);
    t.ok(v1.authorities.length > 0 && v1.authorities.every((a) => a === `${ipA}:8080`), 'upstream tunnels name the pod and its target port');
    t.ok(v2.authorities.length > 0 && v2.authorities.every((a) => a === `${ipB}:8080`));
  });

  await t.test('upstream connections the app closed when idle are not reused', async (t) => {
    t.equal((await get('/idle', { 'x-route': 'v2' })).status, 200);
    await new Promise((r) => setTimeout(r, 600));
    const again = await Promise.race([get('/idle', { 'x-route': 'v2' }), new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
    t.equal(again?.status, 200, 'answered after the app closed the idle connection');
  });

  await t.test('a 90/10 split over 1,000 requests', async (t) => {
    const replies = await many(1000, '/split');
    t.ok(replies.every((r) => r.status === 200));
    const toV2 = replies.filter((r) => podOf(r) === 'echo-v2').length;
    t.ok(toV2 >= 60 && toV2 <= 140, `10% ±4% to v2 (got ${toV2})`);
  });

  await t.test('request and response header mutation; traceparent and request id', async (t) => {
    const r = await get('/headers', { 'x-remove': 'gone', 'x-add': 'first', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    const seen = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
    t.equal(seen['x-set'], 'yes');
    t.equal(seen['x-add'], 'first, more');
    t.equal(seen['x-remove'], undefined);
    t.match(seen.traceparent, /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/, 'same trace');
    t.not(seen.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'a new span id');
    t.ok(seen['x-request-id']);
    t.equal(r.headers['x-resp'], 'set');
    t.equal(r.headers['x-pod'], undefined);
  });

  await t.test('spans: one SERVER span per request, a child of the caller, exported over OTLP; B3 continued', async (t) => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const r = await get('/headers', { traceparent: `00-${trace}-00f067aa0ba902b7-01` });
    const seen = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
    const [span] = await receiver.waitFor('the /headers request', (all) => all.filter((s) => s.traceId === trace));
    t.match(span, { parentSpanId: '00f067aa0ba902b7', kind: 'server', service: `waypoint.${NS}`, name: `${HOST}:80/*`, status: { code: 'unset' } });
    t.match(span!.attributes, { 'http.method': 'GET', 'http.status_code': 200, route: 'headers', upstream_cluster: `outbound|80|v1|${HOST}`, response_flags: '-', 'peer.identity': CLIENT_ID, 'upstream.address': ipA });
    t.equal(seen.traceparent, `00-${trace}-${span!.spanId}-01`, "the app's parent is the waypoint's span");
    t.ok(v1.tunnelTraceparents.includes(seen.traceparent!), 'and so is the upstream CONNECT');
    t.ok(span!.endNs > span!.startNs && span!.startNs > BigInt(Date.now() - 60_000) * 1_000_000n, 'epoch nanoseconds');

    const b3 = await get('/headers', { 'x-b3-traceid': 'a3ce929d0e0e4736', 'x-b3-spanid': '00f067aa0ba902b8', 'x-b3-sampled': '1' });
    const bh = (JSON.parse(b3.body) as { headers: Record<string, string> }).headers;
    const [b3span] = await receiver.waitFor('the B3 request', (all) => all.filter((s) => s.traceId === '0000000000000000a3ce929d0e0e4736'));
    t.same([bh['x-b3-traceid'], bh['x-b3-spanid'], bh['x-b3-parentspanid'], bh['x-b3-sampled']], ['a3ce929d0e0e4736', b3span!.spanId, '00f067aa0ba902b8', '1'], 'B3 multi continued with the same 64-bit trace id');
    t.equal(bh.traceparent, `00-0000000000000000a3ce929d0e0e4736-${b3span!.spanId}-01`, 'and traceparent sent alongside');
    const single = await get('/headers', { b3: `${trace.replace('4bf', '5bf')}-00f067aa0ba902b9-1` });
    t.match((JSON.parse(single.body) as { headers: Record<string, string> }).headers.b3, new RegExp(`^${trace.replace('4bf', '5bf')}-[0-9a-f]{16}-1-00f067aa0ba902b9$`), 'B3 single continued');

    await get('/headers', { traceparent: '00-6bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' });
    const aborted = await get('/abort', { traceparent: '00-7bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    await receiver.waitFor('the /abort request', (all) => all.filter((s) => s.traceId.startsWith('7bf92f')));
    t.equal(receiver.spans().filter((s) => s.traceId.startsWith('6bf92f')).length, 0, 'an unsampled request records no span');
    const [abortSpan] = receiver.spans().filter((s) => s.traceId.startsWith('7bf92f'));
    if (aborted.status === 503) t.match(abortSpan, { status: { code: 'error' }, attributes: { response_flags: 'FI', 'http.status_code': 503 } }, 'an aborted request is an error span with its flag');
    else t.match(abortSpan, { status: { code: 'unset' }, attributes: { 'http.status_code': 200 } });

    const listed = (await (await fetch(`${receiver.base}/api/traces?service=waypoint.${NS}&limit=500`)).json()) as { data: Array<{ traceID: string; spans: Array<{ spanID: string; references: Array<{ spanID: string }> }>; processes: Record<string, { serviceName: string }> }> };
    const mine = listed.data.find((x) => x.traceID === trace);
    t.ok(mine, '/api/traces finds the trace by service');
    t.equal(mine!.spans[0]!.references[0]!.spanID, '00f067aa0ba902b7', 'Jaeger-shaped: the parent as a CHILD_OF reference');
    t.same(Object.values(mine!.processes).map((p) => p.serviceName), [`waypoint.${NS}`]);
    const one = await fetch(`${receiver.base}/api/traces/${trace}`);
    t.equal(one.status, 200);
    t.equal((await fetch(`${receiver.base}/api/traces/${'e'.repeat(32)}`)).status, 404);
  });

  await t.test('fault abort 50% of 1,000 requests', async (t) => {
    const replies = await many(1000, '/abort');
    const aborted = replies.filter((r) => r.status === 503).length;
    t.ok(aborted >= 450 && aborted <= 550, `50% ±5% aborted (got ${aborted})`);
    t.equal(replies.filter((r) => r.status === 503 && r.body === 'fault filter abort').length, aborted);
  });

  await t.test('fault delay shows in the latency', async (t) => {
    const plain = await get('/nodelay');
    const delayed = await get('/delay');
    t.equal(delayed.status, 200);
    t.ok(delayed.ms >= 290, `delayed by 300ms (took ${Math.round(delayed.ms)}ms)`);
    t.ok(plain.ms < 250, `undelayed requests are fast (took ${Math.round(plain.ms)}ms)`);
  });

  await t.test('retries hide a backend failing one request in three', async (t) => {
    const without = await many(30, '/flaky-plain', 1);
    t.ok(without.filter((r) => r.status === 503).length >= 8, 'without retries about a third fail');
    const withRetries = await many(60, '/flaky', 1);
    t.same(withRetries.filter((r) => r.status !== 200).map((r) => r.status), [], 'with retries none fail');
  });

  await t.test('a route timeout cuts a slow backend', async (t) => {
    const r = await get('/slow');
    t.equal(r.status, 504);
    t.equal(r.body, 'upstream request timeout');
    t.ok(r.ms < 800, `cut after about 200ms (took ${Math.round(r.ms)}ms)`);
  });

  await t.test('redirects', async (t) => {
    const r = await get('/old');
    t.equal(r.status, 301);
    t.equal(r.headers.location, `http://echo.${NS}/new`);
  });

  await t.test('h2c from the client, HTTP/1.1 to the declared port', async (t) => {
    const s = http2.connect(`http://127.0.0.1:${port80}`);
    t.teardown(() => s.close());
    const ask = (p: string, headers: http2.OutgoingHttpHeaders = {}): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const st = s.request({ ':path': p, ':authority': `echo.${NS}`, ...headers });
        let status = 0;
        const chunks: Buffer[] = [];
        st.on('response', (h) => (status = Number(h[':status'])));
        st.on('data', (c: Buffer) => chunks.push(c));
        st.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString() }));
        st.on('error', reject);
        st.end();
      });
    const replies = await Promise.all(Array.from({ length: 20 }, () => ask('/h2', { 'x-route': 'v2' })));
    t.ok(replies.every((r) => r.status === 200 && (JSON.parse(r.body) as { pod: string }).pod === 'echo-v2'), 'routed by header over one h2c connection');
    t.equal((await ask('/nothing-here-matches-but-prefix')).status, 200);
  });

  await t.test('gRPC unary through the waypoint, counted by grpc status', async (t) => {
    const c = new grpc.Client(`127.0.0.1:${port90}`, grpc.credentials.createInsecure());
    t.teardown(() => c.close());
    const call = (text: string): Promise<{ code: number; reply?: string }> =>
      new Promise((resolve) => {
        c.makeUnaryRequest('/test.Echo/Echo', (b: Buffer) => b, (b: Buffer) => b, Buffer.from(text), (err, res) => resolve(err ? { code: err.code } : { code: 0, reply: res!.toString() }));
      });
    for (let i = 0; i < 5; i++) t.match((await call(`hello ${i}`)).reply, /^echo-v[12]:hello \d$/);
    for (let i = 0; i < 3; i++) t.equal((await call('fail:14')).code, 14);
  });

  await t.test('connection pool limits: over maxConnections + http1MaxPendingRequests, 503 with UO at once', async (t) => {
    const limits = async (connectionPool: { maxConnections?: number; http1MaxPendingRequests?: number; http2MaxRequests?: number }) => {
      const gen = wp.state.generation;
      cp.destinationPolicy({ namespace: NS, hostname: CAPPED, waypoint: 'app/waypoint', trafficPolicy: { connectionPool } });
      const deadline = Date.now() + 5000;
      while (wp.state.generation === gen && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    const slowBurst = async (n: number, p: string): Promise<Reply[]> => Promise.all(Array.from({ length: n }, () => get(p, {}, cappedPort)));
    await limits({ maxConnections: 1, http1MaxPendingRequests: 1 });
    // One idle connection first: a request waiting for a connection being opened is pending too.
    t.equal((await get('/warm', {}, cappedPort)).status, 200);
    const tunnelsBefore = v1.authorities.length;
    const replies = await slowBurst(5, '/slow');
    const overflowed = replies.filter((r) => r.status === 503);
    t.same(replies.map((r) => r.status).sort(), [200, 200, 503, 503, 503], 'one in flight, one waiting, three over the limit');
    t.ok(overflowed.every((r) => r.body === 'upstream connect error or disconnect/reset before headers. reset reason: overflow' && r.ms < 500), 'the overflowed ones answered at once');
    const served = replies.filter((r) => r.status === 200).map((r) => r.ms).sort((a, b) => a - b);
    t.ok(served[1]! >= 1900, `the waiting one went after the first, on the one connection (${Math.round(served[0]!)} / ${Math.round(served[1]!)} ms)`);
    t.ok(v1.authorities.length - tunnelsBefore <= 1, `one connection at a time: the idle one, or one replacing it (${v1.authorities.length - tunnelsBefore} new)`);

    await limits({ http2MaxRequests: 2 });
    const byRequests = await slowBurst(5, '/slow');
    t.same(byRequests.map((r) => r.status).sort(), [200, 200, 503, 503, 503], 'http2MaxRequests bounds requests in flight');

    await limits({ maxConnections: 2, http1MaxPendingRequests: 10 });
    const queued = await slowBurst(4, '/slow');
    t.same(queued.map((r) => r.status), [200, 200, 200, 200], 'within the pending limit every request waits its turn');
    const times = queued.map((r) => r.ms).sort((a, b) => a - b);
    t.ok(times[3]! >= 1900, `two at a time over two connections (slowest ${Math.round(times[3]!)} ms)`);
    const dump = (await (await fetch(`http://${wp.addresses.admin}/config_dump`)).json()) as { clusters: Array<{ service: string; breaker: { connections: { limit: number; active: number; overflow: number }; pending: { overflow: number } } }> };
    const capped = dump.clusters.find((c) => c.service === CAPPED)!;
    t.equal(capped.breaker.connections.limit, 2);
    t.ok(capped.breaker.connections.active <= 2, `connections open within the limit (${capped.breaker.connections.active})`);
    t.ok(capped.breaker.connections.overflow >= 2, 'requests that waited for a connection counted as connection overflow');
  });

  await t.test('Istio request metrics with reporter="waypoint"', async (t) => {
    const base = { reporter: 'waypoint', source_workload: 'client-v1', source_workload_namespace: NS, source_principal: CLIENT_ID, destination_service: HOST, destination_service_name: 'echo', destination_service_namespace: NS, connection_security_policy: 'mutual_tls' };
    let text = '';
    const deadline = Date.now() + 5000;
    do {
      text = await (await fetch(`http://${wp.addresses.metrics}/metrics`)).text();
      if (metricSum(text, 'istio_requests_total', { ...base, request_protocol: 'grpc', grpc_response_status: '14' }) >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < deadline);
    const count = (l: Record<string, string>) => metricSum(text, 'istio_requests_total', { ...base, ...l });
    t.ok(count({ response_flags: 'FI', response_code: '503' }) >= 450, 'aborts counted with FI');
    t.equal(count({ response_flags: 'UT', response_code: '504' }), 1, 'the timeout counted with UT');
    t.equal(metricSum(text, 'istio_requests_total', { reporter: 'waypoint', destination_service: CAPPED, response_flags: 'UO', response_code: '503' }), 6, 'overflows counted with UO');
    t.equal(count({ response_flags: 'DI', response_code: '200' }), 1, 'the delay counted with DI');
    t.ok(count({ destination_workload: 'echo-v2', destination_canonical_revision: 'v2', destination_principal: 'spiffe://cluster.local/ns/app/sa/echo' }) >= 70, 'destination labels from the endpoint');
    t.equal(count({ request_protocol: 'grpc', grpc_response_status: '0', response_code: '200' }), 5);
    t.equal(count({ request_protocol: 'grpc', grpc_response_status: '14', response_code: '200' }), 3);
    t.ok(metricSum(text, 'istio_request_duration_milliseconds_count', { ...base, response_flags: 'DI' }) === 1);
    t.ok(metricSum(text, 'istio_response_bytes_sum', base) > 0);
    t.same((await promtoolCheck(text)).problems, [], "the waypoint's exposition passes promtool check metrics (but for Istio's istio_request_duration_milliseconds)");
    const dump = (await (await fetch(`http://${wp.addresses.admin}/config_dump`)).json()) as { routeConfigs: unknown[]; certificates: Array<{ identity: string; state: string }> };
    t.equal(dump.routeConfigs.length, 1);
    t.same(dump.certificates.map((c) => [c.identity, c.state]), [['spiffe://cluster.local/ns/app/sa/waypoint', 'available']]);
  });
});
