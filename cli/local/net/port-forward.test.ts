import t from 'tap';
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { listenInNetns } from '../../../lib/native/index.js';
import { delNetns, netnsPath } from '../../../lib/sys/netns.js';
import { addTestNetns } from '../../../lib/sys/testkit.js';
import { startPortForward } from './port-forward.js';

if (process.getuid?.() !== 0) {
  t.fail('this test creates a network namespace: run it as root');
  process.exit(1);
}

const ns = `tpf${process.pid}`;
const servers: net.Server[] = [];
t.teardown(async () => {
  for (const s of servers) s.close();
  await delNetns(ns);
});

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Connects to the forward and runs `drive`; resolves with everything received, once the socket closes. */
function client(port: number, drive: (s: net.Socket, got: () => string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('error', reject);
    s.on('close', () => resolve(got));
    drive(s, () => got);
    // allowHalfOpen: answer the peer's FIN ourselves (after drive's own 'end' handler) so the socket closes.
    s.on('end', () => void (s.writableEnded || s.end()));
  });
}

t.test('port-forward into a namespace', async (t) => {
  await addTestNetns(ns);
  const path = netnsPath(ns);
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));

  // Reads to the end, then answers: needs the client's half-close to get through.
  const replyAfterEnd = await listenInNetns(path, '127.0.0.1', 0);
  replyAfterEnd.on('connection', (c) => {
    let body = '';
    c.on('data', (d: Buffer) => (body += d.toString()));
    c.on('end', () => c.end(`got:${body}`));
  });
  // Speaks first and half-closes, then still listens: needs the server's half-close to get through.
  let late = '';
  const speakFirst = await listenInNetns(path, '127.0.0.1', 0);
  speakFirst.on('connection', (c) => {
    c.end('hello');
    c.on('data', (d: Buffer) => (late += d.toString()));
    c.resume();
  });
  const silent = await listenInNetns(path, '127.0.0.1', 0);
  servers.push(replyAfterEnd, speakFirst, silent);
  const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

  const pf = await startPortForward({ netns: ns, host: '127.0.0.1', port: portOf(replyAfterEnd), log });
  t.equal(pf.address, '127.0.0.1');
  t.ok(pf.port > 0, 'ephemeral host port');
  t.equal(await client(pf.port, (s) => s.end('ping')), 'got:ping', 'client half-close reaches the server, reply comes back');
  const big = 'x'.repeat(4 << 20);
  t.equal((await client(pf.port, (s) => s.end(big))).length, big.length + 4, '4 MiB each way');
  await until('connections to drain', () => pf.connections() === 0);

  const pf2 = await startPortForward({ netns: path, host: '127.0.0.1', port: portOf(speakFirst), log });
  const got = await client(pf2.port, (s) => s.on('end', () => s.end('late')));
  t.equal(got, 'hello');
  await until('late bytes after the server half-closed', () => late === 'late');
  t.pass('server half-close: the client could still send');
  await t.rejects(startPortForward({ netns: ns, host: '127.0.0.1', port: 1, hostPort: pf2.port, log }), /EADDRINUSE/);
  await pf2.close();

  const refused = await startPortForward({ netns: ns, host: '127.0.0.1', port: 9, log });
  t.equal(await client(refused.port, () => undefined), '', 'refused upstream: the client is closed');
  t.ok(lines.some((l) => l.includes('could not connect') && l.includes('ECONNREFUSED')), 'and the failure is logged');
  await refused.close();

  const held = await startPortForward({ netns: ns, host: '127.0.0.1', port: portOf(silent), log });
  let closed = false;
  const open = client(held.port, () => undefined).then(() => (closed = true));
  await until('the held connection', () => held.connections() === 1);
  await held.close();
  await open;
  t.ok(closed, 'close() cuts open connections');
  t.equal(held.connections(), 0);
  await pf.close();
});
