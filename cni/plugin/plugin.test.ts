// The real plugin binary (dist/cni/plugin/main.js) against a fake node agent on a Unix socket.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { exec } from '../../lib/sys/exec.js';
import { NAMESPACE, POD } from '../../lib/k8s/types.js';
import { openStore } from '../../lib/store/index.js';
import { startEventServer, type EventServer } from './server.js';
import { pluginMain } from '../../lib/cni-plugin/install.js';
import { runPlugin, type AgentCall } from './plugin.js';
import type { AddReply, CheckReply, PodEvent } from './protocol.js';

const dir = await mkdtemp(path.join(tmpdir(), `ambit-cni-${process.pid}-`));
const socket = path.join(dir, 'agent.sock');
t.teardown(() => rm(dir, { recursive: true, force: true }));

interface Fake {
  server: EventServer;
  events: { kind: string; ev?: PodEvent }[];
}

/** A fake agent: pods in namespace `mesh` are enrolled, `broken` ones fail, the rest are not in ambient. */
async function fakeAgent(ready = true): Promise<Fake> {
  const events: Fake['events'] = [];
  const server = await startEventServer(socket, {
    add: async (ev): Promise<AddReply> => {
      events.push({ kind: 'add', ev });
      if (ev.podName === 'broken') return { status: 'failed', message: 'iptables-restore failed in the pod', retryable: false };
      if (ev.podName === 'later') return { status: 'failed', message: 'ztunnel has not acknowledged the pod', retryable: true };
      return { status: ev.podNamespace === 'mesh' ? 'enrolled' : 'not-enrolled' };
    },
    del: async (ev) => void events.push({ kind: 'del', ev }),
    check: async (ev): Promise<CheckReply> => {
      events.push({ kind: 'check', ev });
      return ev.podName === 'broken' ? { status: 'broken', message: 'nat ISTIO_OUTPUT missing' } : { status: 'enrolled' };
    },
    status: async () => (ready ? { ready: true } : { ready: false, message: 'ztunnel not connected' }),
  });
  return { server, events };
}

const PREV = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/p1' }], ips: [{ address: '10.244.1.5/24', gateway: '10.244.1.1', interface: 0 }] };

function conf(over: Record<string, unknown> = {}): string {
  return JSON.stringify({ cniVersion: '1.0.0', name: 'ambit', type: 'ambit-cni', agentSocket: socket, timeoutSeconds: 5, prevResult: PREV, ...over });
}

function env(command: string, ns = 'mesh', name = 'web-1', over: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    CNI_COMMAND: command, CNI_CONTAINERID: 'c0ffee', CNI_NETNS: '/var/run/netns/p1', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${name};K8S_POD_UID=uid-${name}`,
    ...over,
  };
}

interface Run {
  code: number;
  out: Record<string, unknown>;
  raw: string;
}

async function run(e: Record<string, string>, stdin: string): Promise<Run> {
  const r = await exec(pluginMain(), [], { env: e, input: stdin, allowFail: true, timeoutMs: 30_000 });
  return { code: r.code, raw: r.stdout, out: r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : {} };
}

t.test('with the agent up', async (t) => {
  const fake = await fakeAgent();
  t.teardown(() => fake.server.close());

  const enrolled = await run(env('ADD'), conf());
  t.equal(enrolled.code, 0, 'ADD of an enrolled pod succeeds');
  t.same(enrolled.out, PREV, 'and prints prevResult through');
  t.same(fake.events[0], { kind: 'add', ev: {
    podName: 'web-1', podNamespace: 'mesh', podUid: 'uid-web-1', netns: '/var/run/netns/p1', containerId: 'c0ffee', ifname: 'eth0',
    ips: [{ address: '10.244.1.5/24', gateway: '10.244.1.1', interface: 'eth0' }],
  } }, 'the agent got the pod, its netns and its IPs from prevResult');

  const plain = await run(env('ADD', 'default'), conf());
  t.equal(plain.code, 0, 'a pod the agent says is not in ambient passes through');
  t.same(plain.out, PREV);

  const old = await run(env('ADD'), conf({ cniVersion: '0.4.0', prevResult: { ...PREV, cniVersion: '0.4.0' } }));
  t.same(old.out.ips, [{ address: '10.244.1.5/24', gateway: '10.244.1.1', interface: 0, version: '4' }], 'a 0.4.0 config gets a 0.4.0 result');
  t.equal(old.out.cniVersion, '0.4.0');

  const refused = await run(env('ADD', 'mesh', 'broken'), conf());
  t.equal(refused.code, 1);
  t.same(refused.out, { cniVersion: '1.0.0', code: 100, msg: 'ambit-cni: cannot enrol pod mesh/broken in ambient: the node agent says: iptables-restore failed in the pod' });
  const later = await run(env('ADD', 'mesh', 'later'), conf());
  t.equal(later.out.code, 11, 'a retryable failure is "try again later"');

  t.equal((await run(env('CHECK'), conf())).code, 0, 'CHECK of an enrolled pod with rules in place');
  const broken = await run(env('CHECK', 'mesh', 'broken'), conf());
  t.same([broken.code, broken.out.code], [1, 102], 'CHECK reports broken redirection');
  t.match(broken.out.msg, /nat ISTIO_OUTPUT missing/);

  t.equal((await run(env('STATUS'), conf({ cniVersion: '1.1.0' }))).code, 0, 'STATUS: agent answers');
  t.equal((await run(env('GC'), conf({ cniVersion: '1.1.0' }))).code, 0, 'GC: nothing to collect');

  const n = fake.events.length;
  const del = await run(env('DEL'), conf());
  t.same([del.code, del.raw], [0, ''], 'DEL succeeds silently');
  t.equal(fake.events[n]?.kind, 'del', 'and tells the agent');

  const excluded = await run(env('ADD', 'kube-system'), conf());
  t.same([excluded.code, excluded.out], [0, PREV], 'excluded namespace passes through');
  t.equal(fake.events.length, n + 1, 'without asking the agent');
});

t.test('with the agent down', async (t) => {
  const add = await run(env('ADD', 'demo', 'web-1'), conf());
  t.equal(add.code, 1, 'ADD fails');
  t.equal(add.out.code, 11);
  t.equal(add.out.msg, `ambit-cni: cannot enrol pod demo/web-1 in ambient: node agent at ${socket} is not reachable (ENOENT); is the ambit cni-agent running on this node?`, 'the error names the pod and the socket');
  const del = await run(env('DEL'), conf());
  t.same([del.code, del.raw], [0, ''], 'DEL still succeeds');
  const status = await run(env('STATUS'), conf({ cniVersion: '1.1.0' }));
  t.same([status.code, status.out.code, status.out.msg], [1, 50, 'agent not ready']);
  t.equal((await run(env('ADD', 'kube-system'), conf())).code, 0, 'an excluded pod does not need the agent');
  const noK8s = await run(env('ADD', '', '', { CNI_ARGS: 'IgnoreUnknown=1' }), conf());
  t.same([noK8s.code, noK8s.out], [0, PREV], 'a sandbox that is not a Kubernetes pod passes through');
});

t.test('with the agent down, the plugin judges the pod itself from the File store', async (t) => {
  const storeDir = path.join(dir, 'store');
  const store = openStore(storeDir);
  t.teardown(() => store.close());
  const AMBIENT = { 'istio.io/dataplane-mode': 'ambient' };
  await store.create({ ...NAMESPACE, metadata: { name: 'plain' } });
  await store.create({ ...NAMESPACE, metadata: { name: 'mesh', labels: AMBIENT } });
  const uids = new Map<string, string>();
  const pod = async (namespace: string, name: string, labels: Record<string, string> = {}) => {
    const p = await store.create({ ...POD, metadata: { namespace, name, labels }, spec: { nodeName: 'node-1', containers: [{ name: 'app' }] } });
    uids.set(`${namespace}/${name}`, (p.metadata as { uid?: string }).uid ?? '');
  };
  const args = (ns: string, name: string, uid = uids.get(`${ns}/${name}`) ?? 'none') => ({ CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${name};K8S_POD_UID=${uid}` });
  await pod('plain', 'web-1');
  await pod('mesh', 'web-1');
  await pod('mesh', 'opted-out', { 'istio.io/dataplane-mode': 'none' });
  await pod('plain', 'labelled', AMBIENT);
  const down = `node agent at ${socket} is not reachable (ENOENT); is the ambit cni-agent running on this node?`;
  const add = async (ns: string, name: string, over: Record<string, unknown> = {}) => {
    const lines: string[] = [];
    // The real agent client against a socket nobody listens on.
    const r = await runPlugin({ env: env('ADD', ns, name, args(ns, name)), stdin: conf({ storeDir, ...over }), write: (l) => lines.push(l) });
    return { code: r.exitCode, out: r.stdout ? (JSON.parse(r.stdout) as Record<string, unknown>) : {}, logs: lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
  };

  const plain = await add('plain', 'web-1');
  t.same([plain.code, plain.out], [0, PREV], 'a pod in a plain namespace starts, prevResult passed through');
  t.same(plain.logs.map((l) => [l.level, l.msg, l.pod, l.agent, l.reason]), [[
    'warn', 'node agent down; pod judged outside the mesh, passing through', 'plain/web-1', `node agent at ${socket} is not reachable (ENOENT)`,
    'neither the pod nor namespace plain has istio.io/dataplane-mode=ambient',
  ]], 'one warn line says the agent was down and why the pod is outside the mesh');

  const mesh = await add('mesh', 'web-1');
  t.same([mesh.code, mesh.out], [1, { cniVersion: '1.0.0', code: 11, msg: `ambit-cni: cannot enrol pod mesh/web-1 in ambient: ${down} The pod is in the mesh (namespace mesh has istio.io/dataplane-mode=ambient), so it waits for the agent` }], 'a pod in an ambient namespace fails closed');

  const optedOut = await add('mesh', 'opted-out');
  t.same([optedOut.code, optedOut.out], [0, PREV], 'ambient namespace, pod labelled dataplane-mode=none: starts');
  t.match(optedOut.logs[0], { level: 'warn', reason: 'pod label istio.io/dataplane-mode=none' });

  const labelled = await add('plain', 'labelled');
  t.same([labelled.code, labelled.out.code], [1, 11], 'pod label ambient in a plain namespace fails closed');
  t.match(labelled.out.msg, /The pod is in the mesh \(pod label istio.io\/dataplane-mode=ambient\)/);

  const missing = await add('plain', 'ghost');
  t.same([missing.code, missing.out.code], [1, 11], 'a pod missing from the store fails closed');
  t.match(missing.out.msg, /^ambit-cni: cannot enrol pod plain\/ghost in ambient: .*The plugin could not judge the pod itself: pod plain\/ghost is not in the cluster store$/);

  const r = await runPlugin({ env: env('ADD', 'plain', 'web-1', args('plain', 'web-1', 'other')), stdin: conf({ storeDir }), write: () => undefined });
  t.match(JSON.parse(r.stdout), { code: 11, msg: new RegExp(`has uid ${uids.get('plain/web-1')}, not other \\(CNI_ARGS\\)`) }, 'a pod of the same name but another uid is not judged');

  const noDir = await add('plain', 'web-1', { storeDir: path.join(dir, 'nowhere') });
  t.match(noDir.out, { code: 11, msg: /the File store .*nowhere \(storeDir\) does not exist/ }, 'a missing store fails closed, naming the field');
  const noStore = await add('plain', 'web-1', { storeDir: undefined });
  t.same(noStore.out, { cniVersion: '1.0.0', code: 11, msg: `ambit-cni: cannot enrol pod plain/web-1 in ambient: ${down}` }, 'without storeDir, every pod waits for the agent as before');

  const boom = await runPlugin({ env: env('ADD', 'plain', 'web-1', args('plain', 'web-1')), stdin: conf({ storeDir }), agent: async () => { throw new Error('boom'); } });
  t.match(JSON.parse(boom.stdout), { code: 11, msg: /boom; is the ambit cni-agent running on this node\?$/ }, 'only an unreachable agent makes the plugin judge: other failures fail closed');

  // An agent that accepts the connection but never answers: the timeout counts as unreachable too.
  const silentSocket = path.join(dir, 'silent.sock');
  const held: net.Socket[] = [];
  const silent = net.createServer((c) => void held.push(c));
  await new Promise<void>((resolve) => silent.listen(silentSocket, resolve));
  const hung = await add('plain', 'web-1', { agentSocket: silentSocket, timeoutSeconds: 0.3 });
  for (const c of held) c.destroy();
  silent.close();
  t.same([hung.code, hung.out], [0, PREV], 'an agent that does not answer in time: a pod outside the mesh starts');
  t.match(hung.logs[0], { level: 'warn', agent: `node agent at ${silentSocket} is not reachable (no answer within 0.3 s)` });

  const binary = await run(env('ADD', 'plain', 'web-1', args('plain', 'web-1')), conf({ storeDir }));
  t.same([binary.code, binary.out], [0, PREV], 'the real binary does the same');
});

t.test('agent up but not ready: STATUS says so', async (t) => {
  const fake = await fakeAgent(false);
  t.teardown(() => fake.server.close());
  const status = await run(env('STATUS'), conf({ cniVersion: '1.1.0' }));
  t.same(status.out, { cniVersion: '1.1.0', code: 50, msg: 'agent not ready', details: 'ztunnel not connected' });
});

t.test('spec errors: code and exit status, nothing sent', async (t) => {
  const cases: [string, Record<string, string>, string, number][] = [
    ['malformed stdin', env('ADD'), '{not json', 6],
    ['unknown command', env('FROB'), conf(), 4],
    ['missing CNI_NETNS on ADD', env('ADD', 'mesh', 'web-1', { CNI_NETNS: '' }), conf(), 4],
    ['old cniVersion', env('ADD'), conf({ cniVersion: '0.2.0' }), 1],
    ['STATUS with a 1.0.0 config', env('STATUS'), conf(), 1],
    ['bad field', env('ADD'), conf({ timeoutSeconds: 'soon' }), 7],
    ['no prevResult', env('ADD'), conf({ prevResult: undefined }), 7],
  ];
  for (const [what, e, stdin, code] of cases) {
    const r = await run(e, stdin);
    t.equal(r.code, 1, `${what}: exit 1`);
    t.equal(r.out.code, code, `${what}: code ${code}`);
    t.type(r.out.msg, 'string');
  }
  const v = await run({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
  t.same(v, { code: 0, raw: v.raw, out: { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] } }, 'VERSION');
});

t.test('in process: unexpected agent answers', async (t) => {
  const answer = (status: number, body: unknown): AgentCall => async () => ({ status, body });
  const r1 = await runPlugin({ env: env('ADD'), stdin: conf(), agent: answer(200, 'ok') });
  t.same([r1.exitCode, JSON.parse(r1.stdout).code], [1, 101], 'an answer without a status is a protocol error');
  const r2 = await runPlugin({ env: env('ADD'), stdin: conf(), agent: answer(200, { status: 'maybe' }) });
  t.equal(JSON.parse(r2.stdout).code, 101);
  const lines: string[] = [];
  const r3 = await runPlugin({ env: env('DEL'), stdin: conf({ logLevel: 'warn' }), agent: answer(500, {}), write: (l) => lines.push(l) });
  t.same([r3.exitCode, r3.stdout], [0, ''], 'DEL succeeds even when the agent fails');
  t.match(JSON.parse(lines[0] ?? '{}'), { level: 'warn', component: 'ambit-cni', msg: 'node agent did not accept DEL', pod: 'mesh/web-1' }, 'and logs it');
  const thrown = await runPlugin({ env: env('ADD'), stdin: conf(), agent: async () => { throw new Error('boom'); } });
  t.match(JSON.parse(thrown.stdout), { code: 11, msg: /boom/ });
});

t.test('start-up cost: ADD of a pod in an excluded namespace', async (t) => {
  const ms: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    const r = await run(env('ADD', 'kube-system'), conf());
    ms.push(performance.now() - t0);
    t.equal(r.code, 0);
  }
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)]!;
  // A figure, not a check: timing belongs in benchmarks (a loaded machine made this flaky).
  t.comment(`ADD (excluded namespace) end to end: median ${median.toFixed(1)} ms, min ${ms[0]!.toFixed(1)} ms over ${ms.length} runs`);
});
