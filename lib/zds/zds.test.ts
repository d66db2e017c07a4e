// ZdsServer and ZdsClient over a real Unix socket in a temporary directory.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { ZdsClient, type ZdsHandler } from './client.js';
import { encodeFrame, FrameDecoder } from './framing.js';
import { decodeRequest, describeRequest, encodeAck, encodeHello, ZdsVersion } from './messages.js';
import { ZdsServer, type ZdsPod } from './server.js';

const pod = (uid: string, netns = true): ZdsPod => ({ uid, name: `p-${uid}`, namespace: 'demo', serviceAccount: 'sa', ...(netns ? { netnsPath: `/var/run/netns/${uid}` } : {}) });

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A handler that records every call and fails adds of the uids in `failing`. */
function recorder(failing = new Set<string>()): ZdsHandler & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    async onAdd(w, netns) {
      await new Promise((r) => setTimeout(r, 5)); // real work takes time; lock-step must hold
      if (failing.has(w.uid)) throw new Error(`cannot enter ${netns}`);
      log.push(`add ${w.uid} ${w.namespace}/${w.name} ${w.serviceAccount} ${netns}`);
    },
    onKeep: (uid) => void log.push(`keep ${uid}`),
    onDel: (uid) => void log.push(`del ${uid}`),
    onSnapshotSent: () => void log.push('snapshot'),
  };
}

function capture(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { out.push(String(chunk)); cb(); } });
  return { logger: pino({ level: 'info' }, stream), lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** A bare socket speaking frames by hand, to watch the server's timing and to misbehave. */
async function rawClient(socketPath: string): Promise<{ sock: net.Socket; frames: Buffer[]; closed: () => boolean }> {
  const sock = net.createConnection(socketPath);
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const dec = new FrameDecoder();
  const frames: Buffer[] = [];
  let closed = false;
  sock.on('data', (c: Buffer) => frames.push(...dec.push(c)));
  sock.on('close', () => (closed = true));
  sock.on('error', () => undefined);
  return { sock, frames, closed: () => closed };
}

t.test('ZDS over a Unix socket', async (t) => {
  // Under umask 0 a socket made without a chmod would be 0777: the test proves the chmod.
  const umask = process.umask(0);
  t.teardown(() => void process.umask(umask));
  const dir = await mkdtemp(path.join(os.tmpdir(), `ambit-zds-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'ztunnel.sock');
  const cap = capture();
  const server = new ZdsServer({ socketPath, logger: cap.logger, ackTimeoutMs: 2000, helloTimeoutMs: 2000 });
  server.setPods([pod('a'), pod('b'), pod('k', false)]);
  await server.start();
  t.teardown(() => server.close());
  const clients: ZdsClient[] = [];
  t.teardown(() => Promise.all(clients.map((c) => c.close())));
  const startClient = (handler: ZdsHandler): ZdsClient => {
    const c = new ZdsClient({ socketPath, handler, backoff: { initialMs: 20, maxMs: 200, multiplier: 2, jitter: 0.2 } });
    clients.push(c);
    c.start();
    return c;
  };

  await t.test('the socket is 0600 from the moment it exists at its path', async (t) => {
    t.equal((await stat(socketPath)).mode & 0o777, 0o600, 'mode 0600 although this test runs with umask 0');
    t.same((await readdir(dir)).sort(), ['ztunnel.sock'], 'no staging name left behind');
  });

  await t.test('no ztunnel: add is refused, the pod still joins the snapshot', async (t) => {
    await t.rejects(server.add(pod('early')), { code: 'NO_ZTUNNEL', message: /no ztunnel is connected to .*ztunnel.sock/ });
    await server.del('early');
    await t.rejects(server.add({ ...pod('x'), netnsPath: 'relative' }), { code: 'INVALID', message: /must be absolute/ });
    t.throws(() => server.setPods([{ ...pod('y'), uid: '' }]), { code: 'INVALID', message: /uid is empty/ });
  });

  const h1 = recorder(new Set(['bad']));
  const c1 = startClient(h1);
  await t.test('hello → snapshot → live add/del, lock-step', async (t) => {
    await new Promise((r) => c1.once('snapshotReceived', r));
    t.same(h1.log, ['add a demo/p-a sa /var/run/netns/a', 'add b demo/p-b sa /var/run/netns/b', 'keep k', 'snapshot']);
    await waitFor('server sees snapshot acked', () => server.status()[0]?.state === 'live');
    const live = await Promise.allSettled([server.add(pod('c')), server.add(pod('bad')), server.del('a'), server.add(pod('d'))]);
    t.same(live.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const nack = live[1] as PromiseRejectedResult;
    t.match(nack.reason, { code: 'NACK', message: /ztunnel refused add demo\/p-bad \(bad\): cannot enter \/var\/run\/netns\/bad/ }, 'error Ack surfaces to add()');
    t.same(h1.log.slice(4), ['add c demo/p-c sa /var/run/netns/c', 'del a', 'add d demo/p-d sa /var/run/netns/d'], 'in order, after the snapshot');
    t.same(server.currentPods().map((p) => p.uid).sort(), ['b', 'bad', 'c', 'd', 'k']);
  });

  await t.test('the server never sends request N+1 before Ack N', async (t) => {
    const raw = await rawClient(socketPath);
    t.teardown(() => raw.sock.destroy());
    const ready = new Promise((r) => server.once('ready', r));
    raw.sock.write(encodeFrame(encodeHello()));
    await ready;
    const seen: string[] = [];
    const pending = [server.add(pod('e')), server.del('e')];
    // Snapshot of 5 pods + SnapshotSent, then the live add and del: 8 requests, answered slowly.
    for (let i = 0; i < 8; i++) {
      await waitFor(`request ${i + 1}`, () => raw.frames.length > 0);
      await new Promise((r) => setTimeout(r, 40));
      t.equal(raw.frames.length, 1, `only request ${i + 1} is in flight`);
      seen.push(describeRequest(decodeRequest(raw.frames.shift()!)));
      raw.sock.write(encodeFrame(encodeAck()));
    }
    await Promise.all(pending);
    t.same(seen.slice(-3), ['snapshot_sent', 'add demo/p-e (e)', 'del e']);
    t.equal(seen.filter((s) => s.startsWith('add ')).length, 5);
    t.ok(h1.log.includes('del e'), 'del went to the older ztunnel too');
    t.notOk(h1.log.some((l) => l.startsWith('add e')), 'add went only to the newest');
  });

  await t.test('two ztunnels: add to the newest, del to both', async (t) => {
    const h2 = recorder();
    const c2 = startClient(h2);
    await new Promise((r) => c2.once('snapshotReceived', r));
    await waitFor('both live', () => server.status().filter((s) => s.state === 'live').length === 2);
    await server.add(pod('f'));
    await server.del('b');
    t.ok(h2.log.includes('add f demo/p-f sa /var/run/netns/f') && !h1.log.some((l) => l.startsWith('add f')), 'add only to the newest');
    t.ok(h1.log.includes('del b') && h2.log.includes('del b'), 'del to both');
    await c2.close();
    clients.splice(clients.indexOf(c2), 1);
    await waitFor('one connection left', () => server.status().length === 1);
    await server.add(pod('g'));
    t.ok(h1.log.includes('add g demo/p-g sa /var/run/netns/g'), 'the remaining ztunnel is the newest again');
  });

  await t.test('garbage closes that connection with a log line; others are served', async (t) => {
    const before = server.status().length;
    const cases: [string, Buffer][] = [
      ['HTTP instead of ZDS', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
      ['a Hello that is not protobuf', encodeFrame(Buffer.from([0xff, 0xff, 0xff]))],
      ['another ZDS version', encodeFrame(encodeHello(ZdsVersion.NOT_USED))],
    ];
    for (const [name, bytes] of cases) {
      const raw = await rawClient(socketPath);
      raw.sock.write(bytes);
      await waitFor(`${name}: closed`, raw.closed);
      t.pass(`${name}: connection closed`);
    }
    const warnings = cap.lines().filter((l) => l.msg === 'ZDS: closing ztunnel connection').map((l) => String(l.reason));
    t.match(warnings, [/exceeds the 16384-byte limit/, /cannot decode ZdsHello/, /version 0; this agent speaks version 1/]);
    t.equal(server.status().length, before);
    await server.add(pod('h'));
    t.ok(h1.log.includes('add h demo/p-h sa /var/run/netns/h'), 'still serving');
  });

  await t.test('a ztunnel that stops answering is dropped after the ack timeout', async (t) => {
    const quick = new ZdsServer({ socketPath: path.join(dir, 'quick.sock'), ackTimeoutMs: 200 });
    await quick.start();
    t.teardown(() => quick.close());
    const raw = await rawClient(path.join(dir, 'quick.sock'));
    raw.sock.write(encodeFrame(encodeHello()));
    await waitFor('snapshot_sent', () => raw.frames.length === 1);
    await t.rejects(quick.add(pod('z')), { code: 'TIMEOUT', message: /no Ack for snapshot_sent within 200 ms|CLOSED/ });
    await waitFor('dropped', raw.closed);
    t.same(quick.status(), []);
  });

  await t.test('reconnect gets the snapshot again', async (t) => {
    // A new ztunnel instance: the snapshot reflects the live adds and dels.
    const h3 = recorder();
    const c3 = startClient(h3);
    await new Promise((r) => c3.once('snapshotReceived', r));
    const adds = h3.log.filter((l) => l.startsWith('add ')).map((l) => l.split(' ')[1]).sort();
    t.same(adds, ['bad', 'c', 'd', 'f', 'g', 'h']);
    t.ok(h3.log.includes('keep k'), 'keep for the pod without a netns');
    t.equal(h3.log.at(-1), 'snapshot');
    await c3.close();
    clients.splice(clients.indexOf(c3), 1);

    // The node agent restarts: the running client reconnects with backoff and gets the new snapshot.
    await server.close();
    h1.log.length = 0;
    const again = new ZdsServer({ socketPath });
    again.setPods([pod('n1'), pod('k', false)]);
    await new Promise((r) => setTimeout(r, 100));
    await again.start();
    t.teardown(() => again.close());
    await new Promise((r) => c1.once('snapshotReceived', r));
    t.same(h1.log, ['add n1 demo/p-n1 sa /var/run/netns/n1', 'keep k', 'snapshot']);
  });
});
