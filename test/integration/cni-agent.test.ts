// `ambit cni-agent` in process, in real network namespaces: a File store with Namespace and Pod
// objects, the real ambit-cni binary for CNI ADD/DEL, the real rules (iptables or nft) and probe
// SNAT (in a "node" namespace), and a fake ztunnel (lib/zds ZdsClient) that acks or nacks.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exec } from '../../lib/sys/exec.js';
import { delNetns, listNetns, netnsPath } from '../../lib/sys/netns.js';
import { addTestNetns } from '../../lib/sys/testkit.js';
import { NAMESPACE, POD, type Pod } from '../../lib/k8s/types.js';
import { openStore } from '../../lib/store/index.js';
import { silentLogger } from '../../lib/telemetry/log.js';
import { ZdsClient, type ZdsHandler } from '../../lib/zds/index.js';
import { startCniAgent, type CniAgent } from '../../cni/app.js';
import { resolveConfig } from '../../cni/config.js';
import { PodRedirector } from '../../cni/agent/rules/redirect.js';
import { pluginMain } from '../../lib/cni-plugin/install.js';

if (process.getuid?.() !== 0) throw new Error('test/integration/cni-agent creates network namespaces and iptables rules: run it as root (iproute2, iptables or nftables, ipset)');

const prefix = `tca${process.pid}`;
const dir = await mkdtemp(path.join(tmpdir(), `${prefix}-`));
const store = openStore(path.join(dir, 'store'));
const clients: ZdsClient[] = [];
let agent: CniAgent | undefined;
t.teardown(async () => {
  for (const c of clients) await c.close();
  await agent?.close();
  await store.close();
  for (const ns of listNetns(prefix)) await delNetns(ns);
  await rm(dir, { recursive: true, force: true });
});

const nodeNs = `${prefix}n`;
await addTestNetns(nodeNs);
const config = resolveConfig({
  node: 'node-1', stateDir: dir, cniSocket: path.join(dir, 'cni.sock'), zdsSocket: path.join(dir, 'zds.sock'),
  metricsAddress: '127.0.0.1:0', nodeNetns: nodeNs, excludeNamespaces: 'kube-system',
  // e.g. AMBIT_TEST_CNI_BACKEND=nft runs the same scenarios on native nftables.
  ...(process.env.AMBIT_TEST_CNI_BACKEND === 'nft' ? { redirectBackend: 'nft', probeBackend: 'nft' } : {}),
});
const start = async (): Promise<CniAgent> => (agent = await startCniAgent(config, { logger: silentLogger(), defaultMetrics: false }));
const redirector = new PodRedirector({ backend: config.redirectBackend });

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// --- a fake ztunnel: records what it is told, per connection ---
interface Ztunnel {
  client: ZdsClient;
  log: string[];
  /** The adds of each snapshot received, by connection. */
  snapshots: string[][];
}

function ztunnel(mode: 'ack' | 'nack' = 'ack'): Ztunnel {
  const z: Ztunnel = { log: [], snapshots: [], client: undefined as unknown as ZdsClient };
  let current: string[] = [];
  const handler: ZdsHandler = {
    onAdd: (w, netns) => {
      if (mode === 'nack') throw new Error(`cannot open ${netns}`);
      z.log.push(`add ${w.namespace}/${w.name}`);
      current.push(`${w.namespace}/${w.name} ${netns}`);
    },
    onKeep: (uid) => void z.log.push(`keep ${uid}`),
    onDel: (uid) => void z.log.push(`del ${uid}`),
    onSnapshotSent: () => {
      z.snapshots.push(current.sort());
      current = [];
    },
  };
  z.client = new ZdsClient({ socketPath: config.zdsSocket, handler, backoff: { initialMs: 10, maxMs: 200, multiplier: 2, jitter: 0 } });
  z.client.on('connected', () => (current = []));
  z.client.start();
  clients.push(z.client);
  return z;
}

// --- cluster objects and pod namespaces ---
async function label(ns: string, labels: Record<string, string>): Promise<void> {
  await store.apply({ ...NAMESPACE, metadata: { name: ns, labels } });
}

interface TestPod {
  ns: string;
  name: string;
  uid: string;
  netns: string;
  path: string;
  ip: string;
}

let podIndex = 0;
/** A Pod object on node-1 and its network namespace; `running` adds what the kubelet writes once the network is up. */
async function pod(ns: string, name: string, o: { running?: boolean; labels?: Record<string, string> } = {}): Promise<TestPod> {
  const netns = `${prefix}p${++podIndex}`;
  await addTestNetns(netns);
  const ip = `10.244.1.${10 + podIndex}`;
  const p = await store.create<Pod>({
    ...POD,
    metadata: { namespace: ns, name, labels: o.labels ?? {}, annotations: o.running ? { 'ambit.dev/netns': netns } : {} },
    spec: { nodeName: 'node-1', containers: [{ name: 'app' }] },
    ...(o.running ? { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } } : {}),
  });
  return { ns, name, uid: p.metadata.uid!, netns, path: netnsPath(netns), ip };
}

async function annotation(p: TestPod): Promise<string | undefined> {
  return (await store.get<Pod>({ ...POD, namespace: p.ns, name: p.name }))?.metadata.annotations?.['ambient.istio.io/redirection'];
}

const rules = async (p: TestPod): Promise<string> => (await redirector.check(p.path)).state;

// --- the real plugin binary ---
interface PluginRun {
  code: number;
  out: Record<string, unknown>;
  ms: number;
}

async function plugin(command: 'ADD' | 'DEL', p: TestPod): Promise<PluginRun> {
  const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: p.path }], ips: [{ address: `${p.ip}/24`, gateway: '10.244.1.1', interface: 0 }] };
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'ambit', type: 'ambit-cni', agentSocket: config.cniSocket, timeoutSeconds: 10, excludeNamespaces: ['kube-system'], prevResult });
  const env = {
    PATH: process.env.PATH ?? '', CNI_COMMAND: command, CNI_CONTAINERID: `c-${p.netns}`, CNI_NETNS: p.path, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${p.ns};K8S_POD_NAME=${p.name};K8S_POD_UID=${p.uid}`,
  };
  const t0 = performance.now();
  const r = await exec(process.execPath, [pluginMain()], { input: stdin, env, allowFail: true, timeoutMs: 30_000 });
  const ms = performance.now() - t0;
  if (command === 'ADD' && r.code === 0) {
    // What the local cluster's kubelet writes once the pod's network is up.
    await store.patch({ ...POD, namespace: p.ns, name: p.name }, {
      metadata: { annotations: { 'ambit.dev/netns': p.netns } }, status: { phase: 'Running', podIP: p.ip, podIPs: [{ ip: p.ip }] },
    });
  }
  return { code: r.code, out: r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : {}, ms };
}

async function httpGet(p: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${agent!.metricsPort}${p}`);
  return { status: r.status, body: await r.text() };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

// ================================================================================================

await label('mesh', { 'istio.io/dataplane-mode': 'ambient' });
await label('plain', {});
await label('later', {});
await start();
let zt = ztunnel();
await waitFor('ztunnel connected', () => agent!.zds.status().some((s) => s.state === 'live'));

const web: TestPod[] = [];

t.test('CNI ADD through the real plugin', async (t) => {
  t.equal((await httpGet('/readyz')).status, 200, 'ready once listed, listening, probe SNAT set up');
  const addMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const p = await pod('mesh', `web-${i}`);
    const r = await plugin('ADD', p);
    t.equal(r.code, 0, `ADD web-${i} succeeds`);
    addMs.push(r.ms);
    web.push(p);
  }
  const w = web[0]!;
  t.match(zt.log, ['add mesh/web-0'], 'ztunnel got the Add');
  t.equal(await rules(w), 'present', 'the redirection is in the pod netns');
  t.equal(await annotation(w), 'enabled');
  const ips = (await exec('ip', ['netns', 'exec', nodeNs, 'sh', '-c', 'ipset list -o save 2>/dev/null; nft list ruleset 2>/dev/null'])).stdout;
  t.match(ips, w.ip, 'probe SNAT knows the pod address (in the node namespace)');

  const plain = await pod('plain', 'db-0');
  const rp = await plugin('ADD', plain);
  t.equal(rp.code, 0, 'a pod outside the mesh: ADD succeeds');
  t.match(rp.out, { cniVersion: '1.0.0', ips: [{ address: `${plain.ip}/24` }] }, 'and prints prevResult');
  t.equal(await rules(plain), 'absent', 'no rules');
  t.equal(await annotation(plain), undefined);
  t.notMatch(zt.log.join(' '), 'db-0', 'ztunnel not told');

  t.equal(agent!.agent.list().length, 5);
  const h = await agent!.metrics.enrolSeconds.get();
  const agentSide = (h.values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? NaN) / 5 * 1000;
  t.comment(`enrol via plugin: median ${median(addMs).toFixed(0)} ms per pod (process start + agent), agent side mean ${agentSide.toFixed(0)} ms; non-mesh ADD ${rp.ms.toFixed(0)} ms`);
});

t.test('ztunnel absent or refusing: ADD fails, nothing left behind', async (t) => {
  await zt.client.close();
  await waitFor('ztunnel gone', () => agent!.zds.status().length === 0);
  const p = await pod('mesh', 'late-0');
  const r = await plugin('ADD', p);
  t.equal(r.code, 1);
  t.match(r.out, { code: 11, msg: /cannot enrol pod mesh\/late-0 in ambient: the node agent says: ztunnel did not take pod mesh\/late-0: no ztunnel is connected to .*; is ztunnel running on this node\?/ });
  t.equal(await rules(p), 'absent', 'rules undone');
  t.equal(await annotation(p), undefined, 'no annotation');

  const nack = ztunnel('nack');
  await waitFor('nacking ztunnel connected', () => agent!.zds.status().some((s) => s.state === 'live'));
  const r2 = await plugin('ADD', p);
  t.match(r2.out, { code: 11, msg: /ztunnel refused add .*cannot open/ }, 'a NACK fails ADD too');
  t.equal(await rules(p), 'absent');
  await nack.client.close();
  await waitFor('nacking ztunnel gone', () => agent!.zds.status().length === 0);

  const failures = await agent!.metrics.text();
  t.match(failures, /ambit_cni_enrol_failures_total\{operation="enrol",reason="ztunnel-not-connected"\} 1/);
  t.match(failures, /ambit_cni_enrol_failures_total\{operation="enrol",reason="ztunnel-nack"\} 1/);

  zt = ztunnel();
  await waitFor('snapshot on reconnect', () => zt.snapshots.length === 1);
  t.same(zt.snapshots[0], web.map((w) => `mesh/${w.name} ${w.path}`).sort(), 'a reconnecting ztunnel gets every enrolled pod');
  t.equal((await plugin('ADD', p)).code, 0, 'with ztunnel back, ADD succeeds');
  web.push(p);
});

const later: TestPod[] = [];

t.test('live enrolment by namespace label', async (t) => {
  later.push(await pod('later', 'app-0', { running: true }), await pod('later', 'app-1', { running: true }));
  const out = await pod('later', 'out-0', { running: true, labels: { 'istio.io/dataplane-mode': 'none' } });
  await label('later', { 'istio.io/dataplane-mode': 'ambient' });
  await waitFor('running pods enrolled', async () => (await annotation(later[0]!)) === 'enabled' && (await annotation(later[1]!)) === 'enabled');
  t.equal(await rules(later[0]!), 'present', 'rules in the running pod, no restart');
  t.ok(zt.log.includes('add later/app-0'), 'ztunnel told');
  t.ok(zt.log.includes('add later/app-1'));
  t.equal(await rules(out), 'absent', 'the =none pod stays out');
  t.equal(await annotation(out), undefined);

  await label('later', {});
  await waitFor('unenrolled', async () => (await annotation(later[0]!)) === undefined && (await annotation(later[1]!)) === undefined);
  t.equal(await rules(later[0]!), 'absent', 'rules removed');
  t.ok(zt.log.includes(`del ${later[0]!.uid}`), 'Del sent');
  await label('later', { 'istio.io/dataplane-mode': 'ambient' });
  await waitFor('enrolled again', async () => (await annotation(later[0]!)) === 'enabled' && (await annotation(later[1]!)) === 'enabled');
});

t.test('agent restart: rules stay, a pod whose rules were deleted is repaired, snapshot re-sent', async (t) => {
  const before = agent!.agent.list().map((p) => p.key).sort();
  await agent!.close();
  agent = undefined;
  t.equal(await rules(web[0]!), 'present', 'SIGTERM-style close leaves the rules');
  await redirector.remove(web[1]!.path);
  const snapshots = zt.snapshots.length;
  await start();
  t.same(agent!.recovery.repaired, ['mesh/web-1'], 'the pod without rules was re-applied');
  t.equal(await rules(web[1]!), 'present');
  t.same(agent!.agent.list().map((p) => p.key).sort(), before, 'the same pods are enrolled');
  await waitFor('snapshot after agent restart', () => zt.snapshots.length > snapshots);
  t.same(zt.snapshots.at(-1), [...web, ...later].map((p) => `${p.ns}/${p.name} ${p.path}`).sort(), 'ztunnel got all of them again');
  t.match((await httpGet('/metrics')).body, /ambit_cni_pods_repaired_total 1/);
});

t.test('ztunnel restart gets the snapshot; pods that go are cleaned up', async (t) => {
  await zt.client.close();
  zt = ztunnel();
  await waitFor('snapshot', () => zt.snapshots.length === 1);
  t.equal(zt.snapshots[0]!.length, web.length + later.length);

  const gone = later[1]!;
  await store.delete({ ...POD, namespace: gone.ns, name: gone.name });
  await waitFor('deleted pod unenrolled', () => zt.log.includes(`del ${gone.uid}`));
  t.equal(await rules(gone), 'absent');

  const w = web[0]!;
  t.equal((await plugin('DEL', w)).code, 0, 'CNI DEL');
  t.equal(await rules(w), 'absent', 'DEL removed the rules');
  t.ok(zt.log.includes(`del ${w.uid}`));
  t.equal(await annotation(w), undefined);
  const m = (await httpGet('/metrics')).body;
  t.match(m, new RegExp(`ambit_cni_enrolled_pods\\{state="enabled"\\} ${web.length + later.length - 2}`));
});
