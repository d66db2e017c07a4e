// Ambit's HTTP/2 transport (lib/hbone/h2, behind dial / openTunnel / HboneServer) against
// implementations we did not write: Python's h2 as client and as server, curl (nghttp2), and
// node:http2 both ways, over mutual TLS with certificates from Ambit's CA. Also: every malformed
// input of the h2 testkit answered with the right error while the server keeps serving others.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { CertificateAuthority } from '../../control/ca/authority.js';
import { Signer } from '../../control/ca/signer.js';
import { makeTempDir, removeDir } from '../../control/ca/testkit.js';
import { dial, openTunnel, type HboneConnection } from '../../lib/hbone/client.js';
import { ErrorCode, FrameType, frame } from '../../lib/hbone/h2/frames.js';
import { HpackDecoder } from '../../lib/hbone/h2/hpack.js';
import { FrameRecorder, MALFORMED_CASES, clientPreface, goawayCode, rstCode } from '../../lib/hbone/h2/testkit.js';
import { HboneServer } from '../../lib/hbone/server.js';
import { connectTcp, startEchoServer } from '../../lib/hbone/testkit.js';
import { serverTlsOptions, type Credentials } from '../../lib/hbone/tls.js';
import { generateCsr } from '../../lib/identity/csr.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const PEER = path.resolve(here, '..', '..', '..', 'test', 'interop', 'h2_peer.py');
// Debian's python3 has python3-h2; a python3 earlier on PATH (pyenv) may not.
const PYTHON = '/usr/bin/python3';
const SERVER_ID = 'spiffe://cluster.local/ns/interop/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/interop/sa/client';
/** Authorities whose port is 9 are never answered (the malformed cases need streams left open). */
const HANG_PORT = 9;

async function caCredentials(signer: Signer, identity: string): Promise<Credentials> {
  const csr = await generateCsr(identity);
  const { certChain } = await signer.sign({ csrPem: csr.csrPem });
  return { certChainPem: certChain.slice(0, -1), keyPem: csr.privateKeyPem, rootsPem: [certChain[certChain.length - 1]!] };
}

function pattern(n: number): Buffer {
  const ramp = Buffer.from(Array.from({ length: 251 }, (_, i) => i));
  const b = Buffer.allocUnsafe(n);
  for (let off = 0; off < n; off += ramp.length) ramp.copy(b, off, 0, Math.min(ramp.length, n - off));
  return b;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; `onStdout` sees its output as it comes. */
function run(cmd: string, args: string[], timeoutMs = 60_000, onStdout?: (soFar: string) => void): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      onStdout?.(stdout);
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('HBONE HTTP/2 interop', { timeout: 600_000 }, async (t) => {
  const dir = await makeTempDir('ambit-h2-interop');
  t.teardown(() => removeDir(dir));
  const signer = new Signer(await CertificateAuthority.open({ dir: path.join(dir, 'ca') }));
  const serverCreds = await caCredentials(signer, SERVER_ID);
  const clientCreds = await caCredentials(signer, CLIENT_ID);
  const files = { cert: path.join(dir, 'client.pem'), key: path.join(dir, 'client-key.pem'), ca: path.join(dir, 'ca.pem'), scert: path.join(dir, 'server.pem'), skey: path.join(dir, 'server-key.pem') };
  writeFileSync(files.cert, clientCreds.certChainPem.join(''));
  writeFileSync(files.key, clientCreds.keyPem);
  writeFileSync(files.ca, clientCreds.rootsPem.join(''));
  writeFileSync(files.scert, serverCreds.certChainPem.join(''));
  writeFileSync(files.skey, serverCreds.keyPem);

  const echo = await startEchoServer();
  t.teardown(() => echo.close());
  const server = new HboneServer({
    credentials: () => serverCreds,
    onConnect: async (req) =>
      req.port === HANG_PORT
        ? new Promise((resolve) => req.signal.addEventListener('abort', () => resolve({ status: 503, reason: 'client left' })))
        : { status: 200, upstream: await connectTcp(echo.port) },
  });
  const addr = await server.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => server.close());
  const echoAt = `127.0.0.1:${echo.port}`;
  const py = async (mode: string, arg = '', authority = echoAt, onStdout?: (soFar: string) => void): Promise<Record<string, unknown>> => {
    const r = await run(PYTHON, [PEER, 'client', '127.0.0.1', String(addr.port), files.cert, files.key, files.ca, mode, arg || '0', authority], 180_000, onStdout);
    if (r.code !== 0) throw new Error(`h2_peer.py client ${mode} exited ${r.code}: ${r.stderr.slice(-2000)}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  };

  await t.test('python-h2 client → our server', async (t) => {
    for (const size of [1 << 20, 64 << 20]) {
      const r = await py('echo', String(size));
      t.equal(r.status, '200', `${size} bytes: 200`);
      t.equal(r.bytes, size, `${size} bytes: all echoed back, then END_STREAM after our half-close`);
      t.equal(r.sha256, r.sent_sha256, `${size} bytes: same sha256`);
    }
    t.same(await py('concurrent', '100'), { streams: 100, ok: 100 }, '100 concurrent streams');
    t.same(await py('ping'), { ping_ack: 'ambit-h2' }, 'PING acknowledged with its payload');
    t.same(await py('reset'), { after: true }, 'a stream reset mid-transfer, the connection goes on');
    const w = await py('window');
    t.ok((w.before_ack as number) > 0 && (w.before_ack as number) <= 65_535, `our server stopped at the client's window (${String(w.before_ack)} bytes)`);
    t.equal(w.total, 1 << 20, 'and sent the rest once the window reopened');
    // GOAWAY once the client has its echo (it says so on a line of its own).
    let echoed: () => void = () => {};
    const ready = new Promise<void>((r) => (echoed = r));
    const drained = py('goaway-seen', '', echoAt, (soFar) => soFar.includes('echoed_before_goaway') && echoed());
    await Promise.race([ready, drained]);
    server.goAway();
    const g = await drained;
    t.same(g, { goaway_code: 0, last_stream_id: 1, echoed: 13 }, 'GOAWAY NO_ERROR naming the live stream, which the server keeps');
  });

  const pyServer = async (mode: string): Promise<{ port: number; done: Promise<Run> }> => {
    const p = spawn(PYTHON, [PEER, 'server', files.scert, files.skey, files.ca, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [first] = (await once(p.stdout, 'data')) as [Buffer];
    const done = new Promise<Run>((resolve) => p.on('close', (code) => resolve({ code, stdout: '', stderr })));
    t.teardown(() => p.kill());
    return { port: Number(first.toString().trim()), done };
  };
  const dialTo = (port: number): Promise<HboneConnection> => dial({ host: '127.0.0.1', port, credentials: clientCreds, expectedIdentities: [SERVER_ID], keepAlive: { intervalMs: 0 } });

  await t.test('our client → python-h2 server', async (t) => {
    const srv = await pyServer('echo');
    const conn = await dialTo(srv.port);
    t.equal(conn.peerIdentity, SERVER_ID);
    // 16 MiB: pure-Python h2 echoing is slow (64 MiB both ways took ~45 s); 64 MiB runs the other way.
    for (const size of [1 << 20, 16 << 20]) {
      const tun = await openTunnel(conn, { authority: '10.0.0.1:80' });
      const data = pattern(size);
      const back = readAll(tun);
      tun.end(data);
      const got = await back;
      t.equal(got.length, size, `${size} bytes echoed`);
      t.equal(sha(got), sha(data), `${size} bytes: same sha256`);
    }
    const many = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const tun = await openTunnel(conn, { authority: '10.0.0.1:80' });
        tun.end(`n${i}`.repeat(500));
        return (await readAll(tun)).toString() === `n${i}`.repeat(500);
      }),
    );
    t.equal(many.filter(Boolean).length, 100, '100 concurrent streams');
    const rtt = await new Promise<number>((resolve, reject) => conn.session.ping((e, ms) => (e ? reject(e) : resolve(ms))));
    t.ok(rtt >= 0, `PING answered in ${rtt.toFixed(2)} ms`);
    const cut = await openTunnel(conn, { authority: '10.0.0.1:80' });
    cut.write(Buffer.alloc(256 << 10));
    await once(cut, 'data');
    cut.destroy();
    const after = await openTunnel(conn, { authority: '10.0.0.1:80' });
    after.end('after a reset');
    t.equal((await readAll(after)).toString(), 'after a reset', 'a reset mid-transfer leaves the connection usable');
    conn.session.close();
    t.equal((await srv.done).code, 0, 'the python server saw a clean close');
  });

  await t.test("python-h2 server's GOAWAY", async (t) => {
    const srv = await pyServer('goaway');
    const conn = await dialTo(srv.port);
    const goaway = once(conn.session, 'goaway');
    const tun = await openTunnel(conn, { authority: '10.0.0.1:80' });
    tun.end('one');
    t.equal((await readAll(tun)).toString(), 'one');
    const [code, last] = (await goaway) as [number, number];
    t.same([code, last], [ErrorCode.NO_ERROR, 1], 'GOAWAY NO_ERROR, last stream 1');
    await t.rejects(openTunnel(conn, { authority: '10.0.0.1:80' }), { code: 'HBONE_STREAM_RESET', retryable: true }, 'no new streams, retryable elsewhere');
    await srv.done;
  });

  await t.test('curl (nghttp2) → our server', async (t) => {
    const base = ['-sS', '--http2', '--cacert', files.ca, '--cert', files.cert, '--key', files.key, '-k', '--max-time', '10'];
    // curl 7.88 has no way to send an RFC 9113 §8.5 CONNECT over HTTP/2 (its HTTP/2 proxy
    // tunnelling, --proxy-http2, came with 8.1): -X CONNECT sends :scheme and :path as well, which
    // makes the request malformed. What it can check: TLS + ALPN + framing + HPACK against nghttp2.
    const get = await run('curl', [...base, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://127.0.0.1:${addr.port}/`]);
    t.equal(get.stdout, '2 400', `a GET over HTTP/2 is answered 400 (${get.stderr.trim()})`);
    const connect = await run('curl', [...base, '-X', 'CONNECT', `https://127.0.0.1:${addr.port}/`]);
    t.not(connect.code, 0, 'a CONNECT with :path is refused');
    t.match(connect.stderr, /PROTOCOL_ERROR|stream.*(reset|not closed cleanly)/i, `as a stream error PROTOCOL_ERROR: ${connect.stderr.trim()}`);
  });

  await t.test('node:http2 client → our server', async (t) => {
    const session = http2.connect(`https://127.0.0.1:${addr.port}`, {
      createConnection: () => tls.connect({ port: addr.port, host: '127.0.0.1', ca: clientCreds.rootsPem, cert: clientCreds.certChainPem.join(''), key: clientCreds.keyPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }),
    });
    session.on('error', () => {});
    t.teardown(() => session.destroy());
    for (const size of [1 << 20, 64 << 20]) {
      const s = session.request({ ':method': 'CONNECT', ':authority': echoAt });
      const [h] = (await once(s, 'response')) as [http2.IncomingHttpHeaders];
      t.equal(h[':status'], 200);
      const data = pattern(size);
      const back = readAll(s);
      s.end(data);
      t.equal(sha(await back), sha(data), `${size} bytes echoed, same sha256`);
    }
    const pinged = await new Promise<boolean>((r) => session.ping((e) => r(!e)));
    t.ok(pinged, 'PING acknowledged');
    const s = session.request({ ':method': 'CONNECT', ':authority': echoAt });
    await once(s, 'response');
    const goaway = once(session, 'goaway');
    server.goAway();
    const [code] = (await goaway) as [number];
    t.equal(code, http2.constants.NGHTTP2_NO_ERROR, 'GOAWAY NO_ERROR');
    s.end('drained');
    t.equal((await readAll(s)).toString(), 'drained', 'the live stream finishes after GOAWAY');
  });

  await t.test('our client → node:http2 server', async (t) => {
    const nodeServer = http2.createSecureServer({ ...serverTlsOptions(serverCreds, 10_000), settings: { initialWindowSize: 65_535 } });
    const nodeSessions = new Set<http2.ServerHttp2Session>();
    nodeServer.on('session', (s) => nodeSessions.add(s));
    nodeServer.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      if (headers[':method'] !== 'CONNECT') return stream.respond({ ':status': 400 }, { endStream: true });
      stream.respond({ ':status': 200 });
      stream.pipe(stream);
    });
    nodeServer.listen(0, '127.0.0.1');
    await once(nodeServer, 'listening');
    t.teardown(() => nodeServer.close());
    const conn = await dialTo((nodeServer.address() as { port: number }).port);
    for (const size of [1 << 20, 64 << 20]) {
      const tun = await openTunnel(conn, { authority: '10.0.0.1:80' });
      const data = pattern(size);
      const back = readAll(tun);
      tun.end(data);
      t.equal(sha(await back), sha(data), `${size} bytes through a 64 KiB window, same sha256`);
    }
    const many = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const tun = await openTunnel(conn, { authority: '10.0.0.1:80' });
        tun.end(`m${i}`);
        return (await readAll(tun)).toString() === `m${i}`;
      }),
    );
    t.equal(many.filter(Boolean).length, 100, '100 concurrent streams');
    // A peer that stops reading: our writes stop once its window is used.
    nodeServer.removeAllListeners('stream');
    let held: http2.ServerHttp2Stream | undefined;
    nodeServer.on('stream', (stream) => {
      held = stream;
      stream.respond({ ':status': 200 });
      stream.pause();
    });
    const slow = await openTunnel(conn, { authority: '10.0.0.1:80' });
    let finished = false;
    slow.write(Buffer.alloc(1 << 20), () => (finished = true));
    await new Promise((r) => setTimeout(r, 300));
    t.notOk(finished, 'the write waits for window');
    t.equal(slow.sendWindow, 0, 'the stream window is used up');
    held!.resume();
    await new Promise<void>((r) => (finished ? r() : slow.write(Buffer.alloc(0), () => r())));
    t.ok(finished, 'and completes once the peer reads');
    slow.destroy();
    const goaway = once(conn.session, 'goaway');
    for (const s of nodeSessions) s.goaway(http2.constants.NGHTTP2_NO_ERROR);
    t.equal(((await goaway) as [number])[0], ErrorCode.NO_ERROR, "the node server's GOAWAY");
    await t.rejects(openTunnel(conn, { authority: '10.0.0.1:80' }), { code: 'HBONE_STREAM_RESET', retryable: true });
    conn.session.destroy();
  });

  await t.test('malformed frames over mutual TLS: the right error each, and the server serves on', async (t) => {
    for (const mc of MALFORMED_CASES) {
      const sock = tls.connect({ port: addr.port, host: '127.0.0.1', ca: clientCreds.rootsPem, cert: clientCreds.certChainPem.join(''), key: clientCreds.keyPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
      sock.on('error', () => {});
      await once(sock, 'secureConnect');
      const rec = new FrameRecorder(sock);
      sock.write(Buffer.concat([clientPreface(), ...mc.frames()]));
      const e = mc.expect;
      if (e === 'ignored') {
        sock.write(frame(FrameType.PING, 0, 0, Buffer.from('stillok!')));
        const ack = await rec.waitFor(`${mc.name}: PING ACK`, (f) => f.type === FrameType.PING && (f.flags & 1) === 1);
        t.equal(ack.payload.toString(), 'stillok!', `${mc.name}: ignored`);
      } else if ('goaway' in e) {
        const g = await rec.goaway();
        t.equal(goawayCode(g), e.goaway, `${mc.name}: GOAWAY code ${e.goaway}`);
      } else if ('rst' in e) {
        const r = await rec.waitFor(`${mc.name}: RST_STREAM`, (f) => f.type === FrameType.RST_STREAM && f.streamId === e.rst[0]);
        t.equal(rstCode(r), e.rst[1], `${mc.name}: RST_STREAM code ${e.rst[1]}`);
      } else {
        const h = await rec.waitFor(`${mc.name}: 431`, (f) => f.type === FrameType.HEADERS && f.streamId === e.status431);
        t.same(new HpackDecoder().decode(h.payload).fields, [[':status', '431']], `${mc.name}: 431`);
      }
      sock.destroy();
    }
    const conn = await dialTo(addr.port);
    const tun = await openTunnel(conn, { authority: echoAt });
    tun.end('still serving');
    t.equal((await readAll(tun)).toString(), 'still serving', 'a well-behaved client is served afterwards');
    conn.session.destroy();
  });
});
