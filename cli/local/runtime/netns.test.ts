// The one test in real network namespaces: a container started with `ip netns exec`, probed from
// a "node" namespace through connectInNetns, as in the local cluster.
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { exec } from '../../../lib/sys/exec.js';
import { delNetns, netnsPath } from '../../../lib/sys/netns.js';
import { addTestNetns } from '../../../lib/sys/testkit.js';
import { readLogs } from './logs.js';
import { nodeDial } from './dial.js';
import { PodRuntime } from './runtime.js';
import type { PodStatus } from './types.js';

if (process.getuid?.() !== 0) {
  t.fail('this test needs root (it creates network namespaces); run it as root');
  process.exit(1);
}

const id = process.pid;
const nodeNs = `trtn${id}`;
const podNs = `trtp${id}`;
const nodeIf = `trn${id}`;
const podIf = `trp${id}`;
const net3 = `10.253.${id % 250}`;
const podIP = `${net3}.2`;
const port = 18080;
const etcDir = `/etc/netns/${podNs}`;
const dir = mkdtempSync(path.join(tmpdir(), 'ambit-rt-netns-'));

t.teardown(async () => {
  await delNetns(podNs);
  await delNetns(nodeNs);
  rmSync(etcDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

t.test('a container runs inside its pod namespace and is probed from the node', async (t) => {
  await addTestNetns(nodeNs);
  await addTestNetns(podNs);
  await exec('ip', ['-n', nodeNs, 'link', 'add', nodeIf, 'type', 'veth', 'peer', 'name', podIf, 'netns', podNs]);
  await exec('ip', ['-n', nodeNs, 'addr', 'add', `${net3}.1/30`, 'dev', nodeIf]);
  await exec('ip', ['-n', nodeNs, 'link', 'set', nodeIf, 'up']);
  await exec('ip', ['-n', podNs, 'addr', 'add', `${podIP}/30`, 'dev', podIf]);
  await exec('ip', ['-n', podNs, 'link', 'set', podIf, 'up']);
  mkdirSync(etcDir, { recursive: true });
  writeFileSync(path.join(etcDir, 'resolv.conf'), 'nameserver 10.96.0.10\nsearch shop.svc.cluster.local\n');

  const statuses: PodStatus[] = [];
  const rt = new PodRuntime({
    dial: nodeDial(nodeNs),
    secondMs: 100,
  });
  t.teardown(() => rt.stop(0));
  const server = `require('http').createServer((q, s) => s.end('ok')).listen(+process.env.PORT, '0.0.0.0')`;
  rt.start(
    {
      containers: [
        {
          name: 'web',
          command: ['sh', '-c', 'cat /etc/resolv.conf; exec "$NODE" -e "$SERVER"'],
          env: [
            { name: 'PORT', value: String(port) },
            { name: 'NODE', value: process.execPath },
            { name: 'SERVER', value: server },
          ],
          ports: [{ name: 'http', containerPort: port }],
          readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1, timeoutSeconds: 10 },
          livenessProbe: { exec: { command: ['ip', 'link', 'show', podIf] }, periodSeconds: 1, timeoutSeconds: 10, failureThreshold: 1 },
        },
      ],
    },
    { netns: podNs, podName: 'web-1', namespace: 'shop', podIP, logDir: path.join(dir, 'logs') },
    (s) => statuses.push(s),
  );

  const until = Date.now() + 20_000;
  while (!statuses.at(-1)?.conditions.some((c) => c.type === 'Ready' && c.status === 'True') && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const s = statuses.at(-1);
  t.equal(s?.conditions.find((c) => c.type === 'Ready')?.status, 'True', `Ready via httpGet from ${nodeNs}: ${JSON.stringify(s?.containerStatuses)}`);

  const pid = rt.pids().web?.pid ?? 0;
  t.ok(pid > 0);
  t.equal(readlinkSync(`/proc/${pid}/ns/net`), `net:[${statSync(netnsPath(podNs)).ino}]`, 'the process lives in the pod namespace');

  await new Promise((r) => setTimeout(r, 500));
  t.equal(rt.status()?.containerStatuses[0]?.restartCount, 0, 'the exec liveness probe passes inside the namespace');

  const logs: string[] = [];
  for await (const l of readLogs(path.join(dir, 'logs', 'web.log'))) logs.push(l);
  t.ok(logs.includes('nameserver 10.96.0.10'), 'ip netns exec put the pod resolv.conf in place');

  await rt.stop(1);
  t.match(rt.status()?.containerStatuses[0]?.state.terminated, { signal: 15 });
});
