// ZtunnelZds against a real ZdsServer: readiness after the first snapshot, and a later snapshot
// removing the pods it no longer lists.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { ZdsServer, type ZdsPod } from '../../lib/zds/server.js';
import { ZtunnelZds, type PodRegistry } from './zds-client.js';

const pod = (uid: string, netns = true): ZdsPod => ({ uid, name: uid, namespace: 'demo', serviceAccount: 'sa', ...(netns ? { netnsPath: `/proc/1/ns/net` } : {}) });

class FakeRegistry implements PodRegistry {
  pods = new Map<string, string>();
  calls: string[] = [];
  failAdd = new Set<string>();
  addPod(uid: string, _info: unknown, netns: string): void {
    this.calls.push(`add ${uid}`);
    if (this.failAdd.has(uid)) throw new Error(`no room for ${uid}`);
    this.pods.set(uid, netns);
  }
  keepPod(uid: string): void {
    this.calls.push(`keep ${uid}`);
  }
  delPod(uid: string): void {
    this.calls.push(`del ${uid}`);
    this.pods.delete(uid);
  }
  snapshotDone(): void {
    this.calls.push('done');
  }
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('ztunnel ZDS client keeps the registry in step with the agent', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), `ambit-zzds-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'ztunnel.sock');
  const registry = new FakeRegistry();
  registry.failAdd.add('bad');
  // The positive sign that "not ready" is not just "not yet tried": the client said it could not connect.
  const messages: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, cb) => { for (const l of c.toString().split('\n')) if (l.trim()) messages.push(String(JSON.parse(l).msg)); cb(); } }));
  const zds = new ZtunnelZds({ socketPath, registry, logger, backoff: { initialMs: 20, maxMs: 200, multiplier: 2, jitter: 0.2 } });
  t.teardown(() => zds.close());
  zds.start();
  await waitFor('two failed attempts to reach the agent', () => messages.filter((m) => m.includes('cannot connect to the node agent yet')).length >= 2);
  t.equal(zds.ready, false, 'not ready before any snapshot (agent not up yet)');

  let server = new ZdsServer({ socketPath });
  server.setPods([pod('a'), pod('b')]);
  await server.start();
  await zds.whenReady();
  t.equal(zds.ready, true);
  t.same(registry.calls, ['add a', 'add b', 'done']);
  await server.add(pod('c'));
  await t.rejects(server.add(pod('bad')), { code: 'NACK', message: /no room for bad/ });
  await server.del('a');
  t.same([...registry.pods.keys()], ['b', 'c']);

  // The agent restarts knowing only b (no netns: keep) and d: a new snapshot drops c and bad.
  await server.close();
  server = new ZdsServer({ socketPath });
  t.teardown(() => server.close());
  server.setPods([pod('b', false), pod('d')]);
  registry.calls.length = 0;
  await server.start();
  await waitFor('second snapshot', () => registry.calls.includes('done'));
  t.same(registry.calls, ['keep b', 'add d', 'del c', 'del bad', 'done']);
  t.same([...registry.pods.keys()].sort(), ['b', 'd']);
  t.same(zds.knownPods().sort(), ['b', 'd']);
  t.equal(zds.ready, true);
});
