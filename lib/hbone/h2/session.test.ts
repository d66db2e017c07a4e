// The HTTP/2 session over plain TCP on loopback: CONNECT streams, flow control, stream limits,
// GOAWAY, PING, resets, and the answer to every malformed input of the testkit's table.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import t from 'tap';
import { ErrorCode, FrameType, frame, goawayFrame, settingsFrame } from './frames.js';
import { HpackDecoder } from './hpack.js';
import { H2Session, type H2SessionOptions } from './session.js';
import { H2StreamResetError, type H2Stream } from './stream.js';
import { FrameRecorder, MALFORMED_CASES, clientPreface, goawayCode, rstCode } from './testkit.js';

const HBONE_SERVER: H2SessionOptions = {
  role: 'server',
  settings: { initialWindowSize: 4 << 20, maxFrameSize: 1 << 20, maxConcurrentStreams: 200, maxHeaderListSize: 64 << 10 },
  connectionWindow: 16 << 20,
};

async function tcpPair(): Promise<{ a: net.Socket; b: net.Socket; close(): void }> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const accepted = once(srv, 'connection') as Promise<[net.Socket]>;
  const a = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await once(a, 'connect');
  const [b] = await accepted;
  srv.close();
  return { a, b, close: () => (a.destroy(), b.destroy()) };
}

async function sessions(server: Partial<H2SessionOptions> = {}, client: Partial<H2SessionOptions> = {}): Promise<{ c: H2Session; s: H2Session; clientSocket: net.Socket; close(): void }> {
  const { a, b, close } = await tcpPair();
  const s = new H2Session(b, { ...HBONE_SERVER, ...server });
  const c = new H2Session(a, { role: 'client', ...client });
  for (const x of [s, c]) x.on('error', () => {});
  await once(c, 'remoteSettings');
  return { c, s, clientSocket: a, close };
}

function echoServer(s: H2Session): void {
  s.on('stream', (st: H2Stream) => {
    st.on('error', () => {});
    st.respond({ ':status': 200 });
    st.pipe(st);
  });
}

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function tunnel(c: H2Session): Promise<H2Stream> {
  const st = c.request({ ':method': 'CONNECT', ':authority': '127.0.0.1:9' });
  st.on('error', () => {});
  const [h] = (await once(st, 'response')) as [Record<string, unknown>];
  if (h[':status'] !== 200) throw new Error(`status ${String(h[':status'])}`);
  return st;
}

t.test('CONNECT, half-close both ways, settings exchanged', async (t) => {
  const p = await sessions();
  t.teardown(p.close);
  echoServer(p.s);
  t.same([p.c.remoteSettings.initialWindowSize, p.c.remoteSettings.maxFrameSize, p.c.remoteSettings.maxConcurrentStreams], [4 << 20, 1 << 20, 200]);
  t.equal(p.c.localSettings.enablePush, false);
  const st = await tunnel(p.c);
  st.end('hello');
  t.equal((await readAll(st)).toString(), 'hello', 'echo, then EOF after our half-close');
  t.notOk(p.c.pendingSettingsAck, 'the server acknowledged our SETTINGS');
  t.equal(p.c.state.remoteWindowSize >= (16 << 20) - 5, true, "the server's connection window");

  // The server half-closes first; our direction keeps working.
  p.s.removeAllListeners('stream');
  p.s.on('stream', (st: H2Stream) => {
    st.respond({ ':status': 200 });
    st.end('bye');
    void readAll(st).then((b) => p.s.emit('got', b.toString()));
  });
  const st2 = await tunnel(p.c);
  const data: Buffer[] = [];
  st2.on('data', (d: Buffer) => data.push(d));
  await once(st2, 'end');
  t.equal(Buffer.concat(data).toString(), 'bye');
  const got = once(p.s, 'got');
  const closed = once(st2, 'close');
  st2.end('still here');
  t.same(await got, ['still here']);
  await closed;
  t.equal(p.c.activeStreams, 0, 'the finished streams are forgotten');
});

t.test('1 MiB and 64 MiB through an echo, verified by sha256', async (t) => {
  const p = await sessions();
  t.teardown(p.close);
  echoServer(p.s);
  for (const size of [1 << 20, 64 << 20]) {
    const payload = Buffer.alloc(size);
    for (let i = 0; i + 4 <= size; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
    const st = await tunnel(p.c);
    const back = readAll(st);
    // Many writes of odd sizes: frames split across and within them.
    for (let off = 0; off < size; off += 100_003) {
      if (!st.write(payload.subarray(off, off + 100_003))) await once(st, 'drain');
    }
    st.end();
    const got = await back;
    t.equal(got.length, size, `${size} bytes back`);
    t.equal(sha(got), sha(payload), `${size} bytes: same sha256`);
  }
});

t.test('100 concurrent streams', async (t) => {
  const p = await sessions();
  t.teardown(p.close);
  echoServer(p.s);
  const results = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const st = await tunnel(p.c);
      st.end(`stream ${i} `.repeat(1000));
      return (await readAll(st)).toString() === `stream ${i} `.repeat(1000);
    }),
  );
  t.equal(results.filter(Boolean).length, 100);
});

t.test('window exhaustion: a reader that does not read stops the writer', async (t) => {
  const p = await sessions({ settings: { initialWindowSize: 65_535 }, connectionWindow: 65_535 });
  t.teardown(p.close);
  let serverStream!: H2Stream;
  p.s.on('stream', (st: H2Stream) => {
    serverStream = st;
    st.respond({ ':status': 200 });
    st.pause();
  });
  const st = await tunnel(p.c);
  let written = 0;
  const payload = Buffer.alloc(1 << 20, 7);
  const done = new Promise<void>((r) => st.write(payload, () => r()));
  void done.then(() => (written = payload.length));
  await new Promise((r) => setTimeout(r, 200));
  t.equal(written, 0, 'the write has not completed');
  t.ok(serverStream.readableLength <= 65_535, `the server holds at most one window (${serverStream.readableLength})`);
  t.equal(st.sendWindow, 0, 'our stream window is used up');
  const got = readAll(serverStream);
  serverStream.resume();
  st.end();
  t.equal((await got).length, payload.length, 'everything arrives once the reader reads');
  await done;
});

t.test('window updates are batched', async (t) => {
  const p = await sessions();
  t.teardown(p.close);
  const rec = new FrameRecorder(p.clientSocket);
  p.s.on('stream', (st: H2Stream) => {
    st.respond({ ':status': 200 });
    st.resume();
    st.on('end', () => st.end());
  });
  const st = await tunnel(p.c);
  st.end(Buffer.alloc(32 << 20));
  st.resume();
  await once(st, 'close');
  const updates = rec.frames.filter((f) => f.type === FrameType.WINDOW_UPDATE);
  const onStream = updates.filter((f) => f.streamId === st.id).length;
  const onConn = updates.filter((f) => f.streamId === 0).length;
  t.ok(onStream >= 7 && onStream <= 16, `32 MiB through a 4 MiB stream window: ${onStream} stream WINDOW_UPDATEs`);
  t.ok(onConn >= 3 && onConn <= 4, `32 MiB through a 16 MiB connection window: ${onConn} connection WINDOW_UPDATEs`);
});

t.test('resets: ours is CANCEL, an error code from the peer is named', async (t) => {
  const p = await sessions();
  t.teardown(p.close);
  const serverSide: H2Stream[] = [];
  p.s.on('stream', (st: H2Stream) => {
    serverSide.push(st);
    st.on('error', () => {});
    st.respond({ ':status': 200 });
  });
  const a = await tunnel(p.c);
  a.write('x');
  await once(serverSide[0]!, 'data');
  const closed = once(serverSide[0]!, 'close');
  a.destroy();
  t.equal(a.rstCode, ErrorCode.CANCEL, 'our destroy() sent CANCEL');
  await closed;
  t.equal(serverSide[0]!.rstCode, ErrorCode.CANCEL, 'the peer saw CANCEL (a close without error, as node:http2)');
  t.notOk(serverSide[0]!.readableEnded, 'not a clean end');

  const b = await tunnel(p.c);
  const bErr = once(b, 'error');
  serverSide[1]!.close(ErrorCode.INTERNAL_ERROR);
  const [e2] = (await bErr) as [Error];
  t.match(e2.message, /INTERNAL_ERROR \(0x2\)/, 'the error names the code');
  t.equal(b.rstCode, ErrorCode.INTERNAL_ERROR);
  t.equal(p.c.activeStreams, 0);
});

t.test('a reset mid-transfer leaves other streams alone', async (t) => {
  const p = await sessions();
  t.teardown(p.close);
  echoServer(p.s);
  const keep = await tunnel(p.c);
  const cut = await tunnel(p.c);
  cut.write(Buffer.alloc(1 << 20));
  cut.resume();
  await once(cut, 'data');
  cut.destroy();
  keep.end('unharmed');
  t.equal((await readAll(keep)).toString(), 'unharmed');
});

t.test('GOAWAY: graceful drain, then no new streams', async (t) => {
  const p = await sessions();
  t.teardown(p.close);
  echoServer(p.s);
  const st = await tunnel(p.c);
  const goaway = once(p.c, 'goaway');
  p.s.close();
  const [code, last] = (await goaway) as [number, number];
  t.same([code, last], [ErrorCode.NO_ERROR, st.id], 'NO_ERROR naming our stream as the last one');
  t.throws(() => p.c.request({ ':method': 'CONNECT', ':authority': 'x:1' }), { code: 'ERR_HTTP2_GOAWAY_SESSION' });
  st.end('last words');
  t.equal((await readAll(st)).toString(), 'last words', 'the stream in flight finishes');
  await Promise.all([p.c.destroyed ? undefined : once(p.c, 'close'), p.s.destroyed ? undefined : once(p.s, 'close')]);
  t.ok(p.c.destroyed && p.s.destroyed, 'both ends close once it is done');
});

t.test("GOAWAY's last stream id: later streams are refused and retryable", async (t) => {
  const { a, b, close } = await tcpPair();
  t.teardown(close);
  const c = new H2Session(a, { role: 'client' });
  c.on('error', () => {});
  b.write(settingsFrame([]));
  await once(c, 'remoteSettings');
  const s1 = c.request({ ':method': 'CONNECT', ':authority': 'x:1' });
  const s3 = c.request({ ':method': 'CONNECT', ':authority': 'x:1' });
  for (const s of [s1, s3]) s.on('error', () => {});
  const err3 = once(s3, 'error');
  b.write(goawayFrame(1, ErrorCode.NO_ERROR, 'bye'));
  const [e] = (await err3) as [H2StreamResetError];
  t.equal(e.h2Code, ErrorCode.REFUSED_STREAM);
  t.equal(s3.rstCode, ErrorCode.REFUSED_STREAM);
  t.notOk(s1.destroyed, 'stream 1 was processed and stays');
});

t.test('PING is answered and timed', async (t) => {
  const p = await sessions();
  t.teardown(p.close);
  const [err, ms] = await new Promise<[Error | null, number]>((r) => p.c.ping((e, d) => r([e, d])));
  t.equal(err, null);
  t.ok(ms >= 0 && ms < 1000, `round trip ${ms.toFixed(3)} ms`);
});

t.test("the peer's MAX_CONCURRENT_STREAMS is respected", async (t) => {
  const p = await sessions({ settings: { ...HBONE_SERVER.settings, maxConcurrentStreams: 2 } });
  t.teardown(p.close);
  echoServer(p.s);
  const a = await tunnel(p.c);
  await tunnel(p.c);
  t.throws(() => p.c.request({ ':method': 'CONNECT', ':authority': 'x:1' }), { code: 'ERR_HTTP2_OUT_OF_STREAMS' });
  a.end();
  a.resume();
  await once(a, 'close');
  t.ok(await tunnel(p.c), 'a slot freed by a finished stream can be used');
});

t.test('a response header list past our limit resets the stream', async (t) => {
  const p = await sessions({}, { settings: { maxHeaderListSize: 1024 } });
  t.teardown(p.close);
  p.s.on('stream', (st: H2Stream) => {
    st.on('error', () => {});
    st.respond({ ':status': 200, 'x-big': 'y'.repeat(2000) });
  });
  const st = p.c.request({ ':method': 'CONNECT', ':authority': 'x:1' });
  const [e] = (await once(st, 'error')) as [Error];
  t.match(e.message, /PROTOCOL_ERROR.*SETTINGS_MAX_HEADER_LIST_SIZE 1024/);
});

for (const mc of MALFORMED_CASES) {
  t.test(`malformed input: ${mc.name}`, async (t) => {
    const { a, b, close } = await tcpPair();
    t.teardown(close);
    const s = new H2Session(b, HBONE_SERVER);
    s.on('error', () => {});
    s.on('stream', (st: H2Stream) => st.on('error', () => {})); // streams are accepted and left unanswered
    const rec = new FrameRecorder(a);
    a.write(Buffer.concat([clientPreface(), ...mc.frames()]));
    const e = mc.expect;
    if (e === 'ignored') {
      a.write(frame(FrameType.PING, 0, 0, Buffer.from('stillok!')));
      const ack = await rec.waitFor('the PING ACK', (f) => f.type === FrameType.PING);
      t.equal(ack.payload.toString(), 'stillok!', 'ignored; the connection still answers');
      t.notOk(rec.frames.some((f) => f.type === FrameType.GOAWAY || f.type === FrameType.RST_STREAM), 'no error sent');
    } else if ('goaway' in e) {
      const g = await rec.goaway();
      t.equal(goawayCode(g), e.goaway, `GOAWAY with code ${e.goaway}: ${g.payload.subarray(8).toString()}`);
      t.ok(await rec.closedWithin(), 'the connection is closed');
    } else if ('rst' in e) {
      const [id, code] = e.rst;
      const r = await rec.waitFor(`RST_STREAM on ${id}`, (f) => f.type === FrameType.RST_STREAM && f.streamId === id);
      t.equal(rstCode(r), code, `RST_STREAM with code ${code}`);
      t.notOk(rec.frames.some((f) => f.type === FrameType.GOAWAY), 'a stream error, not a connection error');
    } else {
      const h = await rec.waitFor('the 431 answer', (f) => f.type === FrameType.HEADERS && f.streamId === e.status431);
      t.same(new HpackDecoder().decode(h.payload).fields, [[':status', '431']], 'answered 431');
      t.ok(rec.frames.some((f) => f.type === FrameType.RST_STREAM && f.streamId === e.status431), 'and the stream is closed');
      t.notOk(rec.frames.some((f) => f.type === FrameType.GOAWAY), 'the connection stays');
    }
  });
}
