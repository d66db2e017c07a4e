// End-to-end: the mesh on the local cluster. Enrolled pods talk HBONE (mTLS on 15008) across
// nodes, keep their source IPs, are authorized by policy, and never send plaintext between nodes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Pod } from '../../lib/k8s/types.js';
import { inNetns } from '../../lib/sys/netns.js';
import { startCapture } from './capture.js';
import { ROOT, TestCluster, echoFields, eventually } from './testkit.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'mesh-app.yaml');
const REDIRECTION = 'ambient.istio.io/redirection';

interface List<T> {
  items: T[];
}

t.test('ztunnel and the CNI agent on a 2-node cluster', async (t) => {
  const c = new TestCluster('mesh');
  t.teardown(async () => {
    await c.down();
  });
  await c.up(2, [FIXTURE]);
  const prefix = (JSON.parse(readFileSync(path.join(c.stateDir, 'cluster.json'), 'utf8')) as { prefix: string }).prefix;
  const pods = async (ns: string) => (await c.json<List<Pod>>('get', 'pods', '-n', ns)).items;
  const mesh = await pods('mesh');
  const servers = mesh.filter((p) => p.metadata.labels?.app === 'server');
  const client = mesh.find((p) => p.metadata.labels?.app === 'client')!;
  const outside = (await pods('plain'))[0]!;
  const clientRef = `mesh/${client.metadata.name}`;
  const outsideRef = `plain/${outside.metadata.name}`;
  const call = (from: string, url: string, ...args: string[]) => c.try('exec', from, '--', 'ambit', 'echo', 'request', url, '--timeout', '5s', ...args);
  /** Metrics of the ztunnel of a node, fetched inside the node's namespace. */
  const metrics = async (node: string) =>
    (await inNetns(`${prefix}-${node}`, process.execPath, ['-e', "fetch('http://127.0.0.1:15020/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))"])).stdout;
  /**
   * Connections from the client pod that its node's ztunnel opened end to end (it counts one
   * once the tunnel is up, which means the destination reached the app): the positive sign that
   * a load started by `ambit exec` is really flowing, wherever the VIP sent it.
   */
  const openedFromClient = async (): Promise<number> => {
    let n = 0;
    for (const m of (await metrics(client.spec.nodeName!)).matchAll(/^istio_tcp_connections_opened_total\{([^}]*)\} (\d+)/gm)) {
      if (m[1]!.includes('reporter="source"') && m[1]!.includes('source_principal="spiffe://cluster.local/ns/mesh/sa/client"')) n += Number(m[2]);
    }
    return n;
  };
  /** Gone, or a zombie waiting to be reaped: either way it serves nothing any more. */
  const dead = (pid: number): boolean => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').startsWith('Z');
    } catch {
      return true;
    }
  };

  await t.test('pods of the ambient namespace are enrolled; others are not', async (t) => {
    for (const p of mesh) t.equal(p.metadata.annotations?.[REDIRECTION], 'enabled', `${p.metadata.name} redirection enabled`);
    t.notOk(outside.metadata.annotations?.[REDIRECTION], 'the pod outside the mesh is not enrolled');
    t.same(new Set(servers.map((p) => p.spec.nodeName)), new Set(['node-1', 'node-2']), 'a server on each node');
  });

  await t.test('A on node 1 calls B on node 2 by name: mTLS on the wire, real client IP, identity in metrics', async (t) => {
    const remote = servers.find((p) => p.spec.nodeName === 'node-2')!;
    const marker = `ambit-secret-${process.pid}-${Date.now()}`;
    const cap = await startCapture(`${prefix}-fabric`);
    const r = await call(clientRef, `http://${remote.status!.podIP}:8080/`, '-H', `x-marker:${marker}`);
    const seen = await cap.stop();
    t.equal(r.code, 0, `request answered: ${r.stderr}`);
    const f = echoFields(r.stdout);
    t.equal(f.Hostname, remote.metadata.name);
    t.equal(f.IP?.replace(/:\d+$/, ''), client.status?.podIP, 'B sees A\'s real IP');
    t.match(r.stdout, marker, 'the header reached the app');
    t.ok((seen.ports.get(15008) ?? 0) > 0, `HBONE packets on the fabric (${seen.packets} packets)`);
    t.notOk(seen.ports.has(8080), 'no plaintext connection to the app port crossed the nodes');
    t.notOk(seen.text.includes(marker), 'the payload never appears in clear on the wire');
    const m = await eventually('the destination ztunnel metrics', async () => {
      const text = await metrics('node-2');
      return text.includes('istio_tcp_connections_opened_total') && text.includes('spiffe://cluster.local/ns/mesh/sa/client') ? text : undefined;
    });
    t.match(m, /connection_security_policy="mutual_tls"/, 'mutual TLS recorded');
    const logs = readFileSync(path.join(c.stateDir, 'components', 'ztunnel-node-2.log'), 'utf8');
    t.match(logs, /spiffe:\/\/cluster\.local\/ns\/mesh\/sa\/client/, 'the access log names A\'s identity');
  });

  await t.test('a Service with endpoints on both nodes load-balances', async (t) => {
    const out = await c.ambit('exec', clientRef, '--', 'ambit', 'echo', 'client', 'http://server/', '--count', '40', '--connections', '20', '--json');
    const report = JSON.parse(out) as { hostnames: Record<string, number>; ok: number };
    t.equal(report.ok, 40);
    t.same(new Set(Object.keys(report.hostnames)), new Set(servers.map((p) => p.metadata.name)), JSON.stringify(report.hostnames));
  });

  await t.test('calls to a non-mesh destination pass through', async (t) => {
    const r = await call(clientRef, `http://${outside.status!.podIP}:8080/`);
    t.equal(r.code, 0, r.stderr);
    t.equal(echoFields(r.stdout).Hostname, outside.metadata.name);
  });

  await t.test('plaintext from outside the mesh works until STRICT mTLS', async (t) => {
    const r = await call(outsideRef, 'http://server.mesh/');
    t.equal(r.code, 0, `plaintext inbound allowed: ${r.stderr}`);
    const strict = 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: strict, namespace: mesh }\nspec: { mtls: { mode: STRICT } }\n';
    await c.applyYaml(strict);
    await eventually('plaintext refused', async () => (await call(outsideRef, 'http://server.mesh/')).code !== 0);
    t.equal((await call(clientRef, 'http://server/')).code, 0, 'mesh traffic still flows');
    await c.deleteYaml(strict);
    await eventually('plaintext allowed again', async () => (await call(outsideRef, 'http://server.mesh/')).code === 0);
  });

  await t.test('a DENY policy refuses new connections and closes open ones; removing it restores', async (t) => {
    // A long-lived TCP connection from A through the VIP, 4 messages a second. The policy goes
    // in once A's ztunnel has that connection open end to end: the first message
    // is written as soon as the client connects, so it is through long before a policy could
    // reach a ztunnel, however long `ambit exec` and Node took to start on a loaded machine.
    const baseline = await openedFromClient();
    const long = c.try('exec', clientRef, '--', 'ambit', 'echo', 'client', 'tcp://server:9000', '--qps', '4', '--connections', '1', '--duration', '30s', '--json');
    await eventually('the long connection open end to end', async () => (await openedFromClient()) > baseline, 25_000);
    const deny =
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: deny-client, namespace: mesh }\n' +
      'spec:\n  selector: { matchLabels: { app: server } }\n  action: DENY\n  rules:\n    - from:\n        - source: { principals: ["cluster.local/ns/mesh/sa/client"] }\n';
    await c.applyYaml(deny);
    await eventually('new connections refused', async () => (await call(clientRef, 'http://server/')).code !== 0);
    const report = JSON.parse((await long).stdout) as { errorCount: number; ok: number };
    t.ok(report.ok > 0, `the long connection worked before the policy (${report.ok} ok)`);
    t.ok(report.errorCount > 0, `and was cut by it (${report.errorCount} errors)`);
    await c.deleteYaml(deny);
    await eventually('traffic restored', async () => (await call(clientRef, 'http://server/')).code === 0);
  });

  await t.test('with the node\'s ztunnel stopped, enrolled pods fail closed; it recovers on restart', async (t) => {
    const pidLine = readFileSync(path.join(c.stateDir, 'components', 'ztunnel-node-1.pid'), 'utf8').trim().split(' ')[0]!;
    const pid = Number(pidLine);
    const cap = await startCapture(`${prefix}-fabric`);
    process.kill(pid, 'SIGSTOP');
    try {
      const r = await call(clientRef, 'http://server/', '--timeout', '3s');
      t.not(r.code, 0, 'the call fails while ztunnel is stopped');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const seen = await cap.stop();
    t.notOk(seen.ports.has(8080), 'nothing left the node unencrypted');
    await eventually('traffic works again', async () => (await call(clientRef, 'http://server/')).code === 0);
  });

  await t.test('live enrolment: labelling a namespace enrols its running pods, removing it unenrols them', async (t) => {
    await c.ambit('label', 'namespace', 'plain', 'istio.io/dataplane-mode=ambient');
    const enrolled = await eventually('the plain pod enrolled', async () => {
      const p = (await pods('plain'))[0]!;
      return p.metadata.annotations?.[REDIRECTION] === 'enabled' ? p : undefined;
    });
    t.equal(enrolled.metadata.uid, outside.metadata.uid, 'the same pod, not restarted');
    t.equal(enrolled.status?.containerStatuses?.[0]?.restartCount, 0);
    const remote = servers.find((p) => p.spec.nodeName === 'node-2')!;
    const cap = await startCapture(`${prefix}-fabric`);
    const r = await call(outsideRef, `http://${remote.status!.podIP}:8080/`);
    const seen = await cap.stop();
    t.equal(r.code, 0, r.stderr);
    t.ok((seen.ports.get(15008) ?? 0) > 0, 'now over HBONE');
    t.notOk(seen.ports.has(8080), 'no plaintext');
    await c.ambit('label', 'namespace', 'plain', 'istio.io/dataplane-mode-');
    await eventually('the plain pod unenrolled', async () => !(await pods('plain'))[0]!.metadata.annotations?.[REDIRECTION]);
    const cap2 = await startCapture(`${prefix}-fabric`);
    t.equal((await call(outsideRef, `http://${remote.status!.podIP}:8080/`)).code, 0);
    const plain = await cap2.stop();
    t.ok((plain.ports.get(8080) ?? 0) > 0, 'plain again on the wire');
  });

  const componentPid = (name: string) => Number(readFileSync(path.join(c.stateDir, 'components', `${name}.pid`), 'utf8').trim().split(' ')[0]);
  /** The redirection rules of a pod, as iptables-save prints them (to count copies). */
  const rules = async (p: Pod) => (await inNetns(p.metadata.annotations!['ambit.dev/netns']!, 'iptables-save', [])).stdout.split('\n').filter((l) => l.startsWith('-A ISTIO_')).sort();

  await t.test('kill the agent and ztunnel, in either order, while traffic flows: nothing half-enrolled, traffic recovers', async (t) => {
    const before = await Promise.all(servers.map(rules));
    t.ok(before.every((r) => r.length > 0), 'rules present before');
    for (const order of [['cni-agent', 'ztunnel'], ['ztunnel', 'cni-agent']]) {
      const baseline = await openedFromClient();
      const load = c.try('exec', clientRef, '--', 'ambit', 'echo', 'client', 'http://server/', '--qps', '20', '--connections', '2', '--duration', '8s', '--json');
      // Kill while traffic flows: once both load connections are open end to end.
      await eventually('the load flowing', async () => (await openedFromClient()) >= baseline + 2, 20_000);
      for (const comp of order) {
        const pids = ['node-1', 'node-2'].map((node) => componentPid(`${comp}-${node}`));
        for (const pid of pids) process.kill(pid, 'SIGKILL');
        // The order is the point: the second component dies only after the first is gone.
        await eventually(`${comp} gone`, async () => pids.every(dead), 5000, 20);
      }
      await load;
      await eventually(`traffic recovers after killing ${order.join(' then ')}`, async () => (await call(clientRef, 'http://server/')).code === 0, 60_000);
      const after = await Promise.all(servers.map(rules));
      t.same(after, before, `rules exactly as before (not missing, not doubled) after ${order.join(' then ')}`);
    }
  });

  await t.test('with the node agent stopped, a new ambient pod does not start, and starts once it is back', async (t) => {
    const agent = componentPid('cni-agent-node-2');
    process.kill(agent, 'SIGSTOP');
    const late =
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: late, namespace: mesh }\nspec:\n  replicas: 1\n  selector: { matchLabels: { app: late } }\n' +
      '  template:\n    metadata: { labels: { app: late } }\n    spec:\n      nodeSelector: { kubernetes.io/hostname: node-2 }\n      containers:\n        - { name: sleep, image: busybox, command: [sleep, "100000"] }\n';
    try {
      await c.applyYaml(late);
      const stuck = await eventually('the sandbox to fail', async () => {
        const p = (await pods('mesh')).find((x) => x.metadata.labels?.app === 'late');
        return p?.status?.reason === 'FailedCreatePodSandBox' ? p : undefined;
      }, 90_000);
      t.match(stuck.status?.message, /ambit-cni/, `a clear message: ${stuck.status?.message}`);
      t.notOk(stuck.status?.containerStatuses?.length, 'no container was started');
    } finally {
      process.kill(agent, 'SIGCONT');
    }
    const running = await eventually('the pod to start once the agent is back', async () => {
      const p = (await pods('mesh')).find((x) => x.metadata.labels?.app === 'late');
      return p?.status?.phase === 'Running' && p.metadata.annotations?.[REDIRECTION] === 'enabled' ? p : undefined;
    }, 90_000);
    t.ok(running, 'running and enrolled');
    await c.deleteYaml(late);
  });

  await t.test('node HTTP probes of enrolled pods keep passing', async (t) => {
    const now = await pods('mesh');
    for (const p of now.filter((x) => x.metadata.labels?.app === 'server')) {
      t.ok(p.status?.conditions?.some((cd) => cd.type === 'Ready' && cd.status === 'True'), `${p.metadata.name} Ready`);
    }
  });
});
