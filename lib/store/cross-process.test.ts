// Several processes on one state directory: the long-running runner watches while CLI commands
// write. Children are real `node` processes using the compiled store.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileStore } from './file.js';
import { Collector, percentile, tempDir } from './testkit.js';
import type { KubeObject } from './types.js';

const CM = { apiVersion: 'v1', kind: 'ConfigMap' };
const here = (f: string): string => new URL(f, import.meta.url).href;

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs an ES module script in a child `node`; killed (by its pid) at teardown if still running.
 * With `gate`, the child gets a stdin pipe, and `ready` resolves once it prints "ready".
 */
function child(t: Test, script: string, params: Record<string, unknown>, gate?: { ready: (go: () => void) => void }): Promise<ChildResult> {
  const p = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, PARAMS: JSON.stringify({ ...params, file: here('./file.js'), journal: here('./journal.js'), lock: here('./lock.js') }) },
    stdio: [gate ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (p.exitCode === null && p.signalCode === null && p.pid) process.kill(p.pid, 'SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  p.stdout?.on('data', (d: Buffer) => {
    const before = stdout;
    stdout += d.toString();
    if (gate && !before.includes('ready\n') && stdout.includes('ready\n')) gate.ready(() => p.stdin?.end('go\n'));
  });
  p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const now = (): number => performance.timeOrigin + performance.now();

const WRITER = `
const P = JSON.parse(process.env.PARAMS);
const { FileStore } = await import(P.file);
const s = new FileStore(P.dir);
for (let i = 0; i < P.count; i++) {
  const sentAt = String(performance.timeOrigin + performance.now());
  await s.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c-' + String(i).padStart(3, '0'), namespace: 'demo', annotations: { sentAt } }, data: { i: String(i) } });
  if (P.gapMs) await new Promise((r) => setTimeout(r, P.gapMs));
}
await s.close();
`;

t.test('a child writes 200 objects; the parent watches all 200, in order', async (t) => {
  const d = tempDir('xproc');
  t.teardown(d.remove);
  const s = new FileStore(d.dir);
  t.teardown(() => s.close());
  const c = new Collector();
  const latencies: number[] = [];
  s.watch(CM, {}, (ev) => {
    latencies.push(now() - Number(ev.object.metadata.annotations?.sentAt));
    c.push(ev);
  });
  await s.currentResourceVersion(); // store open, so the child's writes are live events
  const started = now();
  const res = await child(t, WRITER, { dir: d.dir, count: 200 });
  t.equal(res.code, 0, res.stderr);
  const elapsed = now() - started;
  await c.count(200, 20_000);
  t.equal(c.events.length, 200);
  t.same(c.summary, Array.from({ length: 200 }, (_, i) => `ADDED c-${String(i).padStart(3, '0')}`), 'all ADDED, in order');
  const rvs = c.events.map((e) => Number(e.object.metadata.resourceVersion));
  t.ok(rvs.every((rv, i) => i === 0 || rv === (rvs[i - 1] ?? 0) + 1), 'consecutive resource versions');
  t.equal(readdirSync(join(d.dir, 'objects', 'configmaps', 'demo')).filter((f) => f.endsWith('.yaml')).length, 200, 'the child wrote its object files when it closed');
  const sorted = [...latencies].sort((a, b) => a - b);
  t.comment(`child wrote 200 creates in ${elapsed.toFixed(0)} ms incl. node start-up; watch latency p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms, max ${percentile(sorted, 100).toFixed(2)} ms`);
});

const COUNTER = `
const P = JSON.parse(process.env.PARAMS);
const { FileStore } = await import(P.file);
const s = new FileStore(P.dir, P.opts);
const key = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'demo', name: 'counter' };
let conflicts = 0;
const rvs = [];
await s.get(key);
// Start together, so that the two writers really overlap.
process.stdout.write('ready\\n');
await new Promise((r) => process.stdin.once('data', r));
for (let i = 0; i < P.count; i++) {
  const c = await s.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w' + P.id + '-' + i, namespace: 'demo' }, data: { pad: 'x'.repeat(200) } });
  rvs.push(Number(c.metadata.resourceVersion));
  for (;;) {
    const cur = await s.get(key);
    try {
      const p = await s.patch(key, { data: { n: String(Number(cur.data.n) + 1) } }, { resourceVersion: cur.metadata.resourceVersion });
      rvs.push(Number(p.metadata.resourceVersion));
      break;
    } catch (err) {
      if (err.code !== 'Conflict') throw err;
      conflicts++;
    }
  }
}
await s.close();
console.log(JSON.stringify({ conflicts, rvs }));
`;

for (const compact of [false, true]) {
  t.test(`two processes writing at once${compact ? ', compacting the journal all the time' : ''}: unique resource versions, no lost update`, async (t) => {
    const d = tempDir('xproc');
    t.teardown(d.remove);
    const opts = compact ? { compactBytes: 16_384, retainBytes: 8_192 } : {};
    const s = new FileStore(d.dir, opts);
    t.teardown(() => s.close());
    await s.create({ ...CM, metadata: { name: 'counter', namespace: 'demo' }, data: { n: '0' } });
    const c = new Collector();
    s.watch(CM, {}, c.push);
    const count = 100;
    const gos: Array<() => void> = [];
    const gate = { ready: (go: () => void) => gos.push(go) === 2 && gos.forEach((g) => g()) };
    const results = await Promise.all([1, 2].map((id) => child(t, COUNTER, { dir: d.dir, id, count, opts }, gate)));
    for (const r of results) t.equal(r.code, 0, r.stderr);
    const outs = results.map((r) => JSON.parse(r.stdout.replace('ready\n', '')) as { conflicts: number; rvs: number[] });
    t.comment(`optimistic-concurrency conflicts retried: ${outs.map((o) => o.conflicts).join(' + ')}`);
    const written = outs.flatMap((o) => o.rvs);
    t.equal(new Set(written).size, 4 * count, 'no two writes got the same resource version');
    t.same([...written].sort((a, b) => a - b), Array.from({ length: 4 * count }, (_, i) => i + 2), 'and none was skipped');
    t.same((await s.get({ ...CM, namespace: 'demo', name: 'counter' }))?.data, { n: String(2 * count) }, 'every increment counted');
    const expected = 1 + 4 * count; // counter + creates + increments
    await c.until((evs) => evs.some((e) => Number(e.object.metadata.resourceVersion) === expected), 20_000, `rv ${expected}`);
    const rvs = c.events.map((e) => Number(e.object.metadata.resourceVersion));
    if (!compact) {
      t.same(rvs, Array.from({ length: expected }, (_, i) => i + 1), 'delivered in rv order, none missing');
      const journal = readFileSync(join(d.dir, 'journal', 'journal.log'), 'utf8').trim().split('\n').slice(1);
      t.equal(journal.length, expected, 'one journal line per change');
    } else {
      // A watcher that fell behind a compaction relists: fewer events, but never out of order, and
      // replaying them gives the current state.
      t.ok(rvs.every((rv, i) => i === 0 || rv >= (rvs[i - 1] ?? 0)), 'never out of order');
      const state = new Map<string, string | undefined>();
      for (const e of c.events) {
        if (e.type === 'DELETED') state.delete(e.object.metadata.name);
        else state.set(e.object.metadata.name, e.object.metadata.resourceVersion);
      }
      const listed = await s.list(CM);
      t.same([...state].sort(), listed.map((o) => [o.metadata.name, o.metadata.resourceVersion]).sort(), 'events replay to the current state');
    }
  });
}

const CRASH = `
const P = JSON.parse(process.env.PARAMS);
const { DirLock } = await import(P.lock);
const { Journal } = await import(P.journal);
const lock = new DirLock(P.dir + '/locks/write.lock');
await lock.acquire();
const j = new Journal(P.dir + '/journal/journal.log');
j.seekEnd();
if (P.partial) {
  const { appendFileSync } = await import('node:fs');
  appendFileSync(j.path, '{"rv":' + (j.lastRv + 1) + ',"type":"ADD');
} else {
  // Committed to the journal, then killed before anything else.
  j.append({ rv: j.lastRv + 1, type: 'ADDED', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'crashed', namespace: 'demo', resourceVersion: String(j.lastRv + 1), uid: 'u' }, data: { x: '1' } } });
}
process.kill(process.pid, 'SIGKILL');
`;

for (const partial of [false, true]) {
  t.test(`a writer killed while holding the lock${partial ? ' mid-line' : ' after committing'} is recovered from`, async (t) => {
    const d = tempDir('xproc');
    t.teardown(d.remove);
    const s = new FileStore(d.dir, { lockTimeoutMs: 10_000 });
    t.teardown(() => s.close());
    await s.create({ ...CM, metadata: { name: 'before', namespace: 'demo' } });
    const c = new Collector();
    s.watch(CM, {}, c.push);
    await c.count(1);
    const res = await child(t, CRASH, { dir: d.dir, partial });
    t.equal(res.signal, 'SIGKILL', res.stderr);
    t.ok(existsSync(join(d.dir, 'locks', 'write.lock')), 'the dead writer left its lock');
    const started = Date.now();
    const after = await s.create<KubeObject>({ ...CM, metadata: { name: 'after', namespace: 'demo' } });
    t.ok(Date.now() - started < 5_000, 'lock recovered promptly');
    const want = partial ? ['ADDED before', 'ADDED after'] : ['ADDED before', 'ADDED crashed', 'ADDED after'];
    await c.count(want.length);
    t.same(c.summary, want);
    t.equal(after.metadata.resourceVersion, String(want.length), 'resource versions continue after the recovered change');
    await s.checkpoint();
    const crashedFile = join(d.dir, 'objects', 'configmaps', 'demo', 'crashed.yaml');
    t.equal(existsSync(crashedFile), !partial, partial ? 'a half-written line is dropped' : 'the committed change reached the object files');
    const lines = readFileSync(join(d.dir, 'journal', 'journal.log'), 'utf8').split('\n');
    t.equal(lines.pop(), '', 'journal ends with a complete line');
    for (const l of lines) JSON.parse(l);
    // A fresh process sees the same state.
    const fresh = new FileStore(d.dir);
    t.same((await fresh.list(CM)).map((o) => o.metadata.name), partial ? ['after', 'before'] : ['after', 'before', 'crashed']);
    await fresh.close();
  });
}
