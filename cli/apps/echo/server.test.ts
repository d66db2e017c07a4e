import { randomBytes } from 'node:crypto';
import net from 'node:net';
import t from 'tap';
import { silentLogger } from '../../../lib/telemetry/log.js';
import { request, TransportError, type EchoResult } from './client.js';
import { startEchoServer } from './server.js';
import { captureLogger } from './testkit.js';

const base = { host: '127.0.0.1', httpPort: 0, grpcPort: 0, tcpPort: 0, name: 'echo-v2-abc', namespace: 'ns1', version: 'v2', cluster: 'cl1' };

t.test('echo answers over HTTP/1.1, h2c and gRPC', async (t) => {
  const cap = captureLogger();
  const s = await startEchoServer({ ...base, logger: cap.log });
  t.teardown(() => s.close());
  t.ok(s.ports.http! > 0 && s.ports.grpc! > 0 && s.ports.tcp! > 0, 'ephemeral ports resolved');
  const cases: Array<{ url: string; proto: string; port: number; method: string; url2: string }> = [
    { url: `http://127.0.0.1:${s.ports.http}/path?q=1`, proto: 'HTTP/1.1', port: s.ports.http!, method: 'GET', url2: '/path?q=1' },
    { url: `h2c://127.0.0.1:${s.ports.http}/path?q=1`, proto: 'HTTP/2.0', port: s.ports.http!, method: 'GET', url2: '/path?q=1' },
    { url: `grpc://127.0.0.1:${s.ports.grpc}`, proto: 'GRPC', port: s.ports.grpc!, method: 'POST', url2: '/ambit.echo.EchoTestService/Echo' },
  ];
  for (const c of cases) {
    const r = await request(c.url, { headers: [['X-Custom', 'one'], ['x-custom', 'two'], ['host', 'echo.ns1.svc:80']] });
    t.equal(r.status, 200, `${c.proto} status`);
    t.same(
      r.fields,
      {
        ServiceVersion: 'v2',
        ServicePort: String(c.port),
        Host: 'echo.ns1.svc:80',
        Hostname: 'echo-v2-abc',
        Namespace: 'ns1',
        IP: '127.0.0.1',
        Method: c.method,
        URL: c.url2,
        Proto: c.proto,
        StatusCode: '200',
        Cluster: 'cl1',
      },
      `${c.proto} fields`,
    );
    // gRPC metadata joins repeated keys into one value on the wire.
    const want = c.proto === 'GRPC' ? ['one, two'] : ['one', 'two'];
    t.same(r.requestHeaders['x-custom'], want, `${c.proto} request headers, repeated`);
  }
  const post = await request(`h2c://127.0.0.1:${s.ports.http}/up`, { body: 'hello' });
  t.equal(post.fields.Method, 'POST');
  t.same(post.requestHeaders['content-length'], ['5']);
  const logged = await cap.waitFor((l) => l.msg === 'request' && l.url === '/up');
  t.match(logged, { method: 'POST', proto: 'HTTP/2.0', status: 200, src: '127.0.0.1', bytesIn: 5, completed: true }, 'one JSON access-log line');
});

t.test('status, delay, size and header controls', async (t) => {
  const s = await startEchoServer({ ...base, logger: silentLogger() });
  t.teardown(() => s.close());
  const h1 = `http://127.0.0.1:${s.ports.http}`;
  const h2 = `h2c://127.0.0.1:${s.ports.http}`;
  for (const u of [h1, h2]) {
    const r503 = await request(`${u}/?status=503`);
    t.equal(r503.status, 503);
    t.equal(r503.fields.StatusCode, '503');
    t.equal((await request(`${u}/`, { headers: { 'x-echo-status': '418' } })).status, 418, 'status from header');
    const started = Date.now();
    const slow = await request(`${u}/?delay=300ms`);
    t.ok(Date.now() - started >= 290, `${u} delay honoured`);
    t.equal(slow.status, 200);
    const plain = await request(`${u}/?size=0`);
    const big = await request(`${u}/?size=1000`);
    t.equal(big.raw.length, plain.raw.length + 1000 + '1000'.length - 1, 'size adds N bytes (URL line differs by the digits)');
    t.equal(big.fields.Hostname, 'echo-v2-abc', 'padding does not break parsing');
    const hdr = await request(`${u}/?headers=x-a:1,x-b:two`);
    t.equal(hdr.headers['x-a'], '1');
    t.equal(hdr.headers['x-b'], 'two');
    t.same(hdr.responseHeaders['x-a'], ['1']);
    const bad = await request(`${u}/?status=abc`);
    t.equal(bad.status, 400);
    t.match(bad.body, /\?status: 'abc' is not a status code/);
  }
  const h2conn = await request(`${h2}/?headers=connection:close,x-ok:1`);
  t.equal(h2conn.status, 200, 'h2 skips connection-specific response headers');
  t.equal(h2conn.headers.connection, undefined);
  t.equal(h2conn.headers['x-ok'], '1');
  t.equal((await request(`${h1}/?headers=x-bad:${encodeURIComponent('a\u0001b')}`)).status, 400, 'an invalid header value is a 400, not a crash');
  const g = `grpc://127.0.0.1:${s.ports.grpc}`;
  const g503 = await request(g, { headers: { 'x-echo-status': '503' } });
  t.equal(g503.grpcCode, 14, 'x-echo-status 503 → UNAVAILABLE');
  t.equal(g503.status, 503);
  const gbig = await request(g, { headers: { 'x-echo-size': '100' }, body: 'ping' });
  t.equal(gbig.fields.Echo, 'ping');
  t.match(gbig.body, /x{100}$/);
  const gslow = Date.now();
  await request(g, { headers: { 'x-echo-delay': '200ms' } });
  t.ok(Date.now() - gslow >= 190, 'grpc delay honoured');
  t.equal((await request(g, { headers: { 'x-echo-size': 'lots' } })).grpcCode, 3, 'bad control → INVALID_ARGUMENT');
});

t.test('readiness flips', async (t) => {
  const s = await startEchoServer({ ...base, grpcPort: -1, tcpPort: undefined, logger: silentLogger() });
  t.teardown(() => s.close());
  t.same(s.ports, { http: s.ports.http }, 'disabled listeners absent');
  const u = `http://127.0.0.1:${s.ports.http}`;
  t.equal((await request(`${u}/healthz`)).status, 200);
  t.equal((await request(`${u}/ready?state=false`, { method: 'POST' })).body, 'Ready=false\n');
  t.equal((await request(`${u}/healthz`)).status, 503);
  t.equal((await request(`${u}/ready?state=maybe`, { method: 'POST' })).status, 400);
  s.setReady(true);
  t.equal((await request(`${u}/healthz`)).status, 200);
});

t.test('TCP echo is byte-exact for 1 MiB and honours half-close', async (t) => {
  const s = await startEchoServer({ ...base, httpPort: -1, grpcPort: -1, logger: silentLogger() });
  t.teardown(() => s.close());
  const payload = randomBytes(1024 * 1024);
  const r = await request(`tcp://127.0.0.1:${s.ports.tcp}`, { body: payload, timeoutMs: 20_000 });
  t.equal(r.raw.length, payload.length);
  t.ok(r.raw.equals(payload), 'same bytes back, then the server ended its side');
  // Nothing is written before the client speaks (no banner).
  const sock = net.connect({ host: '127.0.0.1', port: s.ports.tcp!, allowHalfOpen: true });
  const got: Buffer[] = [];
  sock.on('data', (c: Buffer) => got.push(c));
  await new Promise<void>((res) => sock.on('connect', () => res()));
  sock.end();
  await new Promise<void>((res) => sock.on('end', () => res()));
  t.equal(Buffer.concat(got).length, 0, 'an immediate half-close gets an empty echo and FIN');
  sock.destroy();
});

t.test('close() lets in-flight requests finish, then refuses', async (t) => {
  const cap = captureLogger();
  const s = await startEchoServer({ ...base, logger: cap.log, shutdownGraceMs: 5000 });
  const urls = [`http://127.0.0.1:${s.ports.http}/?delay=400ms`, `h2c://127.0.0.1:${s.ports.http}/?delay=400ms`];
  const inflight: Array<Promise<EchoResult>> = urls.map((u) => request(u));
  inflight.push(request(`grpc://127.0.0.1:${s.ports.grpc}`, { headers: { 'x-echo-delay': '400ms' } }));
  await cap.waitFor(() => cap.lines.filter((l) => l.msg === 'request started').length === 3);
  const closed = s.close();
  const results = await Promise.all(inflight);
  for (const r of results) t.equal(r.status, 200, `${r.fields.Proto} finished during shutdown`);
  await closed;
  await t.rejects(request(`http://127.0.0.1:${s.ports.http}/`), TransportError, 'no longer accepting');
});

t.test('start fails clearly when a port is taken, and releases the others', async (t) => {
  const a = await startEchoServer({ ...base, grpcPort: -1, tcpPort: -1, logger: silentLogger() });
  t.teardown(() => a.close());
  await t.rejects(startEchoServer({ ...base, httpPort: 0, tcpPort: a.ports.http!, logger: silentLogger() }), /cannot listen on 127.0.0.1:\d+ \(tcp\)/);
});

t.test('gRPC StreamEcho: one answer per message, then the status asked for', async (t) => {
  const s = await startEchoServer({ ...base, logger: silentLogger() });
  t.teardown(() => s.close());
  const g = `grpc://127.0.0.1:${s.ports.grpc}`;
  const r = await request(g, { stream: 5, body: 'hi' });
  t.equal(r.status, 200);
  t.equal(r.grpcCode, 0);
  t.same(r.body.split('\n').filter((l) => l.startsWith('Echo=')), ['Echo=hi #1', 'Echo=hi #2', 'Echo=hi #3', 'Echo=hi #4', 'Echo=hi #5'], 'five answers in order');
  t.match(r.body, /^URL=\/ambit\.echo\.EchoTestService\/StreamEcho$/m);
  const failing = await request(g, { stream: 2, headers: { 'x-echo-status': '503' } });
  t.equal(failing.grpcCode, 14, 'x-echo-status 503 ends the stream with UNAVAILABLE');
  await t.rejects(request(`http://127.0.0.1:${s.ports.http}/`, { stream: 2 }), /--stream needs a grpc:\/\/ URL/);
});
