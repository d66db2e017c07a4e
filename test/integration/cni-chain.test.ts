// ambit-cni chained after the real bridge + host-local plugins, run the way the local cluster's
// runtime runs them (cli/local/net/cni.ts): prevResult flows through, the agent gets the pod's
// netns and IP, and a fake agent that applies the real in-pod rules leaves them in place.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { delNetns, listNetns, netnsPath } from '../../lib/sys/netns.js';
import { addTestNetns } from '../../lib/sys/testkit.js';
import { CniError, createPodNetwork, deletePodNetwork, DEFAULT_CNI_PATH, setupNodeCni } from '../../cli/local/net/cni.js';
import type { NodeNetwork } from '../../cli/local/net/plan.js';
import { PodRedirector } from '../../cni/agent/rules/redirect.js';
import { familiesOf } from '../../cni/agent/rules/options.js';
import { installPlugin } from '../../lib/cni-plugin/install.js';
import { startEventServer, type EventServer } from '../../cni/plugin/server.js';
import type { PodEvent } from '../../cni/plugin/protocol.js';
import { openStore } from '../../lib/store/index.js';
import { NAMESPACE, POD } from '../../lib/k8s/types.js';

if (process.getuid?.() !== 0) throw new Error('test/integration/cni-chain.test creates network namespaces: run it as root (containernetworking-plugins, iptables)');

const prefix = `tc${process.pid}`;
const dir = await mkdtemp(path.join(tmpdir(), `${prefix}-`));
const socket = path.join(dir, 'agent.sock');
t.teardown(async () => {
  for (const ns of listNetns(`${prefix}-`)) await delNetns(ns);
  await rm(dir, { recursive: true, force: true });
});

const redirector = new PodRedirector();
const events: { kind: string; ev: PodEvent }[] = [];

async function startAgent(): Promise<EventServer> {
  return startEventServer(socket, {
    add: async (ev) => {
      events.push({ kind: 'add', ev });
      if (ev.podNamespace !== 'mesh') return { status: 'not-enrolled' };
      await redirector.apply(ev.netns, familiesOf(ev.ips.map((i) => i.address)));
      return { status: 'enrolled' };
    },
    del: async (ev) => {
      events.push({ kind: 'del', ev });
    },
    check: async () => ({ status: 'enrolled' }),
    status: async () => ({ ready: true }),
  });
}

t.test('bridge + host-local + ambit-cni', async (t) => {
  const nodeNs = `${prefix}-node-1`;
  await addTestNetns(nodeNs);
  const node: NodeNetwork = {
    index: 1, name: 'node-1', netns: nodeNs, netnsPath: netnsPath(nodeNs), address: '10.240.0.11', podCIDR: '10.244.1.0/24', podGateway: '10.244.1.1',
  };
  const bin = path.join(dir, 'bin');
  await installPlugin(bin);
  // The cluster store the plugin reads while the agent is down.
  const storeDir = path.join(dir, 'store');
  const store = openStore(storeDir);
  t.teardown(() => store.close());
  await store.create({ ...NAMESPACE, metadata: { name: 'mesh', labels: { 'istio.io/dataplane-mode': 'ambient' } } });
  await store.create({ ...NAMESPACE, metadata: { name: 'default' } });
  for (const [namespace, name] of [['mesh', 'web-2'], ['default', 'db-2']] as const) {
    await store.create({ ...POD, metadata: { namespace, name }, spec: { nodeName: 'node-1', containers: [{ name: 'app' }] } });
  }
  const cni = await setupNodeCni(prefix, node, dir, {
    cniPath: [...DEFAULT_CNI_PATH, bin],
    extraPlugins: [{ type: 'ambit-cni', agentSocket: socket, storeDir, timeoutSeconds: 10, excludeNamespaces: ['kube-system'] }],
  });

  const agent = await startAgent();
  const meshPod = await createPodNetwork(cni, { namespace: 'mesh', name: 'web-1', uid: 'uid-web-1' });
  t.match(meshPod.ip, /^10\.244\.1\.\d+$/, 'the final result still carries the address host-local gave');
  t.match(meshPod.result, { cniVersion: '1.0.0', interfaces: [{ name: 'cni0' }], ips: [{ address: `${meshPod.ip}/24`, gateway: '10.244.1.1' }] },
    'bridge\'s result came through ambit-cni unchanged');
  const add = events.find((e) => e.kind === 'add' && e.ev.podName === 'web-1');
  t.match(add?.ev, { podNamespace: 'mesh', podUid: 'uid-web-1', netns: meshPod.netnsPath, ifname: 'eth0', ips: [{ address: `${meshPod.ip}/24`, interface: 'eth0' }] },
    'the agent got the netns and the IP from prevResult');
  t.equal((await redirector.check(meshPod.netnsPath)).state, 'present', 'the pod netns has the redirection once ADD returned');

  const plain = await createPodNetwork(cni, { namespace: 'default', name: 'db-1' });
  t.equal((await redirector.check(plain.netnsPath)).state, 'absent', 'a pod outside the mesh is untouched');
  const excludedBefore = events.length;
  await createPodNetwork(cni, { namespace: 'kube-system', name: 'dns-1' });
  t.equal(events.length, excludedBefore, 'an excluded pod is not even asked about');

  await agent.close();
  const err = await createPodNetwork(cni, { namespace: 'mesh', name: 'web-2' }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof CniError, 'agent down: ADD fails');
  if (err instanceof CniError) {
    t.match(err.info, { plugin: 'ambit-cni', command: 'ADD', code: 11 }, 'in ambit-cni, try again later');
    t.match(err.message, `node agent at ${socket} is not reachable`, 'naming the socket');
    t.match(err.message, 'The pod is in the mesh (namespace mesh has istio.io/dataplane-mode=ambient), so it waits for the agent', 'and why it must wait');
  }
  t.notOk(listNetns(`${prefix}-pod-mesh_web-2`).length, 'the runtime undid the half-made pod');
  const asked = events.length;
  const outside = await createPodNetwork(cni, { namespace: 'default', name: 'db-2' });
  t.match(outside.ip, /^10\.244\.1\.\d+$/, 'agent down: a pod outside the mesh still gets its network through the chain');
  t.equal((await redirector.check(outside.netnsPath)).state, 'absent', 'without redirection');
  t.equal(events.length, asked, 'and no agent was involved');

  t.same(await deletePodNetwork(cni, { namespace: 'mesh', name: 'web-1' }), [], 'DEL with the agent down succeeds');
  const again = await startAgent();
  t.teardown(() => again.close());
  t.same(await deletePodNetwork(cni, { namespace: 'default', name: 'db-1' }), []);
  t.ok(events.some((e) => e.kind === 'del' && e.ev.podName === 'db-1'), 'DEL reached the agent when it was up');
});
