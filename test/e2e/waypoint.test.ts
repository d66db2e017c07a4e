// End-to-end: a waypoint on the local cluster, driven as a user would with `ambit waypoint`.
// `apply --enroll-namespace --wait` returns once the control plane reports the Gateway Programmed:
// it deployed ServiceAccount, Deployment and Service for it, the waypoint pod (never captured
// itself) is Running and Ready with a certificate for its own identity, and the Gateway has its
// address. The namespace's services are then bound to it, requests between them pass through
// it (its istio_requests_total counts them) and still arrive; `delete` takes it all away and the
// requests go direct again.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Deployment, Pod, Service } from '../../lib/k8s/types.js';
import type { KubeObject } from '../../lib/store/types.js';
import { inNetns } from '../../lib/sys/netns.js';
import { ROOT, TestCluster, echoFields, eventually } from './testkit.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'waypoint-app.yaml');
const NS = 'wp';
const GW_LABEL = 'gateway.networking.k8s.io/gateway-name=waypoint';

interface List<T> {
  items: T[];
}

type Condition = { type: string; status: string; reason?: string; message?: string };
const conditionOf = (o: KubeObject, type: string): Condition | undefined => ((o.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((c) => c.type === type);

t.test('ambit waypoint apply deploys a waypoint that requests between the services pass', async (t) => {
  const c = new TestCluster('waypoint');
  t.teardown(async () => {
    await c.down();
  });
  await c.up(2, [FIXTURE]);
  const prefix = (JSON.parse(readFileSync(path.join(c.stateDir, 'cluster.json'), 'utf8')) as { prefix: string }).prefix;
  const pods = async (...selector: string[]) => (await c.json<List<Pod>>('get', 'pods', '-n', NS, ...selector)).items;
  const client = (await pods('-l', 'app=client'))[0]!;
  const clientRef = `${NS}/${client.metadata.name}`;
  const call = (url: string) => c.try('exec', clientRef, '--', 'ambit', 'echo', 'request', url, '--timeout', '5s');
  t.equal((await call('http://server/')).code, 0, 'before the waypoint, client reaches server directly');

  const applied = await c.try('waypoint', 'apply', '-n', NS, '--enroll-namespace', '--wait', '--waypoint-timeout', '120s');
  t.equal(applied.code, 0, `apply --wait succeeded: ${applied.stderr}`);
  t.match(applied.stdout, /✅ waypoint wp\/waypoint applied\n✅ waypoint wp\/waypoint programmed \(10\.96\.\d+\.\d+, waypoint\.wp\.svc\.cluster\.local\)\n✅ namespace wp labeled with "istio\.io\/use-waypoint: waypoint"/);

  await t.test('the control plane deployed it and reports it Programmed with its address', async (t) => {
    const gw = await c.json<KubeObject>('get', 'gateway', 'waypoint', '-n', NS);
    t.match(conditionOf(gw, 'Accepted'), { status: 'True', reason: 'Accepted' });
    t.match(conditionOf(gw, 'Programmed'), { status: 'True', reason: 'Programmed' });
    const svc = await c.json<Service>('get', 'service', 'waypoint', '-n', NS);
    t.same((gw.status as { addresses: unknown[] }).addresses, [{ type: 'IPAddress', value: svc.spec.clusterIP }, { type: 'Hostname', value: 'waypoint.wp.svc.cluster.local' }]);
    t.same(svc.spec.ports?.map((p) => `${p.name}/${p.port}/${p.appProtocol}`), ['status-port/15021/tcp', 'mesh/15008/hbone']);
    const dep = await c.json<Deployment>('get', 'deployment', 'waypoint', '-n', NS);
    t.equal(dep.status?.readyReplicas, 1);
    for (const o of [svc, dep, await c.json<KubeObject>('get', 'serviceaccount', 'waypoint', '-n', NS)]) {
      t.match(o.metadata.ownerReferences, [{ kind: 'Gateway', name: 'waypoint', uid: gw.metadata.uid }], `${o.kind} is owned by the Gateway`);
    }
    const list = await c.ambit('waypoint', 'list', '-n', NS);
    t.match(list, /wp\s+waypoint\s+service\s+True\s+10\.96\./);
  });

  const [wpPod] = await pods('-l', GW_LABEL);
  await t.test('the waypoint pod runs `ambit waypoint`, Ready, outside the capture', async (t) => {
    t.ok(wpPod, 'a waypoint pod');
    t.equal(wpPod!.status?.phase, 'Running');
    t.equal(wpPod!.status?.conditions?.find((x) => x.type === 'Ready')?.status, 'True', 'Ready');
    t.equal(wpPod!.spec.serviceAccountName, 'waypoint');
    t.equal(wpPod!.metadata.labels?.['istio.io/dataplane-mode'], 'none');
    t.notOk(wpPod!.metadata.annotations?.['ambient.istio.io/redirection'], 'not enrolled in ztunnel');
  });

  await t.test('services of the namespace are bound to the waypoint', async (t) => {
    const bound = await eventually('server bound', async () => {
      const s = await c.json<KubeObject>('get', 'service', 'server', '-n', NS);
      return conditionOf(s, 'istio.io/WaypointBound')?.status === 'True' ? s : undefined;
    });
    t.match(conditionOf(bound, 'istio.io/WaypointBound'), { reason: 'WaypointAccepted', message: 'bound to wp/waypoint' });
  });

  /** istio_requests_total of the waypoint, read in its node's namespace. */
  const waypointRequests = async (): Promise<number> => {
    const script = `fetch('http://${wpPod!.status!.podIP}:15020/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))`;
    const text = (await inNetns(`${prefix}-${wpPod!.spec.nodeName}`, process.execPath, ['-e', script])).stdout;
    let n = 0;
    for (const m of text.matchAll(/^istio_requests_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
    return n;
  };

  await t.test('requests from client to server pass the waypoint and arrive', async (t) => {
    // The binding reaches the ztunnels through xDS shortly after the status says so.
    const before = await waypointRequests();
    await eventually('a request through the waypoint', async () => (await call('http://server/')).code === 0 && (await waypointRequests()) > before, 30_000);
    const start = await waypointRequests();
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const r = await call('http://server.wp.svc.cluster.local/');
      t.equal(r.code, 0, `request ${i} answered: ${r.stderr}`);
      seen.add(echoFields(r.stdout).Hostname ?? '');
    }
    // The echo app closes keep-alive connections idle for 5 s (Node's default); the waypoint must
    // not send the next request into the tunnel that was ended under it.
    await new Promise((r) => setTimeout(r, 6000));
    const afterIdle = await call('http://server/');
    t.equal(afterIdle.code, 0, `a request after the app closed the idle connection is answered: ${afterIdle.stderr}`);
    t.ok((await waypointRequests()) - start >= 11, 'the waypoint counted every request');
    t.same(seen.size >= 1 && [...seen].every((h) => h.startsWith('server-')), true, `answered by server pods: ${[...seen].join(', ')}`);
  });

  await t.test('delete removes the waypoint and what was deployed for it; requests go direct again', async (t) => {
    const out = await c.ambit('waypoint', 'delete', '-n', NS);
    t.match(out, /waypoint wp\/waypoint deleted/);
    await c.ambit('label', 'namespace', NS, 'istio.io/use-waypoint-');
    await eventually('deployed objects gone', async () => {
      const left = await Promise.all(['deployment', 'service', 'serviceaccount'].map((k) => c.try('get', k, 'waypoint', '-n', NS)));
      return left.every((r) => r.code !== 0);
    });
    await eventually('waypoint pod gone', async () => (await pods('-l', GW_LABEL)).length === 0);
    await eventually('direct again', async () => (await call('http://server/')).code === 0, 30_000);
  });
});
