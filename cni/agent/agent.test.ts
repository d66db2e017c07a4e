// The agent's logic over a real File store with fake rules, probe set and ztunnel (no root): CNI
// ADD/DEL/CHECK, failures undone, live enrolment, restart recovery. Real netns: test/integration.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NAMESPACE, POD, type Namespace, type Pod } from '../../lib/k8s/types.js';
import { openStore } from '../../lib/store/index.js';
import type { ClusterStore } from '../../lib/store/types.js';
import { createLogger, silentLogger } from '../../lib/telemetry/log.js';
import type { PodEvent } from '../plugin/protocol.js';
import { NodeAgent } from './agent.js';
import { PodController } from './controller.js';
import { cniHandlers } from './events.js';
import { FakeProbe, FakeRedirector, FakeZds } from './testkit.js';
import { AgentMetrics } from './metrics.js';

const dir = mkdtempSync(path.join(tmpdir(), `ambit-cniagent-${process.pid}-`));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Bed {
  store: ClusterStore;
  redirector: FakeRedirector;
  probe: FakeProbe;
  zds: FakeZds;
  agent: NodeAgent;
  controller: PodController;
  handlers: ReturnType<typeof cniHandlers>;
  metrics: AgentMetrics;
  stop(): void;
}

function makeAgent(store: ClusterStore, redirector = new FakeRedirector(), probe = new FakeProbe(), zds = new FakeZds()): Bed {
  const log = process.env.AGENT_TEST_LOG ? createLogger('test', 'debug') : silentLogger();
  const metrics = new AgentMetrics({ defaultMetrics: false });
  const agent = new NodeAgent({ store, redirector, probe, zds, metrics, log, settings: { node: 'node-1', excludeNamespaces: ['kube-system'], dnsCapture: true, probeIpv6: false } });
  const controller = new PodController({ agent, store, metrics, log, retry: { initialMs: 20, maxMs: 100 } });
  const handlers = cniHandlers({ agent, store, metrics, log, readiness: () => ({ ready: true }), accepting: () => true });
  return { store, redirector, probe, zds, agent, controller, handlers, metrics, stop: () => controller.stop() };
}

async function startBed(store: ClusterStore, ...rest: Parameters<typeof makeAgent> extends [unknown, ...infer R] ? R : never): Promise<Bed> {
  const b = makeAgent(store, ...rest);
  await b.controller.recover();
  b.controller.start();
  return b;
}

function fakeNetns(): string {
  const p = path.join(dir, `netns-${++seq}`);
  writeFileSync(p, '');
  return p;
}

async function ns(store: ClusterStore, name: string, labels: Record<string, string> = {}): Promise<void> {
  await store.apply<Namespace>({ ...NAMESPACE, metadata: { name, labels } });
}

async function pod(store: ClusterStore, namespace: string, name: string, o: { labels?: Record<string, string>; netns?: string; ip?: string; node?: string } = {}): Promise<Pod> {
  return store.create<Pod>({
    ...POD,
    metadata: { namespace, name, labels: o.labels ?? {}, annotations: o.netns ? { 'ambit.dev/netns': o.netns } : {} },
    spec: { nodeName: o.node ?? 'node-1', containers: [{ name: 'app' }] },
    ...(o.ip ? { status: { phase: 'Running', podIP: o.ip, podIPs: [{ ip: o.ip }] } } : {}),
  });
}

async function annotation(store: ClusterStore, namespace: string, name: string): Promise<string | undefined> {
  const p = await store.get<Pod>({ ...POD, namespace, name });
  return p?.metadata.annotations?.['ambient.istio.io/redirection'];
}

function event(p: Pod, netns: string, ip: string): PodEvent {
  return { podName: p.metadata.name, podNamespace: p.metadata.namespace, podUid: p.metadata.uid!, netns, containerId: `c-${p.metadata.name}`, ifname: 'eth0', ips: [{ address: `${ip}/24` }] };
}

t.test('CNI ADD / CHECK / DEL', async (t) => {
  const store = openStore(path.join(dir, 'store-cni'));
  t.teardown(() => store.close());
  await ns(store, 'mesh', { 'istio.io/dataplane-mode': 'ambient' });
  await ns(store, 'plain');
  const b = await startBed(store);
  t.teardown(b.stop);

  const web = await pod(store, 'mesh', 'web');
  const nsWeb = fakeNetns();
  t.same(await b.handlers.add(event(web, nsWeb, '10.244.1.5')), { status: 'enrolled' });
  t.equal(b.redirector.rules.get(nsWeb), 'present', 'rules in the pod netns');
  t.same([...b.probe.set], [['10.244.1.5', web.metadata.uid]], 'probe SNAT entry');
  t.same(b.zds.log, ['add mesh/web'], 'ztunnel got the pod');
  t.equal(await annotation(store, 'mesh', 'web'), 'enabled');
  t.same([...b.zds.pods.keys()], [web.metadata.uid], 'snapshot holds it');
  t.same(await b.handlers.check(event(web, nsWeb, '10.244.1.5')), { status: 'enrolled' });
  b.redirector.rules.set(nsWeb, 'partial');
  t.match(await b.handlers.check(event(web, nsWeb, '10.244.1.5')), { status: 'broken', message: /redirection partial: missing IPv4/ });

  const db = await pod(store, 'plain', 'db');
  const nsDb = fakeNetns();
  t.same(await b.handlers.add(event(db, nsDb, '10.244.1.6')), { status: 'not-enrolled' });
  t.equal(b.redirector.rules.has(nsDb), false, 'no rules for a pod outside the mesh');
  t.equal(await annotation(store, 'plain', 'db'), undefined);

  t.match(await b.handlers.add({ ...event(db, nsDb, '10.244.1.6'), podName: 'ghost' }), { status: 'failed', retryable: true, message: 'pod plain/ghost is not in the cluster store (yet)' });
  t.match(await b.handlers.add({ ...event(web, nsWeb, '10.244.1.5'), podUid: 'other' }), { status: 'failed', retryable: true, message: /has uid .*, the runtime asked for other/ });

  await b.handlers.del(event(web, nsWeb, '10.244.1.5'));
  t.equal(b.redirector.rules.has(nsWeb), false, 'DEL removes the rules');
  t.same([...b.probe.set], [], 'and the probe entry');
  t.same(b.zds.log, ['add mesh/web', `del ${web.metadata.uid}`], 'and tells ztunnel');
  t.equal(await annotation(store, 'mesh', 'web'), undefined, 'and drops the annotation');
  const m = await b.metrics.text();
  t.match(m, /ambit_cni_enrolments_total\{source="cni"\} 1/);
  t.match(m, /ambit_cni_rule_apply_seconds_count\{operation="apply"\} 1/);
});

t.test('CNI ADD failures are undone', async (t) => {
  const store = openStore(path.join(dir, 'store-fail'));
  t.teardown(() => store.close());
  await ns(store, 'mesh', { 'istio.io/dataplane-mode': 'ambient' });
  const b = await startBed(store);
  t.teardown(b.stop);
  const web = await pod(store, 'mesh', 'web');
  const nsWeb = fakeNetns();

  b.zds.mode = 'absent';
  const r = await b.handlers.add(event(web, nsWeb, '10.244.1.5'));
  t.match(r, { status: 'failed', retryable: true, message: /ztunnel did not take pod mesh\/web: no ztunnel is connected to \/fake\.sock; is ztunnel running on this node\?/ });
  t.equal(b.redirector.rules.has(nsWeb), false, 'rules undone');
  t.same([...b.probe.set], [], 'probe entry undone');
  t.same([...b.zds.pods.keys()], [], 'not in the snapshot');
  t.equal(await annotation(store, 'mesh', 'web'), undefined, 'no annotation');
  t.equal(b.agent.get('mesh/web'), undefined);

  b.zds.mode = 'nack';
  t.match(await b.handlers.add(event(web, nsWeb, '10.244.1.5')), { status: 'failed', retryable: true, message: /ztunnel refused add/ });
  t.equal(b.redirector.rules.has(nsWeb), false);

  b.zds.mode = 'ack';
  b.redirector.failApply = true;
  t.match(await b.handlers.add(event(web, nsWeb, '10.244.1.5')), { status: 'failed', retryable: false, message: /cannot redirect the traffic of pod mesh\/web: iptables-restore/ });
  t.equal(b.redirector.rules.has(nsWeb), false, 'a partial apply is removed');
  b.redirector.failApply = false;

  t.match(await b.handlers.add(event(web, path.join(dir, 'no-such-netns'), '10.244.1.5')), { status: 'failed', retryable: false, message: /network namespace .*no-such-netns of pod mesh\/web does not exist/ });
  t.same(await b.handlers.add(event(web, nsWeb, '10.244.1.5')), { status: 'enrolled' }, 'and then it works');
  t.match(await b.metrics.text(), /ambit_cni_enrol_failures_total\{operation="enrol",reason="ztunnel-not-connected"\} 1/);
});

t.test('live enrolment follows labels; pods that end are cleaned up', async (t) => {
  const store = openStore(path.join(dir, 'store-live'));
  t.teardown(() => store.close());
  await ns(store, 'demo');
  const b = await startBed(store);
  t.teardown(b.stop);
  const netA = fakeNetns();
  const netB = fakeNetns();
  const netC = fakeNetns();
  const a = await pod(store, 'demo', 'a', { netns: netA, ip: '10.244.1.10' });
  await pod(store, 'demo', 'b', { netns: netB, ip: '10.244.1.11', labels: { 'istio.io/dataplane-mode': 'none' } });
  await pod(store, 'demo', 'c', { netns: netC, ip: '10.244.1.12', node: 'node-2' });
  await b.controller.reconciler.idle();
  t.equal(b.redirector.rules.size, 0, 'nothing enrolled before the label');

  await ns(store, 'demo', { 'istio.io/dataplane-mode': 'ambient' });
  await waitFor('pod a enabled', async () => (await annotation(store, 'demo', 'a')) === 'enabled');
  t.equal(b.redirector.rules.get(netA), 'present');
  t.equal(b.redirector.rules.has(netB), false, 'the opted-out pod stays out');
  t.equal(b.redirector.rules.has(netC), false, "another node's pod is not ours");
  t.same(b.zds.log, ['add demo/a']);

  await ns(store, 'demo');
  await waitFor('pod a unenrolled', async () => (await annotation(store, 'demo', 'a')) === undefined);
  t.equal(b.redirector.rules.has(netA), false, 'rules removed');
  t.same(b.zds.log, ['add demo/a', `del ${a.metadata.uid}`], 'Del sent');

  // ztunnel away: a live enrolment is undone and retried once ztunnel is back.
  b.zds.mode = 'absent';
  await ns(store, 'demo', { 'istio.io/dataplane-mode': 'ambient' });
  await waitFor('a failed attempt', () => b.controller.reconciler.failing.includes('demo/a'));
  t.equal(b.redirector.rules.has(netA), false, 'no rules without ztunnel');
  b.zds.mode = 'ack';
  b.controller.reconciler.retryNow();
  await waitFor('pod a enabled again', async () => (await annotation(store, 'demo', 'a')) === 'enabled');

  await store.patch({ ...POD, namespace: 'demo', name: 'a' }, { status: { phase: 'Succeeded' } });
  await waitFor('finished pod unenrolled', () => !b.redirector.rules.has(netA));
  await store.patch({ ...POD, namespace: 'demo', name: 'b' }, { metadata: { labels: { 'istio.io/dataplane-mode': null } } });
  await waitFor('pod b enrolled once its opt-out is gone', () => b.redirector.rules.get(netB) === 'present');
  await store.delete({ ...POD, namespace: 'demo', name: 'b' });
  await waitFor('deleted pod cleaned up', () => !b.redirector.rules.has(netB) && b.agent.list().length === 0);
  t.same([...b.zds.pods.keys()], [], 'snapshot empty');
});

t.test('restart: adopt, repair, finish or undo half-done work', async (t) => {
  const store = openStore(path.join(dir, 'store-restart'));
  t.teardown(() => store.close());
  await ns(store, 'mesh', { 'istio.io/dataplane-mode': 'ambient' });
  const redirector = new FakeRedirector();
  const probe = new FakeProbe();
  const zds = new FakeZds();
  const first = await startBed(store, redirector, probe, zds);
  const nets = [fakeNetns(), fakeNetns(), fakeNetns()];
  const pods = await Promise.all(['p0', 'p1', 'p2'].map((n, i) => pod(store, 'mesh', n, { netns: nets[i]!, ip: `10.244.1.${20 + i}` })));
  await waitFor('three pods enabled', async () => (await Promise.all(['p0', 'p1', 'p2'].map((n) => annotation(store, 'mesh', n)))).every((a) => a === 'enabled'));
  first.stop();
  await first.agent.queue.idle();

  // While no agent runs: p1 loses its rules, p2 is left half-enrolled (pending), a stale IP sits in the set.
  redirector.rules.delete(nets[1]!);
  await store.patch({ ...POD, namespace: 'mesh', name: 'p2' }, { metadata: { annotations: { 'ambient.istio.io/redirection': 'pending' } } });
  probe.set.set('10.244.1.99', 'gone');
  zds.setPods([]);
  zds.log.length = 0;

  const second = makeAgent(store, redirector, probe, zds);
  t.teardown(second.stop);
  const report = await second.controller.recover();
  t.same(report, { kept: ['mesh/p0'], repaired: ['mesh/p1'], deferred: ['mesh/p2'] });
  t.equal(redirector.rules.get(nets[1]!), 'present', 'missing rules re-applied');
  t.same([...zds.pods.keys()].sort(), [pods[0]!.metadata.uid, pods[1]!.metadata.uid].sort(), 'snapshot ready before ztunnel connects');
  t.equal(probe.set.has('10.244.1.99'), false, 'stale probe entry pruned');
  second.controller.start();
  await waitFor('pending pod finished', async () => (await annotation(store, 'mesh', 'p2')) === 'enabled');
  t.same(zds.log, ['add mesh/p2'], 'only the pending pod needed a live Add');
  t.equal(second.agent.list().length, 3);
  t.match(await second.metrics.text(), /ambit_cni_pods_repaired_total 1/);
});
