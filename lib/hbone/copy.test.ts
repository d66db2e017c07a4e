// The copy loop between real sockets and HTTP/2 streams on loopback: budgeted backpressure,
// half-close, live byte counts, and resets passed on in both directions.
import { once } from 'node:events';
import http2, { constants as h2c, type ClientHttp2Stream, type ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import t, { type Test } from 'tap';
import { bridge, COPY_BUDGET_BYTES, type Bridge } from './copy.js';

interface Pipe {
  /** The application's end, connected to the bridge's `a`. */
  client: net.Socket;
  /** The far application's end, connected to the bridge's `b`. */
  server: net.Socket;
  a: net.Socket;
  b: net.Socket;
  copy: Bridge;
  /** How often the bridge paused each of its sources. */
  pauses: { a: number; b: number };
}

async function acceptOne(t: Test): Promise<{ port: number; accepted: Promise<net.Socket> }> {
  const srv = net.createServer({ allowHalfOpen: true });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.teardown(() => srv.close());
  const accepted = once(srv, 'connection').then(([s]) => s as net.Socket);
  return { port: (srv.address() as net.AddressInfo).port, accepted };
}

function dial(port: number): Promise<net.Socket> {
  const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  return once(s, 'connect').then(() => s);
}

function countPauses(s: Duplex, into: { n: number }): void {
  const pause = s.pause.bind(s);
  s.pause = () => {
    into.n++;
    return pause();
  };
}

/** client → [a  bridge  b] → server, all plain TCP. */
async function socketPipe(t: Test): Promise<Pipe> {
  const front = await acceptOne(t);
  const back = await acceptOne(t);
  const client = await dial(front.port);
  const a = await front.accepted;
  const b = await dial(back.port);
  const server = await back.accepted;
  const pa = { n: 0 };
  const pb = { n: 0 };
  countPauses(a, pa);
  countPauses(b, pb);
  const copy = bridge(a, b);
  const pauses = {
    get a() {
      return pa.n;
    },
    get b() {
      return pb.n;
    },
  };
  t.teardown(() => {
    for (const s of [client, server, a, b]) s.destroy();
  });
  return { client, server, a, b, copy, pauses };
}

function readAll(s: net.Socket): Promise<number> {
  let n = 0;
  s.on('data', (d: Buffer) => (n += d.length));
  return once(s, 'end').then(() => n);
}

async function writeAll(s: net.Socket, total: number, chunk = Buffer.alloc(64 * 1024, 0x61)): Promise<void> {
  for (let sent = 0; sent < total; sent += chunk.length) if (!s.write(chunk)) await once(s, 'drain');
}

t.test('bulk both ways with half-close: every byte arrives, sources pause on the budget, not per chunk', async (t) => {
  const p = await socketPipe(t);
  const total = 32 << 20;
  const atServer = readAll(p.server);
  await writeAll(p.client, total);
  p.client.end();
  t.equal(await atServer, total, 'client → server complete, and the server saw the end');
  t.notOk(p.server.writableEnded, "the other direction is still open (the client's end ended only its own)");
  const atClient = readAll(p.client);
  await writeAll(p.server, total);
  p.server.end();
  t.equal(await atClient, total, 'server → client complete after the half-close');
  const r = await p.copy.done;
  t.same({ aToB: r.aToB, bToA: r.bToA, error: r.error }, { aToB: total, bToA: total, error: undefined }, 'both directions counted, no error');
  // 32 MiB in 64 KiB reads is 512 chunks; pausing at 16 KiB would stop nearly every one of them.
  t.ok(p.pauses.a < 64 && p.pauses.b < 64, `few pauses (${p.pauses.a} / ${p.pauses.b})`);
});

t.test('a reader that stops reading stops the source: the budget bounds what the bridge holds', async (t) => {
  const p = await socketPipe(t);
  p.server.pause();
  let written = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  // The client writes until its own socket pushes back, i.e. until the bridge stopped reading.
  const stalled = new Promise<void>((resolve) => {
    const go = (): void => {
      while (p.client.write(chunk)) written += chunk.length;
      written += chunk.length;
      const timer = setTimeout(resolve, 300);
      p.client.once('drain', () => {
        clearTimeout(timer);
        go();
      });
    };
    go();
  });
  await stalled;
  t.ok(p.b.writableLength <= COPY_BUDGET_BYTES + 64 * 1024, `the bridge's queue towards the stalled reader stays near the budget (${p.b.writableLength} bytes)`);
  t.ok(p.copy.bytes.aToB < written, 'the bridge has not read everything the client wrote');
  t.ok(p.a.isPaused(), 'the source is paused');
  const before = p.copy.bytes.aToB;
  p.server.resume();
  await new Promise((r) => setTimeout(r, 200));
  t.ok(p.copy.bytes.aToB > before, 'the copy goes on once the reader reads again');
});

t.test('byte counts move while the connection lives', async (t) => {
  const p = await socketPipe(t);
  p.server.resume();
  p.client.write(Buffer.alloc(100_000));
  await new Promise((r) => setTimeout(r, 100));
  t.equal(p.copy.bytes.aToB, 100_000, 'counted before any end');
  p.server.write('x'.repeat(10));
  await once(p.client, 'data');
  t.equal(p.copy.bytes.bToA, 10);
  p.client.destroy();
  p.server.destroy();
  await p.copy.done;
});

t.test('a TCP reset on one side reaches the other as a reset, both ways', async (t) => {
  for (const [from, to] of [['client', 'server'], ['server', 'client']] as const) {
    const p = await socketPipe(t);
    p[to].on('error', () => {});
    const err = once(p[to], 'error') as Promise<[NodeJS.ErrnoException]>;
    p[from].resetAndDestroy();
    const [e] = await err;
    t.equal(e.code, 'ECONNRESET', `${from} RST → ${to} sees ECONNRESET`);
    t.ok((await p.copy.done).error, 'the copy reports the failure');
  }
});

t.test('a clean early close stays a clean close', async (t) => {
  const p = await socketPipe(t);
  let failed = false;
  p.server.on('error', () => (failed = true));
  p.server.on('end', () => p.server.end());
  p.client.destroy();
  await once(p.server, 'close');
  t.notOk(failed, 'the far side saw a FIN, not a reset');
});

/**
 * far HTTP/2 client stream → h2 server stream [bridge  a] → TCP client, over one plaintext HTTP/2
 * connection: the shape of the inbound side of a tunnel.
 */
async function streamPipe(t: Test): Promise<{ client: net.Socket; a: net.Socket; stream: ServerHttp2Stream; far: ClientHttp2Stream; copy: Bridge }> {
  const h2srv = http2.createServer();
  h2srv.listen(0, '127.0.0.1');
  await once(h2srv, 'listening');
  const streamP = once(h2srv, 'stream').then(([s]) => s as ServerHttp2Stream);
  const session = http2.connect(`http://127.0.0.1:${(h2srv.address() as net.AddressInfo).port}`);
  session.on('error', () => {});
  t.teardown(() => {
    session.destroy();
    h2srv.close();
  });
  const far = session.request({ ':method': 'CONNECT', ':authority': 'x:1' });
  far.on('error', () => {});
  const stream = await streamP;
  stream.on('error', () => {});
  stream.respond({ ':status': 200 });
  await once(far, 'response');
  const front = await acceptOne(t);
  const client = await dial(front.port);
  const a = await front.accepted;
  const copy = bridge(stream, a);
  t.teardown(() => {
    client.destroy();
    a.destroy();
  });
  return { client, a, stream, far, copy };
}

t.test('HTTP/2: a TCP reset from the application becomes RST_STREAM CANCEL', async (t) => {
  const p = await streamPipe(t);
  p.client.write('hello');
  await once(p.far, 'data');
  const closed = once(p.far, 'close');
  p.client.resetAndDestroy();
  await closed;
  t.equal(p.far.rstCode, h2c.NGHTTP2_CANCEL, 'the far end of the stream was cancelled');
  t.ok((await p.copy.done).error);
});

t.test('HTTP/2: a received RST_STREAM becomes a TCP reset to the application', async (t) => {
  for (const code of [h2c.NGHTTP2_CANCEL, h2c.NGHTTP2_INTERNAL_ERROR]) {
    const p = await streamPipe(t);
    p.far.write('greeting');
    await once(p.client, 'data');
    p.client.on('error', () => {});
    const err = once(p.client, 'error') as Promise<[NodeJS.ErrnoException]>;
    p.far.close(code);
    const [e] = await err;
    t.equal(e.code, 'ECONNRESET', `RST_STREAM code ${code} → the application sees ECONNRESET`);
  }
});

t.test('HTTP/2: END_STREAM is a half-close, not a reset', async (t) => {
  const p = await streamPipe(t);
  let got = '';
  p.client.setEncoding('utf8');
  p.client.on('data', (d: string) => (got += d));
  p.far.end('bye');
  await once(p.client, 'end');
  t.equal(got, 'bye');
  p.client.end('and me');
  let back = '';
  p.far.setEncoding('utf8');
  p.far.on('data', (d: string) => (back += d));
  await once(p.far, 'end');
  t.equal(back, 'and me', 'the other direction still carried data');
  const r = await p.copy.done;
  t.equal(r.error, undefined, 'a clean finish');
});
