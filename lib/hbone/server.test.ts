// HBONE server and client end to end on loopback, with certificates a CA signs from real CSRs.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { generateCsr } from '../identity/csr.js';
import { createTestCa, type TestCa } from '../identity/testkit.js';
import { dial, openTunnel, type HboneConnection, type HboneTunnel } from './client.js';
import { isHboneError } from './errors.js';
import { HboneServer, type ConnectRequest, type ConnectResult } from './server.js';
import { connectTcp, createTestPki, startEchoServer } from './testkit.js';
import type { Credentials } from './tls.js';

const SERVER_ID = 'spiffe://cluster.local/ns/demo/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/client';

async function caCredentials(ca: TestCa, identity: string): Promise<Credentials> {
  const csr = await generateCsr(identity);
  const { certChain } = await ca.sign(csr.csrPem);
  return { certChainPem: certChain.slice(0, -1), keyPem: csr.privateKeyPem, rootsPem: [certChain[certChain.length - 1]!] };
}

/** Reads everything until EOF. */
async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function waitFor(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('HBONE server + client', async (t) => {
  const ca = await createTestCa();
  const serverCreds = await caCredentials(ca, SERVER_ID);
  const clientCreds = await caCredentials(ca, CLIENT_ID);
  const echo = await startEchoServer();
  t.teardown(() => echo.close());

  let handler: (req: ConnectRequest) => Promise<ConnectResult> = async () => ({ status: 200, upstream: await connectTcp(echo.port) });
  const seen: ConnectRequest[] = [];
  const server = new HboneServer({ credentials: () => serverCreds, onConnect: (req) => (seen.push(req), handler(req)) });
  const addr = await server.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => server.close());
  const conns: HboneConnection[] = [];
  t.teardown(() => conns.forEach((c) => c.session.destroy()));
  const connect = async (creds = clientCreds, expected = [SERVER_ID]): Promise<HboneConnection> => {
    const c = await dial({ host: '127.0.0.1', port: addr.port, credentials: creds, expectedIdentities: expected });
    conns.push(c);
    return c;
  };
  const conn = await connect();
  t.equal(conn.peerIdentity, SERVER_ID, 'client saw the server identity');

  t.test('HTTP/2 settings and windows as the reference', async (t) => {
    const remote = conn.session.remoteSettings;
    t.same([remote.initialWindowSize, remote.maxFrameSize, remote.maxConcurrentStreams, remote.maxHeaderListSize], [4 << 20, 1 << 20, 200, 64 << 10], 'server SETTINGS');
    await waitFor('the server to acknowledge our SETTINGS', () => !conn.session.pendingSettingsAck);
    const local = conn.session.localSettings;
    t.same([local.enablePush, local.initialWindowSize, local.maxFrameSize, local.maxHeaderListSize], [false, 4 << 20, 1 << 20, 16 << 10], 'client SETTINGS');
    t.equal(conn.session.state.localWindowSize, 16 << 20, 'client connection window');
    await waitFor("the server's connection window update", () => conn.session.state.remoteWindowSize === 16 << 20);
  });

  t.test('round trip, client half-closes first', async (t) => {
    const tun = await openTunnel(conn, { authority: '127.0.0.1:9080', forwarded: 'for="10.0.0.1:1234"', baggage: 'k8s.namespace.name=demo', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00' });
    const req = seen.at(-1)!;
    t.equal(req.peerIdentity, CLIENT_ID);
    t.same([req.host, req.port, req.authorityKind], ['127.0.0.1', 9080, 'ipv4']);
    t.equal(req.forwarded, 'for="10.0.0.1:1234"');
    t.equal(req.baggage, 'k8s.namespace.name=demo');
    t.match(req.traceparent, /^00-0af7/);
    t.equal(req.peerAddress.address, '127.0.0.1');
    t.equal(req.localAddress.port, addr.port);
    tun.end('hello');
    t.equal((await readAll(tun)).toString(), 'hello', 'echo arrived, then EOF');
  });

  t.test('round trip, server half-closes first', async (t) => {
    const up = net.createServer({ allowHalfOpen: true }, (s) => {
      s.end('bye');
      void readAll(s).then((b) => up.emit('got', b.toString()));
    });
    up.listen(0, '127.0.0.1');
    await once(up, 'listening');
    t.teardown(() => up.close());
    handler = async () => ({ status: 200, upstream: await connectTcp((up.address() as net.AddressInfo).port) });
    const tun = await openTunnel(conn, { authority: '127.0.0.1:1' });
    const got = once(up, 'got');
    const data: Buffer[] = [];
    tun.on('data', (d: Buffer) => data.push(d));
    await once(tun, 'end');
    t.equal(Buffer.concat(data).toString(), 'bye');
    const closed = once(tun, 'close');
    tun.end('still here'); // our direction stays open after the server's EOF
    t.same(await got, ['still here']);
    await closed;
  });

  t.test('8 MiB bulk both ways', async (t) => {
    handler = async () => ({ status: 200, upstream: await connectTcp(echo.port) });
    const tun = await openTunnel(conn, { authority: '127.0.0.1:9080' });
    const payload = Buffer.alloc(8 << 20);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i * 2654435761 >>> 0, i);
    const back = readAll(tun);
    tun.end(payload);
    const got = await back;
    t.equal(got.length, payload.length);
    t.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(payload).digest('hex'));
  });

  t.test('200 only after the handler resolved', async (t) => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let resolvedAt = 0;
    handler = async () => {
      await gate;
      const upstream = await connectTcp(echo.port);
      resolvedAt = Date.now();
      return { status: 200, upstream };
    };
    let answered = false;
    const p = openTunnel(conn, { authority: '127.0.0.1:9080' }).then((x) => ((answered = true), x));
    await new Promise((r) => setTimeout(r, 100));
    t.notOk(answered, 'no answer while the handler is pending');
    open();
    const tun = await p;
    t.ok(resolvedAt > 0);
    tun.end();
    await readAll(tun);
  });

  t.test('refusals map to statuses', async (t) => {
    const cases: [string, ConnectRequest extends never ? never : () => Promise<ConnectResult>, number][] = [
      ['401 from policy', async () => ({ status: 401, reason: 'denied by policy demo/deny' }), 401],
      ['503 from a failed upstream', async () => ({ status: 503, reason: 'connect ECONNREFUSED' }), 503],
      ['a throwing handler is 503', async () => Promise.reject(new Error('boom')), 503],
      ['200 without upstream is 503', async () => ({ status: 200 }) as unknown as ConnectResult, 503],
    ];
    for (const [name, h, status] of cases) {
      handler = h;
      const err = await openTunnel(conn, { authority: '127.0.0.1:9080' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      t.ok(isHboneError(err, 'HBONE_STATUS'), `${name}: HBONE_STATUS`);
      t.equal((err as { status?: number }).status, status, name);
    }
    const st = server.stats();
    t.equal(st.refusedByStatus[401], 1);
    t.ok((st.refusedByStatus[503] ?? 0) >= 3);
  });

  t.test('bad authority and non-CONNECT are 400', async (t) => {
    const ask = (headers: http2.OutgoingHttpHeaders): Promise<number> =>
      new Promise((resolve, reject) => {
        const s = conn.session.request(headers, { endStream: false });
        s.on('response', (h) => resolve(Number(h[':status'])));
        s.on('error', reject);
      });
    t.equal(await ask({ ':method': 'CONNECT', ':authority': 'no-port' }), 400);
    t.equal(await ask({ ':method': 'CONNECT', ':authority': '10.0.0.300:80' }), 400);
    t.equal(await ask({ ':method': 'CONNECT', ':authority': 'fd00::1:80' }), 400);
    t.equal(await ask({ ':method': 'GET', ':path': '/', ':scheme': 'https', ':authority': '10.0.0.1:80' }), 400);
    t.equal(await ask({ ':method': 'POST', ':path': '/', ':scheme': 'https', ':authority': '10.0.0.1:80' }), 400);
    t.rejects(openTunnel(conn, { authority: 'no-port' }), { code: 'HBONE_INVALID_ARGUMENT' }, 'the client refuses to send it');
  });

  t.test('garbage on the port does not hurt the server', async (t) => {
    const before = server.stats().handshakeFailures;
    const s = net.connect(addr.port, '127.0.0.1');
    s.on('error', () => {});
    s.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(s, 'close');
    await waitFor('handshake failure count', () => server.stats().handshakeFailures > before);
    handler = async () => ({ status: 200, upstream: await connectTcp(echo.port) });
    const tun = await openTunnel(conn, { authority: '127.0.0.1:9080' });
    tun.end('ok');
    t.equal((await readAll(tun)).toString(), 'ok', 'still serving');
  });

  t.test('TLS without a client certificate is refused', async (t) => {
    const before = server.stats().handshakeFailures;
    const s = tls.connect({ port: addr.port, host: '127.0.0.1', ca: clientCreds.rootsPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
    const err = await new Promise<Error | undefined>((resolve) => {
      s.on('error', resolve);
      s.on('close', () => resolve(undefined));
    });
    t.ok(err, `client saw: ${err?.message}`);
    await waitFor('handshake failure count', () => server.stats().handshakeFailures > before);
  });

  t.test('a certificate from another CA is refused', async (t) => {
    const other = await createTestPki({ name: 'rogue' });
    const rogue = await other.issue(CLIENT_ID, { roots: clientCreds.rootsPem });
    const before = server.stats().handshakeFailures;
    await t.rejects(connect(rogue), { code: 'HBONE_TLS' });
    await waitFor('handshake failure count', () => server.stats().handshakeFailures > before);
  });

  t.test('a certificate from another trust domain is refused', async (t) => {
    const foreign = await createTestPki({ trustDomain: 'other.example' });
    // The server trusts the foreign root too: only the trust-domain check can refuse.
    const trusting = new HboneServer({ credentials: () => ({ ...serverCreds, rootsPem: [...serverCreds.rootsPem, foreign.rootPem] }), onConnect: handler });
    const a = await trusting.listen({ port: 0, host: '127.0.0.1' });
    t.teardown(() => trusting.close());
    const creds = await foreign.issue('spiffe://other.example/ns/demo/sa/client', { roots: clientCreds.rootsPem });
    await t.rejects(dial({ host: '127.0.0.1', port: a.port, credentials: creds, expectedIdentities: [SERVER_ID] }), { code: 'HBONE_TLS' });
    t.equal(trusting.stats().peerRefusals, 1);
    t.equal(trusting.stats().handshakeFailures, 0, 'the chain itself was fine');
  });

  t.test('the client refuses a server with an unexpected identity', async (t) => {
    const err = await connect(clientCreds, ['spiffe://cluster.local/ns/demo/sa/someone-else']).catch((e: unknown) => e);
    t.ok(isHboneError(err, 'HBONE_PEER_IDENTITY'));
    t.match((err as Error).message, /presented spiffe:\/\/cluster\.local\/ns\/demo\/sa\/server; expected one of/);
    t.rejects(connect(clientCreds, []), { code: 'HBONE_INVALID_ARGUMENT' });
  });

  t.test('a stream handle closes both sides', async (t) => {
    handler = async () => ({ status: 200, upstream: await connectTcp(echo.port) });
    const tun: HboneTunnel = await openTunnel(conn, { authority: '127.0.0.1:9080' });
    tun.write('x');
    await once(tun, 'data');
    const live = server.streams();
    t.equal(live.length, 1);
    t.equal(live[0]!.peerIdentity, CLIENT_ID);
    t.equal(live[0]!.bytesIn, 1);
    const upstreams = echo.sockets.size;
    t.equal(server.closeStreams((h) => h.peerIdentity === CLIENT_ID, 'policy now denies'), 1);
    await once(tun, 'close');
    await waitFor('the upstream socket to close', () => echo.sockets.size === upstreams - 1);
    t.equal(server.streams().length, 0);
    t.equal(server.stats().streamsActive, 0);
  });

  t.test('a client reset tears down the upstream', async (t) => {
    handler = async () => ({ status: 200, upstream: await connectTcp(echo.port) });
    const tun = await openTunnel(conn, { authority: '127.0.0.1:9080' });
    tun.write('x');
    await once(tun, 'data');
    const upstreams = echo.sockets.size;
    tun.destroy(); // RST_STREAM CANCEL
    await waitFor('the upstream socket to close', () => echo.sockets.size === upstreams - 1);
    await waitFor('the server to forget the stream', () => server.streams().length === 0);
    t.equal(server.stats().streamsActive, 0);
  });

  t.test('a client that gives up aborts the handler', async (t) => {
    let aborted!: () => void;
    const sawAbort = new Promise<void>((r) => (aborted = r));
    handler = (req) =>
      new Promise((resolve) => {
        req.signal.addEventListener('abort', () => {
          aborted();
          resolve({ status: 503, reason: 'too late' });
        });
      });
    const before = server.stats().refusedByStatus[499] ?? 0;
    await t.rejects(openTunnel(conn, { authority: '127.0.0.1:9080', responseTimeoutMs: 100 }), { code: 'HBONE_STREAM_RESET', message: /no answer after 100 ms/ });
    await sawAbort;
    await waitFor('the abandoned stream to be counted', () => (server.stats().refusedByStatus[499] ?? 0) === before + 1);
  });

  t.test('drain sends GOAWAY and stops accepting', async (t) => {
    const s2 = new HboneServer({ credentials: () => serverCreds, onConnect: async () => ({ status: 200, upstream: await connectTcp(echo.port) }) });
    const a = await s2.listen({ port: 0, host: '127.0.0.1' });
    const c = await dial({ host: '127.0.0.1', port: a.port, credentials: clientCreds, expectedIdentities: [SERVER_ID] });
    const tun = await openTunnel(c, { authority: '127.0.0.1:9080' });
    const goaway = once(c.session, 'goaway');
    const drained = s2.drain(5_000);
    await goaway;
    tun.end('last words');
    t.equal((await readAll(tun)).toString(), 'last words', 'the live stream finished');
    await drained;
    await t.rejects(dial({ host: '127.0.0.1', port: a.port, credentials: clientCreds, expectedIdentities: [SERVER_ID], connectTimeoutMs: 2_000 }), { code: 'HBONE_CONNECT_FAILED' });
  });
});
