// End-to-end: `ambit up` builds a 2-node cluster of namespaces; pods, Services, DNS, probes,
// restarts, exec, logs, labels, delete and down behave as a kubectl user expects.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { listNetns } from '../../lib/sys/netns.js';
import type { Endpoints, Pod } from '../../lib/k8s/types.js';
import { TestCluster, ROOT, echoFields, eventually } from './testkit.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'echo-app.yaml');

interface List<T> {
  kind: string;
  items: T[];
}

function info(c: TestCluster): { prefix: string; runnerPid: number } {
  return JSON.parse(readFileSync(path.join(c.stateDir, 'cluster.json'), 'utf8')) as { prefix: string; runnerPid: number };
}

t.test('a 2-node local cluster, used like kubectl', async (t) => {
  const c = new TestCluster('up');
  t.teardown(async () => {
    await c.down();
  });
  await c.up(2, [FIXTURE]);
  const prefix = info(c).prefix;

  const list = await c.json<List<Pod>>('get', 'pods', '-n', 'e2e');
  t.equal(list.kind, 'List', '-o json prints a List');
  const web = list.items.filter((p) => p.metadata.labels?.app === 'web');
  const client = list.items.find((p) => p.metadata.labels?.app === 'client')!;
  t.equal(web.length, 2, 'two web replicas');
  t.ok(client, 'a client pod');
  t.same(new Set(web.map((p) => p.spec.nodeName)), new Set(['node-1', 'node-2']), 'replicas spread over both nodes');
  for (const p of list.items) {
    t.match(p.status?.podIP, /^10\.244\.[12]\.\d+$/, `${p.metadata.name} has a pod IP from its node's range`);
    t.equal(p.status?.phase, 'Running');
  }
  const table = await c.ambit('get', 'pods', '-n', 'e2e');
  t.match(table, /NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE/, 'table header like kubectl');
  const clientRef = `e2e/${client.metadata.name}`;

  await t.test('Service names resolve and the VIP reaches the endpoints, with the client IP kept', async (t) => {
    for (const host of ['web', 'web.e2e', 'web.e2e.svc.cluster.local']) {
      const f = echoFields(await c.ambit('exec', clientRef, '--', 'ambit', 'echo', 'request', `http://${host}/`));
      t.ok(web.some((p) => p.metadata.name === f.Hostname), `${host} answered by a web pod (${f.Hostname})`);
      t.equal(f.Namespace, 'e2e');
      t.equal(f.IP?.replace(/:\d+$/, ''), client.status?.podIP, 'the server sees the client pod IP');
    }
    const tcp = await c.ambit('exec', clientRef, '--', 'ambit', 'echo', 'request', 'tcp://web:9000', '--data', 'hello-tcp');
    t.match(tcp, /hello-tcp/, 'raw TCP through the VIP with a different target port');
  });

  await t.test('the control plane runs in the cluster and models its pods', async (t) => {
    const forwards = (JSON.parse(readFileSync(path.join(c.stateDir, 'cluster.json'), 'utf8')) as { forwards: Record<string, string> }).forwards;
    const addr = Object.entries(forwards).find(([k]) => k.startsWith('control'))?.[1];
    t.ok(addr, 'a port-forward to the control plane');
    const model = await eventually('the e2e pods in /debug/model', async () => {
      const m = (await (await fetch(`http://${addr}/debug/model`)).json()) as { workloads: Array<{ name: string; addresses: string[] }> };
      return web.every((p) => m.workloads.some((w) => w.name === p.metadata.name)) ? m : undefined;
    });
    const w = model.workloads.find((x) => x.name === web[0]!.metadata.name)!;
    t.same(w.addresses, [web[0]!.status!.podIP], 'the workload carries the pod IP');
  });

  await t.test('the Service load-balances across both nodes', async (t) => {
    const out = await c.ambit('exec', clientRef, '--', 'ambit', 'echo', 'client', 'http://web/', '--count', '60', '--connections', '30', '--json');
    const report = JSON.parse(out) as { hostnames?: Record<string, number>; errors?: unknown };
    const seen = Object.keys(report.hostnames ?? {});
    t.same(new Set(seen), new Set(web.map((p) => p.metadata.name)), `both replicas answered: ${JSON.stringify(report.hostnames)}`);
  });

  await t.test('a pod that fails readiness leaves the endpoints and comes back', async (t) => {
    const target = web[0]!;
    await c.ambit('exec', clientRef, '--', 'ambit', 'echo', 'request', '-X', 'POST', `http://${target.status!.podIP}:8080/ready?state=false`);
    await eventually('the pod to be unready and out of the endpoints', async () => {
      const ep = await c.json<Endpoints>('get', 'endpoints', 'web', '-n', 'e2e');
      const ready = ep.subsets?.flatMap((s) => s.addresses ?? []).map((a) => a.ip) ?? [];
      const notReady = ep.subsets?.flatMap((s) => s.notReadyAddresses ?? []).map((a) => a.ip) ?? [];
      return !ready.includes(target.status!.podIP!) && notReady.includes(target.status!.podIP!);
    });
    t.match(await c.ambit('get', 'pods', '-n', 'e2e'), new RegExp(`${target.metadata.name}\\s+0/1\\s+Running`), 'READY 0/1');
    await c.ambit('exec', clientRef, '--', 'ambit', 'echo', 'request', '-X', 'POST', `http://${target.status!.podIP}:8080/ready?state=true`);
    await eventually('the pod to be back in the endpoints', async () => {
      const ep = await c.json<Endpoints>('get', 'endpoints', 'web', '-n', 'e2e');
      return ep.subsets?.flatMap((s) => s.addresses ?? []).some((a) => a.ip === target.status!.podIP);
    });
  });

  await t.test('a container that dies is restarted', async (t) => {
    const target = web[1]!;
    const pids = JSON.parse(readFileSync(path.join(c.stateDir, 'pods', `e2e_${target.metadata.name}`, 'pids.json'), 'utf8')) as { containers: Record<string, { pid: number }> };
    process.kill(pids.containers.echo!.pid, 'SIGKILL');
    const p = await eventually('restartCount 1 and ready again', async () => {
      const pod = await c.json<Pod>('get', 'pod', target.metadata.name, '-n', 'e2e');
      const cs = pod.status?.containerStatuses?.[0];
      return cs && cs.restartCount >= 1 && cs.ready ? pod : undefined;
    });
    t.ok(p.status?.containerStatuses?.[0]?.lastState?.terminated, 'lastState.terminated recorded');
  });

  await t.test('exec passes the exit code through; logs show the container output', async (t) => {
    const r = await c.try('exec', clientRef, '--', 'sh', '-c', 'echo out; exit 3');
    t.equal(r.code, 3);
    t.equal(r.stdout, 'out\n');
    const logs = await c.ambit('logs', `e2e/${web[0]!.metadata.name}`);
    t.match(logs, /"url":"\/ready\?state=false"/, 'the echo access log has the readiness flips');
  });

  await t.test('labels on namespaces and pods', async (t) => {
    await c.ambit('label', 'namespace', 'e2e', 'istio.io/dataplane-mode=ambient');
    const ns = await c.json<{ metadata: { labels: Record<string, string> } }>('get', 'namespace', 'e2e');
    t.equal(ns.metadata.labels['istio.io/dataplane-mode'], 'ambient');
    const again = await c.try('label', 'namespace', 'e2e', 'istio.io/dataplane-mode=none');
    t.not(again.code, 0, 'changing a label needs --overwrite');
    t.match(again.stderr, /already has a value/);
    await c.ambit('label', 'namespace', 'e2e', 'istio.io/dataplane-mode-');
    const ns2 = await c.json<{ metadata: { labels?: Record<string, string> } }>('get', 'namespace', 'e2e');
    t.notOk(ns2.metadata.labels?.['istio.io/dataplane-mode'], 'key- removes it');
  });

  await t.test('delete -f removes the pods and their namespaces', async (t) => {
    await c.ambit('delete', '-f', FIXTURE);
    await eventually('no e2e pod namespaces left', async () => listNetns(`${prefix}-pod-e2e_`).length === 0);
    const r = await c.try('get', 'pods', '-n', 'e2e');
    t.match(r.stderr, /No resources found/);
  });

  await t.test('down removes everything', async (t) => {
    const pid = info(c).runnerPid;
    const r = await c.down();
    t.equal(r.code, 0);
    t.same(listNetns(`${prefix}-`), [], 'no namespaces of the cluster left');
    t.notOk(existsSync(c.stateDir), 'state directory removed');
    t.notOk(existsSync(`/etc/netns/${prefix}-pod-e2e_${client.metadata.name}`), 'no /etc/netns entries left');
    t.throws(() => process.kill(pid, 0), 'runner exited');
  });
});

t.test('up after a crash cleans up first', async (t) => {
  const c = new TestCluster('crash');
  t.teardown(async () => {
    await c.down();
  });
  await c.up(1);
  const first = info(c);
  process.kill(first.runnerPid, 'SIGKILL');
  await eventually('the runner to die', async () => {
    try {
      process.kill(first.runnerPid, 0);
      return false;
    } catch {
      return true;
    }
  });
  t.ok(listNetns(`${first.prefix}-`).length > 0, 'the crash left namespaces behind');
  await c.up(1, [FIXTURE]);
  const pods = await c.json<List<Pod>>('get', 'pods', '-n', 'e2e');
  t.equal(pods.items.filter((p) => p.status?.phase === 'Running').length, 3, 'the new cluster runs its pods');
  const r = await c.down();
  t.equal(r.code, 0);
  t.same(listNetns(`${first.prefix}-`), []);
});
