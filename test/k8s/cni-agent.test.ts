/**
 * Tier 4: the CNI node agent in Kubernetes mode. Its pod watch asks the apiserver for its own
 * node's pods only (field selector spec.nodeName), and it writes the redirection annotation on the
 * pods it enrols with merge patches. The in-pod rules, the probe set and ztunnel are the agent's
 * test doubles (cni/agent/testkit.ts) passed through its ports, and a pod's network namespace is
 * an empty file named by the `ambit.dev/netns` annotation, as the agent's unit tests do: what is
 * under test here is the agent against a real API server, not the kernel.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { NodeAgent } from '../../cni/agent/agent.js';
import { PodController } from '../../cni/agent/controller.js';
import { cniHandlers } from '../../cni/agent/events.js';
import { AgentMetrics } from '../../cni/agent/metrics.js';
import { FakeProbe, FakeRedirector, FakeZds } from '../../cni/agent/testkit.js';
import { findPodNetns } from '../../cni/agent/netns-finder.js';
import { resolveConfig } from '../../cni/config.js';
import { openStore } from '../../lib/store/index.js';
import { KubeStore } from '../../lib/store/kube.js';
import { Collector } from '../../lib/store/testkit.js';
import type { KubeObject } from '../../lib/store/types.js';
import { silentLogger } from '../../lib/telemetry/log.js';
import { createPod, ensureNamespace, forceDeletePod, POD, waitUntil } from './mesh-testkit.js';
import { startCluster } from './testkit.js';

const REDIRECTION = 'ambient.istio.io/redirection';
const dir = mkdtempSync(path.join(tmpdir(), `ambit-k8s-cni-${process.pid}-`));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
function fakeNetns(): string {
  const p = path.join(dir, `netns-${++seq}`);
  writeFileSync(p, '');
  return p;
}

const cluster = await startCluster(t);
const admin = new KubeStore(cluster.kubeConfig());
t.teardown(() => admin.close());
await ensureNamespace(admin, 'mesh', { 'istio.io/dataplane-mode': 'ambient' });
await ensureNamespace(admin, 'plain');

const annotationOf = async (ns: string, name: string): Promise<string | undefined> => (await admin.get({ ...POD, namespace: ns, name }))?.metadata.annotations?.[REDIRECTION];

t.test('the store asks the apiserver for one node\'s pods: list and watch by spec.nodeName', async (t) => {
  await ensureNamespace(admin, 'sel');
  await createPod(admin, 'sel', 'on-a', { node: 'node-a' });
  await createPod(admin, 'sel', 'on-b', { node: 'node-b' });
  const listed = await admin.list(POD, { namespace: 'sel', fieldSelector: { 'spec.nodeName': 'node-a' } });
  t.same(listed.map((p) => p.metadata.name), ['on-a']);
  const c = new Collector();
  const w = admin.watch(POD, { namespace: 'sel', fieldSelector: { 'spec.nodeName': 'node-a' } }, c.push);
  t.teardown(() => w.close());
  await createPod(admin, 'sel', 'on-a-2', { node: 'node-a' });
  await createPod(admin, 'sel', 'on-b-2', { node: 'node-b' });
  await forceDeletePod(admin, 'sel', 'on-b');
  await forceDeletePod(admin, 'sel', 'on-a');
  await waitUntil('the watch to see on-a deleted', () => c.summary.includes('DELETED on-a'));
  // A deletion marks the pod first (deletionTimestamp, MODIFIED), then removes it.
  t.same(c.summary.filter((e) => !e.startsWith('MODIFIED')), ['ADDED on-a', 'ADDED on-a-2', 'DELETED on-a']);
  t.notOk(c.summary.some((e) => e.includes('on-b')), 'nothing of node-b arrives');
  await t.rejects(admin.list(POD, { fieldSelector: { 'spec.noSuchField': 'x' } }), /field label not supported|not a known field selector|noSuchField/i, 'the apiserver refuses fields it does not index');
});

t.test('the agent of node-a on the apiserver: enrols its pods, annotates them, leaves node-b alone', async (t) => {
  const config = resolveConfig({ node: 'node-a', kubeconfig: cluster.kubeconfig }, {});
  t.same(config.kube, { kubeconfig: cluster.kubeconfig });
  const store = openStore({ kube: true, ...config.kube }, { fieldManager: 'ambit-cni-agent' });
  t.teardown(() => store.close());
  t.ok(store instanceof KubeStore, '--kubeconfig opens the Kubernetes store');

  const redirector = new FakeRedirector();
  const probe = new FakeProbe();
  const zds = new FakeZds();
  const metrics = new AgentMetrics({ defaultMetrics: false });
  const log = silentLogger();
  const agent = new NodeAgent({ store, redirector, probe, zds, metrics, log, settings: { node: config.node, excludeNamespaces: config.excludeNamespaces, dnsCapture: config.dnsCapture, probeIpv6: false } });
  // A /proc of this test's own: one process in the cgroup of pod `found`, whose netns nothing annotates.
  const procRoot = path.join(dir, 'proc');
  mkdirSync(path.join(procRoot, 'self', 'ns'), { recursive: true });
  symlinkSync(fakeNetns(), path.join(procRoot, 'self', 'ns', 'net'));
  const controller = new PodController({ agent, store, metrics, log, retry: { initialMs: 50, maxMs: 500 }, findNetns: (uid) => findPodNetns(uid, procRoot) });
  const handlers = cniHandlers({ agent, store, metrics, log, readiness: () => ({ ready: true }), accepting: () => true });

  // Running before the agent: enrolled live from the watch (its netns is known by annotation).
  const earlyNetns = fakeNetns();
  await createPod(admin, 'mesh', 'early', { node: 'node-a', ip: '10.244.1.4', annotations: { 'ambit.dev/netns': earlyNetns } });
  const otherNetns = fakeNetns();
  await createPod(admin, 'mesh', 'elsewhere', { node: 'node-b', ip: '10.244.2.4', annotations: { 'ambit.dev/netns': otherNetns } });
  await createPod(admin, 'plain', 'outside', { node: 'node-a', ip: '10.244.1.8', annotations: { 'ambit.dev/netns': fakeNetns() } });

  const found = await createPod(admin, 'mesh', 'found', { node: 'node-a', ip: '10.244.1.6' });
  const foundNetns = fakeNetns();
  mkdirSync(path.join(procRoot, '4242', 'ns'), { recursive: true });
  writeFileSync(path.join(procRoot, '4242', 'cgroup'), `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${found.metadata.uid!.replace(/-/g, '_')}.slice/cri-containerd-1.scope\n`);
  symlinkSync(foundNetns, path.join(procRoot, '4242', 'ns', 'net'));

  const recovery = await controller.recover();
  controller.start();
  t.teardown(() => controller.stop());
  t.same(recovery.kept, []);
  await waitUntil('early enrolled and annotated', async () => (await annotationOf('mesh', 'early')) === 'enabled');
  t.equal(redirector.rules.get(earlyNetns), 'present', 'rules applied in its netns');
  await waitUntil('found enrolled through its process', async () => (await annotationOf('mesh', 'found')) === 'enabled');
  t.equal(redirector.rules.get(path.join(procRoot, '4242', 'ns', 'net')), 'present', "a running pod's netns is found through /proc/<pid>/ns/net");

  // A new pod through CNI ADD, as the plugin reports it.
  const created = await createPod(admin, 'mesh', 'web', { node: 'node-a' });
  const webNetns = fakeNetns();
  const add = await handlers.add({ podName: 'web', podNamespace: 'mesh', podUid: created.metadata.uid!, netns: webNetns, containerId: 'c-web', ifname: 'eth0', ips: [{ address: '10.244.1.5/24' }] });
  t.same(add, { status: 'enrolled' });
  t.equal(await annotationOf('mesh', 'web'), 'enabled', 'the merge patch reached the apiserver');
  t.same([...zds.log].sort(), ['add mesh/early', 'add mesh/found', 'add mesh/web']);

  // Unlabelling the namespace unenrols live; the annotation is removed.
  await admin.patch({ apiVersion: 'v1', kind: 'Namespace', name: 'mesh' }, { metadata: { labels: { 'istio.io/dataplane-mode': null } } });
  await waitUntil('early, found and web unenrolled', async () => (await Promise.all(['early', 'found', 'web'].map((n) => annotationOf('mesh', n)))).every((a) => a === undefined));
  t.equal(redirector.rules.get(earlyNetns), undefined, 'rules removed');

  t.equal(await annotationOf('mesh', 'elsewhere'), undefined, "node-b's pod is never annotated");
  t.equal(await annotationOf('plain', 'outside'), undefined, 'a pod outside the mesh is not annotated');
  t.notOk(redirector.calls.some((c) => c.includes(otherNetns)), "node-b's pod netns is never touched");
  const seen: KubeObject[] = await admin.list(POD, { fieldSelector: { 'spec.nodeName': 'node-b' } });
  t.ok(seen.length > 0 && !agent.list().some((p) => p.name === 'elsewhere'), 'the agent holds no pod of node-b');
});
