import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanStaleTokens, DirLock, machine, ownerAlive, processStartTime } from './lock.js';
import { tempDir } from './testkit.js';

/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

t.test('liveness by pid and start time', async (t) => {
  const start = processStartTime(process.pid);
  t.ok(start, 'own start time readable');
  t.equal(ownerAlive({ pid: process.pid, start: start ?? '', host: machine(), token: 'x' }), true);
  t.equal(ownerAlive({ pid: process.pid, start: '1', host: machine(), token: 'x' }), false, 'pid reused by another process');
  t.equal(ownerAlive({ pid: deadPid(), start: '', host: machine(), token: 'x' }), false);
  t.equal(ownerAlive({ pid: deadPid(), start: '', host: 'another-host', token: 'x' }), true, 'never judged across machines');
});

t.test('exclusive within and across holders', async (t) => {
  const d = tempDir('lock');
  t.teardown(d.remove);
  const path = join(d.dir, 'write.lock');
  const a = new DirLock(path);
  const b = new DirLock(path, { timeoutMs: 200 });
  t.same(await a.acquire(), { recovered: false });
  t.ok(existsSync(path));
  await t.rejects(b.acquire(), /timed out waiting for lock .*write\.lock held by pid \d+/);
  const waiting = b.acquire();
  setTimeout(() => a.release(), 20);
  t.same(await waiting, { recovered: false }, 'taken once released');
  b.release();
  t.notOk(existsSync(path));
  a.dispose();
  b.dispose();
  t.same(readdirSync(d.dir), [], 'token files removed');
});

t.test('a dead owner’s lock is taken over, once', async (t) => {
  const d = tempDir('lock');
  t.teardown(d.remove);
  const path = join(d.dir, 'write.lock');
  const pid = deadPid();
  writeFileSync(path, JSON.stringify({ pid, start: '', host: machine(), token: 'dead' }));
  writeFileSync(`${path}.${pid}.abcd`, JSON.stringify({ pid, start: '', host: machine(), token: 'abcd' }));
  const a = new DirLock(path);
  const b = new DirLock(path);
  const pa = a.acquire();
  const pb = b.acquire();
  const first = await Promise.race([pa.then(() => a), pb.then(() => b)]);
  t.notOk(a.isHeld && b.isHeld, 'never both');
  first.release();
  const [ra, rb] = await Promise.all([pa, pb]);
  (first === a ? b : a).release();
  const recovered = [ra, rb].filter((r) => r?.recovered).length;
  t.equal(recovered, 1, 'exactly one holder recovered the dead lock');
  a.dispose();
  b.dispose();
  cleanStaleTokens(path);
  t.same(readdirSync(d.dir), [], 'stale token of the dead process cleaned');
});
