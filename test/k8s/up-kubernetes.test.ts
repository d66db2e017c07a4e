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
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Pod } from '../../lib/k8s/types.js';
import { readPidsFile } from '../../cli/local/runtime/pids.js';
import { TestCluster, echoFields, eventually } from '../e2e/testkit.js';
import { binaries } from './testkit.js';

const bins = binaries(['etcd', 'kubeApiserver', 'kubeControllerManager', 'kubectl']);
const c = new TestCluster('kube');
// Pods' mount points are made on the host, empty (every pod gets the apiserver's
// kube-api-access volume): those this test made are removed after the cluster.
const MOUNT_POINTS = ['/var/run/secrets/kubernetes.io/serviceaccount', '/var/run/secrets/kubernetes.io', '/var/run/secrets/tokens', '/var/run/secrets/istio', '/var/run/secrets'];
const madeHere = MOUNT_POINTS.filter((d) => !existsSync(d));
t.teardown(async () => {
  await c.down();
  for (const d of madeHere) {
    try {
      rmdirSync(d);
    } catch {
      // not empty, or gone: left alone
    }
  }
});
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

const TOKEN_PODS = ['tok-a', 'tok-b']
  .map(
    (name) => `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: demo }
spec:
  restartPolicy: Never
  containers:
    - name: main
      image: busybox
      command: [sh, -c, 'echo "token=$(cat /var/run/secrets/tokens/istio-token)"; echo "root=$(cat /var/run/secrets/istio/root-cert.pem)"; exec sleep 3600']
      volumeMounts:
        - { name: istio-token, mountPath: /var/run/secrets/tokens }
        - { name: istiod-ca-cert, mountPath: /var/run/secrets/istio }
  volumes:
    - name: istio-token
      projected:
        sources:
          - serviceAccountToken: { audience: istio-ca, expirationSeconds: 43200, path: istio-token }
    - name: istiod-ca-cert
      configMap: { name: istio-ca-root-cert }
`,
  )
  .join('---\n');

t.test('pod volumes: a projected token the apiserver accepts, a ConfigMap, one path per pod', async (t) => {
  await kubectl(['create', 'configmap', 'istio-ca-root-cert', '-n', 'demo', '--from-literal=root-cert.pem=ROOT-PEM-FOR-TEST']);
  await kubectl(['apply', '-f', '-'], TOKEN_PODS);
  const tokens: string[] = [];
  for (const name of ['tok-a', 'tok-b']) {
    const [p] = await eventually(`${name} Running`, async () => {
      const ps = (JSON.parse(await kubectl(['get', 'pod', name, '-n', 'demo', '-o', 'json', '--ignore-not-found'])) as Pod | undefined);
      return ps && ready(ps) ? [ps] : undefined;
    }, 90_000, 500);
    const log = await eventually(`${name} logged its volumes`, async () => (/root=/.test(podLog(p!, 'main')) ? podLog(p!, 'main') : undefined), 30_000);
    t.match(log, /^root=ROOT-PEM-FOR-TEST$/m, `${name} reads the ConfigMap at /var/run/secrets/istio/root-cert.pem`);
    const token = /^token=(\S+)$/m.exec(log)?.[1] ?? '';
    t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, `${name} reads a JWT at /var/run/secrets/tokens/istio-token`);
    const review = JSON.parse(await kubectl(['create', '-o', 'json', '-f', '-'], JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: ['istio-ca'] } }))) as { status: { authenticated?: boolean; audiences?: string[]; user?: { username?: string; extra?: Record<string, string[]> } } };
    t.equal(review.status.authenticated, true, `TokenReview accepts ${name}'s token for audience istio-ca`);
    t.equal(review.status.user?.username, 'system:serviceaccount:demo:default', 'as the pod\'s service account');
    t.same(review.status.user?.extra?.['authentication.kubernetes.io/pod-name'], [name], 'bound to the pod');
    const other = JSON.parse(await kubectl(['create', '-o', 'json', '-f', '-'], JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: ['someone-else'] } }))) as { status: { authenticated?: boolean } };
    t.notOk(other.status.authenticated, 'and not for another audience');
    tokens.push(token);
  }
  t.not(tokens[0], tokens[1], 'the two pods see different tokens at the same path');
  await kubectl(['delete', 'pod', 'tok-a', 'tok-b', '-n', 'demo', '--wait=false']);
});
