import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import t from 'tap';
import { silentLogger } from '../../../lib/telemetry/log.js';
import { request, runLoad, TransportError } from './client.js';
import { formatReport } from './command.js';
import { startEchoServer, type EchoServer } from './server.js';
import { closedPort, roundRobinProxy } from './testkit.js';

const server = (version: string, name: string): Promise<EchoServer> =>
  startEchoServer({ host: '127.0.0.1', httpPort: 0, grpcPort: 0, tcpPort: 0, name, version, logger: silentLogger() });

const urls = (s: EchoServer): Record<string, string> => ({
  http: `http://127.0.0.1:${s.ports.http}/`,
  h2c: `h2c://127.0.0.1:${s.ports.http}/`,
  grpc: `grpc://127.0.0.1:${s.ports.grpc}`,
  tcp: `tcp://127.0.0.1:${s.ports.tcp}`,
});

t.test('fixed rate hits the rate, closed loop runs to its count', async (t) => {
  const s = await server('v1', 'pod-1');
  t.teardown(() => s.close());
  const u = urls(s);
  const fixed = await runLoad({ url: u.http!, qps: 100, connections: 4, durationMs: 3000 });
  t.equal(fixed.mode, 'fixed-rate');
  t.equal(fixed.requests, 300, 'every scheduled request was sent');
  t.equal(fixed.errorCount, 0);
  // Open loop never sends faster than the rate (a slow machine may send slower: that is a
  // benchmark question, not a test's).
  t.ok(fixed.achievedQps <= 105, `achieved ${fixed.achievedQps}/s does not exceed 100/s`);
  t.same(fixed.versions, { v1: 300 });
  t.equal(fixed.latencyMs.count, 300);

  for (const [proto, url] of Object.entries(u)) {
    const r = await runLoad({ url, connections: 4, streams: proto === 'h2c' || proto === 'grpc' ? 2 : 1, count: 300, size: 32 });
    t.equal(r.mode, 'closed-loop', proto);
    t.equal(r.requests, 300, `${proto} closed loop stops at count`);
    t.equal(r.ok, 300, `${proto} all ok`);
    t.same(r.errors, {});
    t.equal(r.reconnects, 0, `${proto} kept its connections`);
    t.equal(r.bytesSent, 300 * 32, `${proto} bytes sent`);
    t.ok(r.bytesReceived >= 300 * 32, `${proto} bytes received`);
    t.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max, `${proto} percentiles ordered`);
    if (proto !== 'tcp') t.same(r.hostnames, { 'pod-1': 300 }, `${proto} hostnames counted`);
  }
  const timed = await runLoad({ url: u.h2c!, durationMs: 300 });
  t.ok(timed.requests > 0 && timed.durationMs >= 300, 'closed loop by duration');
});

t.test('latency counts from the scheduled time (no coordinated omission)', async (t) => {
  const s = await server('v1', 'pod-1');
  t.teardown(() => s.close());
  // One connection, due every 20 ms, each answer takes 100 ms: later requests wait for earlier ones.
  const r = await runLoad({ url: `http://127.0.0.1:${s.ports.http}/?delay=100ms`, qps: 50, connections: 1, count: 12 });
  t.equal(r.requests, 12);
  t.ok(r.latencyMs.min >= 95, `min ${r.latencyMs.min} ≥ the server delay`);
  // The 12th is due at 220 ms but sent at ~1100 ms: about 980 ms of queueing plus 100 ms of service.
  t.ok(r.latencyMs.max >= 900, `max ${r.latencyMs.max} includes the time spent waiting to be sent`);
  t.ok(r.achievedQps < 20, `achieved ${r.achievedQps}/s shows the server could not keep up`);
});

t.test('distribution across two versions behind a round-robin balancer', async (t) => {
  const a = await server('v1', 'echo-v1-a');
  const b = await server('v2', 'echo-v2-b');
  const httpLb = await roundRobinProxy([a.ports.http!, b.ports.http!]);
  const grpcLb = await roundRobinProxy([a.ports.grpc!, b.ports.grpc!]);
  t.teardown(async () => {
    await Promise.all([httpLb.close(), grpcLb.close()]);
    await Promise.all([a.close(), b.close()]);
  });
  // Fixed rate with a count gives every connection the same number of requests.
  for (const url of [`http://127.0.0.1:${httpLb.port}/`, `h2c://127.0.0.1:${httpLb.port}/`, `grpc://127.0.0.1:${grpcLb.port}`]) {
    const r = await runLoad({ url, qps: 500, connections: 4, count: 40 });
    t.same(r.versions, { v1: 20, v2: 20 }, `${url} versions`);
    t.same(r.hostnames, { 'echo-v1-a': 20, 'echo-v2-b': 20 }, `${url} hostnames`);
  }
});

t.test('errors by kind: down server, timeouts, status codes', async (t) => {
  const port = await closedPort();
  for (const url of [`http://127.0.0.1:${port}/`, `h2c://127.0.0.1:${port}/`, `grpc://127.0.0.1:${port}`, `tcp://127.0.0.1:${port}`]) {
    const r = await runLoad({ url, connections: 2, count: 6 });
    t.same(r.errors, { connect: 6 }, `${url} connect errors`);
    t.equal(r.ok, 0);
    t.equal(r.latencyMs.count, 0, 'no answers, no latency samples');
    await t.rejects(request(url), TransportError, `${url} one-shot rejects`);
    const kind = await request(url).catch((e: TransportError) => e.kind);
    t.equal(kind, 'connect');
  }
  const s = await server('v1', 'pod-1');
  t.teardown(() => s.close());
  const slow = await runLoad({ url: `h2c://127.0.0.1:${s.ports.http}/?delay=2s`, count: 2, timeoutMs: 150 });
  t.same(slow.errors, { timeout: 2 }, 'h2c timeouts');
  const slow1 = await runLoad({ url: `http://127.0.0.1:${s.ports.http}/?delay=2s`, count: 2, timeoutMs: 150 });
  t.same(slow1.errors, { timeout: 2 }, 'http timeouts');
  const gslow = await runLoad({ url: `grpc://127.0.0.1:${s.ports.grpc}`, headers: { 'x-echo-delay': '2s' }, count: 2, timeoutMs: 150 });
  t.same(gslow.errors, { timeout: 2 }, 'grpc deadline');
  const st = await runLoad({ url: `http://127.0.0.1:${s.ports.http}/?status=503`, count: 5 });
  t.same(st.errors, { 'status:503': 5 });
  t.equal(st.latencyMs.count, 5, 'answered errors still have latency');
  const gst = await runLoad({ url: `grpc://127.0.0.1:${s.ports.grpc}`, headers: { 'x-echo-status': '503' }, count: 3 });
  t.same(gst.errors, { 'grpc:UNAVAILABLE': 3 });
});

/** Listens on loopback and counts the connections accepted; the server's handler decides what each one gets. */
async function countingServer<S extends net.Server>(server: S): Promise<{ port: number; accepted: () => number }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    n++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, accepted: () => n };
}

t.test('a server closing the connection mid-run shows up as reconnects', async (t) => {
  // TCP: echo, and hang up after every second message, as a proxy cutting a connection would.
  const tcp = await countingServer(
    net.createServer((s) => {
      let seen = 0;
      s.on('error', () => s.destroy());
      s.on('data', (c: Buffer) => {
        seen += c.length;
        s.write(c);
        if (seen >= 2 * 16) s.end();
      });
    }),
  );
  const r = await runLoad({ url: `tcp://127.0.0.1:${tcp.port}`, qps: 50, connections: 1, count: 6, size: 16 });
  t.ok(tcp.accepted() >= 2, `the server saw the client come back (${tcp.accepted()} connections)`);
  t.equal(r.reconnects, tcp.accepted() - 1, 'every connection after the first is a reconnect');
  t.ok(r.ok >= 3, `requests still got through (${r.ok} ok, errors ${JSON.stringify(r.errors)})`);

  // HTTP/1.1: keep-alive, but every third answer says Connection: close.
  let requests = 0;
  const web = await countingServer(
    http.createServer((req, res) => {
      if (++requests % 3 === 0) res.setHeader('connection', 'close');
      req.resume();
      req.on('end', () => res.end('ok'));
    }),
  );
  const h = await runLoad({ url: `http://127.0.0.1:${web.port}/`, qps: 50, connections: 1, count: 9 });
  t.equal(h.ok, 9, `all answered: ${JSON.stringify(h.errors)}`);
  t.equal(web.accepted(), 3, 'one connection per three requests');
  t.equal(h.reconnects, 2);

  // The text report carries the count too.
  t.match(formatReport(h), /reconnects 2/);

  // A server that keeps the connection: no reconnect.
  const steady = await countingServer(net.createServer((s) => s.pipe(s)));
  const ok = await runLoad({ url: `tcp://127.0.0.1:${steady.port}`, qps: 50, connections: 1, count: 6, size: 16 });
  t.equal(ok.ok, 6);
  t.equal(steady.accepted(), 1);
  t.equal(ok.reconnects, 0);
});

t.test('bad options are refused with the field named', async (t) => {
  await t.rejects(runLoad({ url: 'http://127.0.0.1:1/', connections: 0 }), /connections 0/);
  await t.rejects(runLoad({ url: 'tcp://127.0.0.1:1', streams: 2 }), /only h2c and grpc multiplex/);
  await t.rejects(runLoad({ url: 'http://127.0.0.1:1/', qps: -1 }), /qps -1/);
  await t.rejects(runLoad({ url: 'udp://127.0.0.1:1' }), /scheme 'udp'/);
});
