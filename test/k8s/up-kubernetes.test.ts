/**
 * Tier 4: `ambit up --kubernetes`. The local cluster's store is a real etcd + kube-apiserver +
 * kube-controller-manager in its control-plane namespace; Ambit's node runtime plays kubelet on
 * every node and binds pods itself. Driven the way a user would: the pinned kubectl with the
 * kubeconfig `up` prints. A Deployment (the Ambit image mapped to `ambit`, the Downward API,
 * a readiness probe) and a DaemonSet (one pod per node through the node affinity the DaemonSet
 * controller writes) run; a client pod reaches the Deployment's Service by its DNS name; deleting
 * the Deployment ends its pods (graceful deletion confirmed by the node runtime).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Pod } from '../../lib/k8s/types.js';
import { readPidsFile } from '../../cli/local/runtime/pids.js';
import { TestCluster, echoFields, eventually } from '../e2e/testkit.js';
import { binaries } from './testkit.js';

const bins = binaries(['etcd', 'kubeApiserver', 'kubeControllerManager', 'kubectl']);
const c = new TestCluster('kube');
t.teardown(() => c.down());
const kubeconfig = path.join(c.stateDir, 'kube', 'kubeconfig');

function kubectl(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(bins.kubectl, [`--kubeconfig=${kubeconfig}`, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function pods(ns: string, selector: string): Promise<Pod[]> {
  return (JSON.parse(await kubectl(['get', 'pods', '-n', ns, '-l', selector, '-o', 'json'])) as { items: Pod[] }).items;
}

function ready(p: Pod): boolean {
  return p.status?.phase === 'Running' && (p.status.conditions ?? []).some((x) => x.type === 'Ready' && x.status === 'True');
}

function podLog(p: Pod, container: string): string {
  const f = path.join(c.stateDir, 'pods', `${p.metadata.namespace}_${p.metadata.name}`, 'logs', `${container}.log`);
  // The runtime writes CRI log lines: `<time> stdout|stderr F|P <text>`.
  return existsSync(f) ? readFileSync(f, 'utf8').replace(/^\S+ (?:stdout|stderr) [FP] /gm, '') : '';
}

const APPS = `
apiVersion: v1
kind: Namespace
metadata: { name: demo }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: echo, namespace: demo }
spec:
  replicas: 3
  selector: { matchLabels: { app: echo } }
  template:
    metadata: { labels: { app: echo } }
    spec:
      containers:
        - name: echo
          image: ghcr.io/ambit-mesh/ambit:0.1.0
          args: [echo, server, --http, "8080", --grpc, "off", --tcp, "off"]
          env:
            - name: POD_NAME
              valueFrom: { fieldRef: { fieldPath: metadata.name } }
            - name: POD_NAMESPACE
              valueFrom: { fieldRef: { fieldPath: metadata.namespace } }
          ports: [{ containerPort: 8080, name: http }]
          readinessProbe:
            httpGet: { path: /, port: 8080 }
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: demo }
spec:
  selector: { app: echo }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, namespace: demo }
spec:
  selector: { matchLabels: { app: agent } }
  template:
    metadata: { labels: { app: agent } }
    spec:
      containers:
        - name: agent
          image: busybox
          command: [sh, -c, 'echo "node=$NODE_NAME ip=$POD_IP"; exec sleep 3600']
          env:
            - name: NODE_NAME
              valueFrom: { fieldRef: { fieldPath: spec.nodeName } }
            - name: POD_IP
              valueFrom: { fieldRef: { fieldPath: status.podIP } }
`;

t.test('ambit up --kubernetes', async (t) => {
  const t0 = performance.now();
  await c.ambit('up', '--kubernetes', '--detach', '--nodes', '2');
  t.comment(`up --kubernetes --detach took ${Math.round(performance.now() - t0)} ms`);
  t.ok(existsSync(kubeconfig), 'up wrote the admin kubeconfig');
  const version = JSON.parse(await kubectl(['version', '-o', 'json'])) as { serverVersion?: { gitVersion?: string } };
  t.match(version.serverVersion?.gitVersion, /^v1\.\d+\.\d+/, 'kubectl reaches the real apiserver');
  const nodes = (JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; status: { conditions: Array<{ type: string; status: string }>; addresses: Array<{ type: string; address: string }> } }> }).items;
  t.same(nodes.map((n) => n.metadata.name).sort(), ['node-1', 'node-2'], 'the node runtime registered both Nodes');
  for (const n of nodes) {
    t.ok(n.status.conditions.some((x) => x.type === 'Ready' && x.status === 'True'), `${n.metadata.name} is Ready`);
    t.ok(n.status.addresses.some((a) => a.type === 'InternalIP'), `${n.metadata.name} has an InternalIP`);
  }
});

t.test('a Deployment and a DaemonSet run, with status, probes and the Downward API', async (t) => {
  await kubectl(['apply', '-f', '-'], APPS);
  const echo = await eventually('3 echo pods Running and Ready', async () => {
    const ps = await pods('demo', 'app=echo');
    return ps.length === 3 && ps.every(ready) ? ps : undefined;
  }, 120_000, 500);
  for (const p of echo) {
    t.match(p.status?.podIP, /^10\.244\.\d+\.\d+$/, `${p.metadata.name} reports its pod IP`);
    t.ok(p.spec.nodeName === 'node-1' || p.spec.nodeName === 'node-2', `${p.metadata.name} was bound to a node`);
    t.ok(p.status?.containerStatuses?.[0]?.ready, `${p.metadata.name}: the readiness probe passed`);
  }
  t.equal(new Set(echo.map((p) => p.spec.nodeName)).size, 2, 'the replicas are spread over both nodes');

  const agents = await eventually('one DaemonSet pod per node, Running', async () => {
    const ps = await pods('demo', 'app=agent');
    return ps.length === 2 && ps.every(ready) ? ps : undefined;
  }, 120_000, 500);
  t.same(agents.map((p) => p.spec.nodeName).sort(), ['node-1', 'node-2'], 'the DaemonSet has a pod on each node');
  for (const p of agents) {
    const line = await eventually(`${p.metadata.name} logged its Downward API values`, async () => /node=\S+ ip=\S+/.exec(podLog(p, 'agent'))?.[0], 30_000);
    t.equal(line, `node=${p.spec.nodeName} ip=${p.status?.podIP}`, `${p.metadata.name}: spec.nodeName and status.podIP from the Downward API`);
  }

  const table = await kubectl(['get', 'pods', '-n', 'demo', '--no-headers']);
  const rows = table.trim().split('\n');
  t.equal(rows.length, 5, 'kubectl get pods lists the five pods');
  t.ok(rows.every((r) => /\s1\/1\s+Running\s/.test(r)), `kubectl get pods shows every pod 1/1 Running:\n${table}`);

  const slices = await eventually('the EndpointSlice of demo/echo lists the 3 ready pods', async () => {
    const list = JSON.parse(await kubectl(['get', 'endpointslices', '-n', 'demo', '-l', 'kubernetes.io/service-name=echo', '-o', 'json'])) as { items: Array<{ endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }> }> };
    const ready = list.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready).flatMap((e) => e.addresses);
    return ready.length === 3 ? ready : undefined;
  }, 60_000, 500);
  t.same([...slices].sort(), echo.map((p) => p.status!.podIP!).sort(), 'kube-controller-manager made endpoints of the pod IPs the runtime reported');
});

t.test('a client pod reaches the Service by its DNS name', async (t) => {
  await kubectl(['run', 'client', '-n', 'demo', '--restart=Never', '--image=ghcr.io/ambit-mesh/ambit:0.1.0', '--', 'echo', 'request', 'http://echo.demo.svc.cluster.local/']);
  const done = await eventually('the client pod Succeeded', async () => {
    const [p] = await pods('demo', 'run=client');
    return p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed' ? p : undefined;
  }, 90_000, 500);
  const out = podLog(done, 'client');
  t.equal(done.status?.phase, 'Succeeded', `the request succeeded; its log:\n${out}`);
  const f = echoFields(out);
  t.match(f.Hostname, /^echo-/, 'an echo pod answered, naming itself from POD_NAME');
  t.equal(f.Namespace, 'demo', 'with POD_NAMESPACE from the Downward API');
});

t.test('deleting the Deployment ends its pods', async (t) => {
  const before = await pods('demo', 'app=echo');
  const pids = before.flatMap((p) => Object.values(readPidsFile(path.join(c.stateDir, 'pods', `demo_${p.metadata.name}`, 'pids.json'))?.containers ?? {}).map((e) => e.pid));
  t.equal(pids.length, 3, 'each echo pod has its container process');
  await kubectl(['delete', 'deployment', 'echo', '-n', 'demo']);
  await eventually('the echo pods are gone from the API', async () => (await pods('demo', 'app=echo')).length === 0, 90_000, 500);
  const alive = pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  t.same(alive, [], 'their container processes have ended');
  t.equal((await pods('demo', 'app=agent')).length, 2, 'the DaemonSet pods keep running');
});
