// The connection pool against a real HboneServer on loopback.
import { once } from 'node:events';
import net from 'node:net';
import { pino } from 'pino';
import t from 'tap';
import type { HboneTunnel } from './client.js';
import { HbonePool, type PoolConnectOptions } from './pool.js';
import { HboneServer } from './server.js';
import { connectTcp, createTestPki, startEchoServer } from './testkit.js';

const SERVER_ID = 'spiffe://cluster.local/ns/demo/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/client';

async function waitFor(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function echoOnce(tun: HboneTunnel, msg: string): Promise<string> {
  tun.write(msg);
  const [d] = (await once(tun, 'data')) as [Buffer];
  return d.toString();
}

async function finish(tun: HboneTunnel): Promise<void> {
  const closed = once(tun, 'close');
  tun.end();
  tun.resume();
  await closed;
}

t.test('HbonePool', async (t) => {
  const pki = await createTestPki();
  let serverCreds = await pki.issue(SERVER_ID);
  let clientCreds = await pki.issue(CLIENT_ID);
  const echo = await startEchoServer();
  t.teardown(() => echo.close());
  const server = new HboneServer({ credentials: () => serverCreds, onConnect: async () => ({ status: 200, upstream: await connectTcp(echo.port) }) });
  const addr = await server.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => server.close());
  const base = (): PoolConnectOptions => ({
    sourceIdentity: CLIENT_ID,
    destinationIdentities: [SERVER_ID],
    destination: `127.0.0.1:${addr.port}`,
    credentials: () => clientCreds,
    authority: `127.0.0.1:9080`,
  });
  const accepted = (): number => server.stats().connectionsAccepted;

  t.test('single flight: concurrent connects share connections, 100 streams each', async (t) => {
    for (const [n, max, conns] of [
      [200, 100, 2],
      [150, 100, 2],
      [100, 100, 1],
      [250, 1000, 2], // the server's SETTINGS_MAX_CONCURRENT_STREAMS (200) is the limit then
    ] as const) {
      const pool = new HbonePool({ maxStreamsPerConnection: max });
      const before = accepted();
      const tunnels = await Promise.all(Array.from({ length: n }, () => pool.connect(base())));
      t.equal(accepted() - before, conns, `${n} concurrent connects, cap ${max}: ${conns} TCP connection(s)`);
      t.same({ connections: pool.stats().connections, streams: pool.stats().streams }, { connections: conns, streams: n });
      t.equal(await echoOnce(tunnels[n - 1]!, 'ping'), 'ping');
      await Promise.all(tunnels.map(finish));
      t.equal(pool.stats().streams, 0);
      await pool.close();
    }
  });

  t.test('a failed dial fails every waiter once', async (t) => {
    const closed = net.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const pool = new HbonePool();
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => pool.connect({ ...base(), destination: `127.0.0.1:${port}` })));
    t.ok(results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'HBONE_CONNECT_FAILED'));
    t.equal(pool.stats().connectFailures, 1, 'one dial for 50 callers');
    t.equal(pool.stats().keys, 0, 'nothing left behind');
    await pool.close();
  });

  t.test('connect timeout names the likely cause', async (t) => {
    const silent = net.createServer((s) => s.on('error', () => {})); // accepts, never speaks TLS
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    t.teardown(() => silent.close());
    const port = (silent.address() as net.AddressInfo).port;
    const pool = new HbonePool({ connectTimeoutMs: 200 });
    await t.rejects(pool.connect({ ...base(), destination: `127.0.0.1:${port}` }), {
      code: 'HBONE_CONNECT_TIMEOUT',
      message: `connection to 127.0.0.1:${port} timed out after 0.2 s; is a NetworkPolicy blocking HBONE port ${port}?`,
    });
    await pool.close();
  });

  t.test('idle connections are evicted', async (t) => {
    const pool = new HbonePool({ idleTimeoutMs: 150 });
    const tun = await pool.connect(base());
    await finish(tun);
    t.equal(pool.stats().connections, 1, 'kept while fresh');
    const active = server.stats().connectionsActive;
    await waitFor('eviction', () => pool.stats().connections === 0);
    await waitFor('the server to see the close', () => server.stats().connectionsActive === active - 1);
    const before = accepted();
    await finish(await pool.connect(base()));
    t.equal(accepted() - before, 1, 'a new connection afterwards');
    await pool.close();
  });

  t.test('GOAWAY moves new streams to a fresh connection while old streams finish', async (t) => {
    const pool = new HbonePool();
    const before = accepted();
    const old = await pool.connect(base());
    const goaway = once(old.session!, 'goaway');
    server.goAway();
    await goaway;
    const fresh = await pool.connect(base());
    t.equal(accepted() - before, 2, 'a second connection');
    t.not(fresh.session, old.session);
    t.equal(await echoOnce(old, 'old'), 'old', 'the old stream still works');
    t.equal(await echoOnce(fresh, 'new'), 'new');
    const oldSession = old.session!;
    await finish(old);
    await waitFor('the drained connection to close', () => oldSession.destroyed);
    t.equal(pool.stats().connections, 1);
    await finish(fresh);
    await pool.close();
  });

  t.test('credential rotation: new tunnels use the new certificate, old ones keep going', async (t) => {
    const pool = new HbonePool();
    const t1 = await pool.connect(base());
    const serial = (tun: HboneTunnel, side: 'ours' | 'theirs'): string => {
      const sock = tun.session!.socket as unknown as { getCertificate(): { serialNumber: string }; getPeerCertificate(): { serialNumber: string } };
      return side === 'ours' ? sock.getCertificate().serialNumber : sock.getPeerCertificate().serialNumber;
    };
    const [c1, s1] = [serial(t1, 'ours'), serial(t1, 'theirs')];
    clientCreds = await pki.issue(CLIENT_ID);
    serverCreds = await pki.issue(SERVER_ID);
    const t2 = await pool.connect(base());
    t.equal(pool.stats().connectionsOpened, 2, 'one new connection');
    t.not(serial(t2, 'ours'), c1, 'the client presents its new certificate');
    t.not(serial(t2, 'theirs'), s1, 'the server presents its new certificate');
    t.equal(await echoOnce(t1, 'still'), 'still', 'the tunnel from before the rotation works');
    await finish(t1);
    await finish(t2);
    await waitFor('the old connection to close once its stream was done', () => pool.stats().connections === 1);
    await pool.close();
  });

  t.test('credentials must be for the source identity', async (t) => {
    const pool = new HbonePool();
    const other = await pki.issue('spiffe://cluster.local/ns/demo/sa/intruder');
    await t.rejects(pool.connect({ ...base(), credentials: other }), { code: 'HBONE_CREDENTIALS', message: /are for spiffe:\/\/cluster.local\/ns\/demo\/sa\/intruder/ });
    await pool.close();
    await t.rejects(pool.connect(base()), { code: 'HBONE_CLOSED' });
  });

  t.test('a non-200 answer releases the stream slot', async (t) => {
    const denying = new HboneServer({ credentials: () => serverCreds, onConnect: async () => ({ status: 401, reason: 'no' }) });
    const a = await denying.listen({ port: 0, host: '127.0.0.1' });
    t.teardown(() => denying.close());
    const pool = new HbonePool();
    await t.rejects(pool.connect({ ...base(), destination: `127.0.0.1:${a.port}` }), { code: 'HBONE_STATUS', status: 401 });
    await waitFor('the refused stream to close', () => pool.stats().streams === 0);
    t.equal(pool.stats().connections, 1, 'the connection stays pooled');
    await pool.close();
  });

  t.test('keep-alive drops a connection whose peer stopped answering', async (t) => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const pinging = new HboneServer({ credentials: () => serverCreds, onConnect: async () => ({ status: 200, upstream: await connectTcp(echo.port) }), keepAlive: { intervalMs: 50, timeoutMs: 200 }, logger });
    const target = await pinging.listen({ port: 0, host: '127.0.0.1' });
    t.teardown(() => pinging.close());
    // A relay we can freeze: PINGs go unanswered.
    let frozen = false;
    const relay = net.createServer((down) => {
      const up = net.connect(target.port, '127.0.0.1');
      for (const [a, b] of [[down, up], [up, down]] as const) {
        a.on('data', (d: Buffer) => frozen || b.write(d));
        a.on('error', () => b.destroy());
        a.on('close', () => b.destroy());
      }
    });
    relay.listen(0, '127.0.0.1');
    await once(relay, 'listening');
    t.teardown(() => relay.close());
    const port = (relay.address() as net.AddressInfo).port;
    for (const side of ['client', 'server'] as const) {
      // Only one side pings at a time, so each side's keep-alive is seen on its own.
      const pool = new HbonePool({ keepAlive: { intervalMs: side === 'client' ? 50 : 0, timeoutMs: 200 } });
      frozen = false;
      const tun = await pool.connect({ ...base(), destination: `127.0.0.1:${port}` });
      const closed = new Promise((r) => tun.once('close', r)); // with an error: the session died
      if (side === 'server') t.equal(pinging.stats().connectionsActive, 1);
      frozen = true;
      await closed;
      await waitFor('the pool to drop the connection', () => pool.stats().connections === 0);
      t.equal(pool.stats().connections, 0, `${side} keep-alive`);
      await pool.close();
    }
    await waitFor('the server to drop the connection', () => pinging.stats().connectionsActive === 0);
    t.ok(lines.some((l) => l.includes('dropped by keep-alive')), 'the server logged why');
  });
});
