import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { readLogs } from './logs.js';
import { killLeftovers, readPidsFile } from './pids.js';
import { cond, runPod } from './testkit.js';
import type { PodStatus } from './types.js';

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const m of it) out.push(m);
  return out;
}

/** Alive and not a zombie waiting for init to reap it. */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

async function gone(pid: number): Promise<boolean> {
  const until = Date.now() + 3000;
  while (alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  return !alive(pid);
}

t.test('runs command+args with env, captures both streams, completes', async (t) => {
  const h = runPod({
    restartPolicy: 'Never',
    containers: [
      {
        name: 'app',
        image: 'busybox:1',
        command: ['sh', '-c'],
        args: ['echo "hello $(WHO) from $POD_NAME in $NS on $NODE as $SA ip=$IP app=$APP"; echo "to stderr" >&2; printf "no newline"'],
        env: [
          { name: 'WHO', value: 'world' },
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
          { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        ],
      },
    ],
  });
  t.teardown(h.cleanup);
  const s = await h.waitFor('Succeeded', (s) => s.phase === 'Succeeded');
  const c = s.containerStatuses[0];
  t.match(c, { name: 'app', image: 'busybox:1', ready: false, started: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } });
  t.equal(cond(s, 'Ready'), 'False');
  t.equal(s.podIP, '127.0.0.1');
  t.match(s.startTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const logs = await collect(readLogs(path.join(h.ctx.logDir, 'app.log')));
  t.same(logs.sort(), ['hello world from web-1 in shop on node-1 as default ip=127.0.0.1 app=web', 'no newline', 'to stderr'].sort());
  const raw = readFileSync(path.join(h.ctx.logDir, 'app.log'), 'utf8');
  t.match(raw, / stderr F to stderr\n/);
  t.match(raw, / stdout F hello world/);
  for (let i = 1; i < h.statuses.length; i++) t.notSame(h.statuses[i], h.statuses[i - 1], `status ${i} differs from the one before`);
  t.ok(h.events.some((e) => e.reason === 'Started'));
});

t.test('a container without command waits with a clear reason', async (t) => {
  const h = runPod({ containers: [{ name: 'web', image: 'nginx:1.27', args: ['-g', 'daemon off;'] }, { name: 'side', command: ['sleep', '30'] }] });
  t.teardown(h.cleanup);
  const s = await h.waitFor('side running', (s) => !!s.containerStatuses[1]?.state.running);
  t.equal(s.phase, 'Pending');
  t.equal(s.containerStatuses[0]?.state.waiting?.reason, 'InvalidImageEntrypoint');
  t.match(s.containerStatuses[0]?.state.waiting?.message, /pod shop\/web-1 container "web": spec\.containers\[0\]\.command is required/);
  t.equal(cond(s, 'Ready'), 'False');
});

t.test('a missing program is a StartError', async (t) => {
  const h = runPod({ restartPolicy: 'Never', containers: [{ name: 'app', command: ['no-such-program-ambit'] }] });
  t.teardown(h.cleanup);
  const s = await h.waitFor('Failed', (s) => s.phase === 'Failed');
  t.match(s.containerStatuses[0]?.state.terminated, { exitCode: 128, reason: 'StartError', message: /executable file not found in \$PATH/ });
  const wd = runPod({ restartPolicy: 'Never', containers: [{ name: 'app', command: ['true'], workingDir: '/no/such/dir' }] });
  t.teardown(wd.cleanup);
  const s2 = await wd.waitFor('Failed', (s) => s.phase === 'Failed');
  t.match(s2.containerStatuses[0]?.state.terminated?.message, /chdir \/no\/such\/dir.*workingDir/);
});

t.test('invalid specs are rejected naming the field', async (t) => {
  t.throws(() => runPod({ containers: [{ name: 'a', command: ['x'], ports: [{ containerPort: 0 }] }] }), /pod shop\/web-1: invalid spec: spec\.containers\[0\]\.ports\[0\]\.containerPort/);
});

t.test('Always: crash loop with back-off, restartCount, lastState', async (t) => {
  const h = runPod({ containers: [{ name: 'app', command: ['sh', '-c', 'echo run; exit 3'] }] });
  t.teardown(h.cleanup);
  const backoff = await h.waitFor('CrashLoopBackOff', (s) => s.containerStatuses[0]?.state.waiting?.reason === 'CrashLoopBackOff');
  const c = backoff.containerStatuses[0];
  t.equal(backoff.phase, 'Running');
  t.match(c?.lastState.terminated, { exitCode: 3, reason: 'Error' });
  t.match(c?.state.waiting?.message, /^back-off \d+ms restarting failed container=app pod=web-1_shop\(uid-1\)$/);
  await h.waitFor('restartCount 4', (s) => (s.containerStatuses[0]?.restartCount ?? 0) >= 4);
  const starts = h.events.filter((e) => e.reason === 'Started').map((e) => e.at);
  const gaps = starts.slice(1).map((at, i) => at - (starts[i] ?? 0));
  // Delays 0, 100, 200, 400 ms (doubling, capped), each after a run of a few ms.
  const want = [0, 100, 200, 400];
  gaps.slice(0, 4).forEach((g, i) => t.ok(g >= (want[i] ?? 0) - 5 && g < (want[i] ?? 0) + 1500, `gap ${i} = ${g} ms, want ≈ ${want[i]} ms`));
  t.ok(h.events.some((e) => e.reason === 'BackOff'));
  const logs = await collect(readLogs(path.join(h.ctx.logDir, 'app.log')));
  t.ok(logs.filter((l) => l === 'run').length >= 4, 'logs append across restarts');
});

t.test('OnFailure and Never', async (t) => {
  const ok = runPod({ restartPolicy: 'OnFailure', containers: [{ name: 'a', command: ['true'] }] });
  t.teardown(ok.cleanup);
  const s1 = await ok.waitFor('Succeeded', (s) => s.phase === 'Succeeded');
  t.equal(s1.containerStatuses[0]?.restartCount, 0);

  const bad = runPod({ restartPolicy: 'OnFailure', containers: [{ name: 'a', command: ['false'] }] });
  t.teardown(bad.cleanup);
  const s2 = await bad.waitFor('restarted', (s) => (s.containerStatuses[0]?.restartCount ?? 0) >= 2);
  t.equal(s2.phase, 'Running');

  const never = runPod({ restartPolicy: 'Never', containers: [{ name: 'a', command: ['sh', '-c', 'exit 7'] }] });
  t.teardown(never.cleanup);
  const s3 = await never.waitFor('Failed', (s) => s.phase === 'Failed');
  t.match(s3.containerStatuses[0], { restartCount: 0, state: { terminated: { exitCode: 7, reason: 'Error' } }, lastState: {} });
});

t.test('stop: SIGTERM first, SIGKILL after the grace period', async (t) => {
  const h = runPod({
    terminationGracePeriodSeconds: 6, // 300 ms at the test's time scale
    containers: [
      { name: 'stubborn', command: ['sh', '-c', 'trap "" TERM; echo up; while :; do sleep 0.05; done'] },
      { name: 'polite', command: ['sh', '-c', 'trap "echo bye; exit 0" TERM; echo up; while :; do sleep 0.05; done'] },
    ],
  });
  t.teardown(h.cleanup);
  await h.waitFor('both running', (s) => s.containerStatuses.every((c) => c.state.running));
  // Wait until both shells have installed their traps.
  const until = Date.now() + 10_000;
  const logged = async (name: string): Promise<boolean> => (await collect(readLogs(path.join(h.ctx.logDir, `${name}.log`)))).includes('up');
  while (!((await logged('stubborn')) && (await logged('polite'))) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  const pids = h.rt.pids();
  t.ok(pids.stubborn && pids.polite);
  const began = Date.now();
  await h.rt.stop();
  const took = Date.now() - began;
  t.ok(took >= 290, `stop waited for the grace period (${took} ms)`);
  t.ok(took < 5000, `and not much longer (${took} ms)`);
  const s = h.rt.status() as PodStatus;
  t.match(s.containerStatuses.find((c) => c.name === 'stubborn')?.state.terminated, { exitCode: 137, signal: 9, reason: 'Error' });
  t.match(s.containerStatuses.find((c) => c.name === 'polite')?.state.terminated, { exitCode: 0, reason: 'Completed' });
  t.ok((await gone(pids.stubborn?.pid ?? 0)) && (await gone(pids.polite?.pid ?? 0)), 'processes are gone');
  t.ok((await collect(readLogs(path.join(h.ctx.logDir, 'polite.log')))).includes('bye'));
  t.notOk(existsSync(h.rt.pidsFile()), 'pids.json removed after stop');
  const n = h.statuses.length;
  await new Promise((r) => setTimeout(r, 50));
  t.equal(h.statuses.length, n, 'no callbacks after stop');
});

t.test('the rest of the process group dies with the main process', async (t) => {
  const h = runPod({ restartPolicy: 'Never', containers: [{ name: 'a', command: ['sh', '-c', 'sleep 300 & echo $! ; sleep 0.2'] }] });
  t.teardown(h.cleanup);
  await h.waitFor('Succeeded', (s) => s.phase === 'Succeeded');
  const [bg] = await collect(readLogs(path.join(h.ctx.logDir, 'a.log')));
  t.ok(bg && (await gone(Number(bg))), `background child ${bg} was killed`);
});

t.test('pids.json lets a later run kill leftovers', async (t) => {
  const h = runPod({ restartPolicy: 'Never', containers: [{ name: 'a', command: ['sleep', '300'] }, { name: 'b', command: ['sleep', '300'] }] });
  t.teardown(h.cleanup);
  await h.waitFor('running', (s) => s.containerStatuses.every((c) => c.state.running));
  const file = h.rt.pidsFile();
  t.equal(file, path.join(h.dir, 'pids.json'));
  const rec = readPidsFile(file);
  t.equal(rec?.pod, 'shop/web-1');
  t.same(Object.keys(rec?.containers ?? {}).sort(), ['a', 'b']);
  t.ok(rec?.containers.a?.startTicks, 'start time recorded');
  const killed = killLeftovers(file);
  t.same(killed.sort(), Object.values(rec?.containers ?? {}).map((e) => e.pid).sort());
  const s = await h.waitFor('Failed', (s) => s.phase === 'Failed');
  t.equal(s.containerStatuses[0]?.state.terminated?.exitCode, 137);
  t.same(killLeftovers(file), [], 'nothing left to kill');
});

t.test('a second stop with a shorter grace period brings SIGKILL forward', async (t) => {
  const h = runPod({ terminationGracePeriodSeconds: 600, containers: [{ name: 'a', command: ['sh', '-c', 'trap "" TERM; echo up; while :; do sleep 0.05; done'] }] });
  t.teardown(h.cleanup);
  await h.waitFor('running', (s) => !!s.containerStatuses[0]?.state.running);
  const until = Date.now() + 10_000;
  while (!(await collect(readLogs(path.join(h.ctx.logDir, 'a.log')))).includes('up') && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  const began = Date.now();
  const first = h.rt.stop();
  await new Promise((r) => setTimeout(r, 100));
  t.ok(h.rt.status()?.containerStatuses[0]?.state.running, 'still running: TERM is ignored');
  await Promise.all([first, h.rt.stop(0)]);
  t.ok(Date.now() - began < 5000, 'did not wait the 30 s grace period');
  t.equal(h.rt.status()?.containerStatuses[0]?.state.terminated?.exitCode, 137);
});
