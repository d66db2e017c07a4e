import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { processStartTicks } from './launcher.js';
import { killLeftovers, pidsFilePath, readPidsFile, writePidsFile } from './pids.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ambit-pids-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const running = (pid: number): boolean => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s[s.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
};

t.test('file location and round trip', async (t) => {
  t.equal(pidsFilePath('/state/pods/shop_web/logs'), '/state/pods/shop_web/pids.json');
  const f = path.join(dir, 'a.json');
  writePidsFile(f, { pod: 'ns/p', containers: { a: { pid: 12, startTicks: '3' } } });
  t.same(readPidsFile(f), { pod: 'ns/p', containers: { a: { pid: 12, startTicks: '3' } } });
  t.equal(readPidsFile(path.join(dir, 'missing.json')), undefined);
  t.same(killLeftovers(path.join(dir, 'missing.json')), []);
});

t.test('a reused PID is spared; an orphaned group is killed', async (t) => {
  const f = path.join(dir, 'b.json');
  writePidsFile(f, { pod: 'ns/p', containers: { me: { pid: process.pid, startTicks: 'not-mine' } } });
  t.same(killLeftovers(f), []);
  t.ok(running(process.pid));

  // The leader exits at once and leaves a member of its group behind.
  const leader = spawn('sh', ['-c', 'sleep 300 & echo $!'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const member = await new Promise<number>((resolve) => leader.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))));
  await new Promise((r) => leader.once('exit', r));
  const leaderPid = leader.pid ?? 0;
  t.teardown(() => {
    try {
      process.kill(member, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  t.ok(running(member));
  writePidsFile(f, { pod: 'ns/p', containers: { c: { pid: leaderPid, startTicks: processStartTicks(member) ?? '' } } });
  t.same(killLeftovers(f), [leaderPid]);
  const until = Date.now() + 3000;
  while (running(member) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  t.notOk(running(member), 'the orphaned member is gone');
});
