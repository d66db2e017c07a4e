import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { cond, runPod } from './testkit.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'ambit-probes-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An HTTP server that answers 200 while $FLAG exists, else 500. */
const SERVER = `require('http').createServer((q, s) => { s.statusCode = require('fs').existsSync(process.env.FLAG) ? 200 : 500; s.end(); }).listen(+process.env.PORT, '127.0.0.1');`;

t.test('httpGet readiness flips the Ready condition both ways', async (t) => {
  const port = await freePort();
  const flag = path.join(scratch, 'ready');
  const h = runPod({
    containers: [
      {
        name: 'web',
        command: [process.execPath, '-e', SERVER],
        env: [
          { name: 'PORT', value: String(port) },
          { name: 'FLAG', value: flag },
        ],
        ports: [{ name: 'http', containerPort: port }],
        readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1, timeoutSeconds: 20, failureThreshold: 1 },
      },
    ],
  });
  t.teardown(h.cleanup);
  const running = await h.waitFor('running', (s) => !!s.containerStatuses[0]?.state.running);
  t.equal(running.phase, 'Running');
  t.equal(cond(running, 'Ready'), 'False');
  await sleep(300);
  t.equal(cond(h.rt.status()!, 'Ready'), 'False', 'a 500 keeps the pod unready');
  writeFileSync(flag, '');
  const ready = await h.waitFor('Ready', (s) => cond(s, 'Ready') === 'True');
  t.equal(cond(ready, 'ContainersReady'), 'True');
  t.match(ready.containerStatuses[0], { ready: true, started: true, restartCount: 0 });
  rmSync(flag);
  const unready = await h.waitFor('unready again', (s) => cond(s, 'Ready') === 'False');
  t.match(unready.conditions.find((c) => c.type === 'Ready'), { reason: 'ContainersNotReady', message: 'containers with unready status: [web]' });
  t.ok(h.events.some((e) => e.reason === 'Unhealthy' && /^Readiness probe failed: HTTP probe failed with statuscode: 500$/.test(e.message)));
  t.equal(unready.containerStatuses[0]?.restartCount, 0, 'readiness never restarts');
});

t.test('liveness failure kills and restarts the container', async (t) => {
  const alive = path.join(scratch, 'alive');
  writeFileSync(alive, '');
  const h = runPod({
    containers: [
      {
        name: 'app',
        command: ['sleep', '300'],
        livenessProbe: { exec: { command: ['test', '-f', alive] }, periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 20 },
      },
    ],
  });
  t.teardown(h.cleanup);
  await h.waitFor('ready', (s) => cond(s, 'Ready') === 'True');
  await sleep(200);
  t.equal(h.rt.status()?.containerStatuses[0]?.restartCount, 0, 'passing liveness leaves it alone');
  rmSync(alive);
  const restarted = await h.waitFor('restart', (s) => s.containerStatuses[0]?.restartCount === 1 && !!s.containerStatuses[0]?.state.running);
  writeFileSync(alive, '');
  t.match(restarted.containerStatuses[0]?.lastState.terminated, { exitCode: 143, reason: 'Error' });
  t.ok(h.events.some((e) => e.reason === 'Killing' && e.message === 'Container app failed liveness probe, will be restarted'));
  t.ok(h.events.some((e) => e.reason === 'Unhealthy' && e.message.startsWith('Liveness probe failed')));
  await sleep(300);
  t.equal(h.rt.status()?.containerStatuses[0]?.restartCount, 1, 'healthy again after the restart');
});

t.test('startup probe gates started/ready; tcpSocket', async (t) => {
  const port = await freePort();
  const flag = path.join(scratch, 'always');
  writeFileSync(flag, '');
  const h = runPod({
    containers: [
      {
        name: 'slow',
        command: ['sh', '-c', `sleep 0.4; exec "${process.execPath}" -e "$SERVER"`],
        env: [
          { name: 'PORT', value: String(port) },
          { name: 'FLAG', value: flag },
          { name: 'SERVER', value: SERVER },
        ],
        startupProbe: { tcpSocket: { port }, periodSeconds: 1, failureThreshold: 100, timeoutSeconds: 20 },
      },
    ],
  });
  t.teardown(h.cleanup);
  const early = await h.waitFor('running', (s) => !!s.containerStatuses[0]?.state.running);
  t.match(early.containerStatuses[0], { started: false, ready: false });
  t.equal(early.phase, 'Running');
  const ready = await h.waitFor('started', (s) => !!s.containerStatuses[0]?.started);
  t.match(ready.containerStatuses[0], { started: true, ready: true });
  t.equal(cond(ready, 'Ready'), 'True');
});

t.test('startup failure with restartPolicy Never fails the pod', async (t) => {
  const h = runPod({
    restartPolicy: 'Never',
    terminationGracePeriodSeconds: 2,
    containers: [{ name: 'app', command: ['sleep', '300'], startupProbe: { exec: { command: ['false'] }, periodSeconds: 1, failureThreshold: 2 } }],
  });
  t.teardown(h.cleanup);
  const s = await h.waitFor('Failed', (s) => s.phase === 'Failed');
  t.match(s.containerStatuses[0], { restartCount: 0, started: false, state: { terminated: { exitCode: 143 } } });
  t.ok(h.events.some((e) => e.message === 'Container app failed startup probe, will be restarted'));
});
