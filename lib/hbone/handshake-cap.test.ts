// The cap on TLS handshakes in progress per HBONE listener: a flood of raw sockets that never
// finish their handshake is shed with a reset, and a real client still gets through.
import { once } from 'node:events';
import net from 'node:net';
import { Registry } from 'prom-client';
import t from 'tap';
import { HboneMetrics } from '../telemetry/metrics.js';
import { dial, openTunnel } from './client.js';
import { HBONE_MAX_HANDSHAKES_PER_LISTENER } from './constants.js';
import { HboneServer } from './server.js';
import { connectTcp, createTestPki, startEchoServer } from './testkit.js';

const SERVER_ID = 'spiffe://cluster.local/ns/demo/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/client';
// The first bytes of a TLS ClientHello record that never comes in full.
const PARTIAL_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Raw {
  socket: net.Socket;
  /** Resolves with the error code the socket ended with ('' for a clean close). */
  ended: Promise<string>;
}

function rawSocket(port: number): Raw {
  const socket = net.connect(port, '127.0.0.1');
  const ended = new Promise<string>((resolve) => {
    let code = '';
    socket.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? e.message));
    socket.on('close', () => resolve(code));
  });
  socket.on('connect', () => socket.write(PARTIAL_HELLO));
  return { socket, ended };
}

t.test('a handshake flood is shed at the cap and a real client still gets through', async (t) => {
  t.equal(HBONE_MAX_HANDSHAKES_PER_LISTENER, 128, 'the default cap');
  const pki = await createTestPki();
  const serverCreds = await pki.issue(SERVER_ID);
  const clientCreds = await pki.issue(CLIENT_ID);
  const echo = await startEchoServer();
  t.teardown(() => echo.close());
  const registry = new Registry();
  const metrics = new HboneMetrics(registry);
  const staleMs = 1_500;
  const server = new HboneServer({
    credentials: () => serverCreds,
    onConnect: async () => ({ status: 200, upstream: await connectTcp(echo.port) }),
    onHandshakeShed: () => metrics.handshakesShed.inc(),
    staleHandshakeMs: staleMs,
  });
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' });
  const raws: Raw[] = [];
  t.teardown(async () => {
    for (const r of raws) r.socket.destroy();
    await server.close();
  });

  const floodStart = Date.now();
  for (let i = 0; i < HBONE_MAX_HANDSHAKES_PER_LISTENER; i++) raws.push(rawSocket(port));
  await waitFor('128 handshakes in progress', () => server.stats().handshakesActive === HBONE_MAX_HANDSHAKES_PER_LISTENER);

  // Over the cap, while every handshake in progress is young: the new sockets are reset at once.
  const extra = Array.from({ length: 40 }, () => rawSocket(port));
  raws.push(...extra);
  const codes = await Promise.all(extra.map((r) => r.ended));
  const shedWithin = Date.now() - floodStart;
  t.ok(shedWithin < staleMs, `the 40 extra sockets were refused before any handshake went stale (${shedWithin} ms)`);
  t.same([...new Set(codes)], ['ECONNRESET'], 'each extra socket got a TCP reset');
  t.equal(server.stats().handshakesShed, 40, 'counted in stats');
  t.match(await registry.metrics(), /^ambit_hbone_handshakes_shed_total 40$/m, 'and in ambit_hbone_handshakes_shed_total');
  t.equal(server.stats().handshakesActive, HBONE_MAX_HANDSHAKES_PER_LISTENER, 'the flood still holds every slot');
  t.equal(server.stats().connectionsAccepted, HBONE_MAX_HANDSHAKES_PER_LISTENER, 'shed sockets never reach TLS');

  // Once the flood's handshakes are stale, a real client takes the oldest one's slot.
  await new Promise((r) => setTimeout(r, Math.max(0, floodStart + staleMs + 100 - Date.now())));
  const conn = await dial({ host: '127.0.0.1', port, credentials: clientCreds, expectedIdentities: [SERVER_ID] });
  t.teardown(() => conn.session.destroy());
  const tun = await openTunnel(conn, { authority: '127.0.0.1:9080' });
  tun.end('through the flood');
  const chunks: Buffer[] = [];
  for await (const c of tun) chunks.push(c as Buffer);
  t.equal(Buffer.concat(chunks).toString(), 'through the flood', 'the real client is served');
  t.equal(await raws[0]!.ended, 'ECONNRESET', 'the oldest flood socket was reset to make room');
  const stillOpen = raws.slice(1, HBONE_MAX_HANDSHAKES_PER_LISTENER).filter((r) => !r.socket.destroyed).length;
  t.equal(stillOpen, HBONE_MAX_HANDSHAKES_PER_LISTENER - 1, 'the rest of the flood is still there');
  t.equal(server.stats().handshakesActive, HBONE_MAX_HANDSHAKES_PER_LISTENER - 1, 'the real handshake finished and left its slot');
  t.equal(server.stats().handshakesShed, 41, 'the evicted one is counted as shed');
});

t.test('the cap must be a positive integer', async (t) => {
  const pki = await createTestPki();
  const creds = await pki.issue(SERVER_ID);
  for (const bad of [0, -1, 1.5]) {
    t.throws(() => new HboneServer({ credentials: () => creds, onConnect: async () => ({ status: 503 as const, reason: 'test' }), maxHandshakesPerListener: bad }), { code: 'HBONE_INVALID_ARGUMENT', message: /maxHandshakesPerListener must be a positive integer/ });
  }
});

t.test('handshakes that finish free their slot', async (t) => {
  const pki = await createTestPki();
  const serverCreds = await pki.issue(SERVER_ID);
  const clientCreds = await pki.issue(CLIENT_ID);
  const server = new HboneServer({ credentials: () => serverCreds, onConnect: async () => ({ status: 503 as const, reason: 'test' }), maxHandshakesPerListener: 2 });
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => server.close());
  // Five clients one after another through a cap of two: each finished handshake leaves its slot.
  for (let i = 0; i < 5; i++) {
    const c = await dial({ host: '127.0.0.1', port, credentials: clientCreds, expectedIdentities: [SERVER_ID] });
    c.session.destroy();
  }
  const failed = net.connect(port, '127.0.0.1');
  failed.on('error', () => {});
  failed.end('not TLS');
  await once(failed, 'close');
  await waitFor('the failed handshake to leave its slot', () => server.stats().handshakesActive === 0);
  t.equal(server.stats().handshakesShed, 0, 'nothing shed');
});
