// `ambit ztunnel-config` and `ambit proxy-status` against a state directory whose cluster.json
// forwards point at loopback servers serving /config_dump and /debug/connections, as the
// cluster's port-forwards do: node choice, -o json, `all`, and the errors a user can run into.
import http from 'node:http';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { layout } from '../local/layout.js';
import { proxyStatusCommand } from './proxy-status.js';
import { ztunnelConfigCommand } from './ztunnel-config.js';

const dump = (node: string) => ({
  workloads: [{ uid: `u-${node}`, name: `app-${node}`, namespace: 'bookinfo', addresses: ['10.244.1.5'], node, tunnelProtocol: 'HBONE' }],
  services: [],
  policies: [],
  certificates: [{ identity: `spiffe://cluster.local/ns/bookinfo/sa/${node}`, state: 'available', notBefore: '2000-01-01T00:00:00Z', notAfter: '2999-01-01T00:00:00Z' }],
  connections: [],
});
const connections = [{ id: 1, peer: '10.240.0.11:1', nodeId: 'ztunnel~10.240.0.11~ztunnel-node-1.istio-system~istio-system.svc.cluster.local', types: [{ typeUrl: 'type.googleapis.com/istio.workload.Address', state: 'SYNCED', sentVersion: '3', ackedVersion: '3' }] }];

async function serve(t: Test, routes: Record<string, unknown>): Promise<string> {
  const server = http.createServer((req, res) => {
    const body = routes[req.url ?? ''];
    if (body === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => server.close(r)));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function setUp(t: Test, forwards?: Record<string, string>) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ambit-inspect-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (forwards) {
    mkdirSync(layout(dir).root, { recursive: true });
    writeFileSync(layout(dir).cluster, JSON.stringify({ prefix: 'x', stateDir: dir, nodes: ['node-1', 'node-2'], forwards, createdAt: '' }));
  }
  const run = async (cmd: 'ztunnel-config' | 'proxy-status', ...args: string[]) => {
    const out: string[] = [];
    const c = cmd === 'ztunnel-config' ? ztunnelConfigCommand({ out: (s) => out.push(s) }) : proxyStatusCommand({ out: (s) => out.push(s) });
    c.exitOverride().configureOutput({ writeErr: () => undefined });
    try {
      await c.parseAsync([...args, '--state-dir', dir], { from: 'user' });
      return { out: out.join('\n') };
    } catch (e) {
      return { out: out.join('\n'), error: (e as Error).message };
    }
  };
  return run;
}

t.test('ztunnel-config reads the ztunnel of the first node, or --node, or every node for certificates', async (t) => {
  const n1 = await serve(t, { '/config_dump': dump('node-1') });
  const n2 = await serve(t, { '/config_dump': dump('node-2') });
  const control = await serve(t, { '/debug/connections': connections });
  const run = await setUp(t, { 'control (metrics, /debug/model)': control, 'ztunnel node-1 admin (/config_dump)': n1, 'ztunnel node-1 metrics': n1, 'ztunnel node-2 admin (/config_dump)': n2 });
  t.match((await run('ztunnel-config', 'workloads')).out, /^bookinfo +app-node-1 +10\.244\.1\.5 +node-1 +None +HBONE$/m, 'the first node by default');
  t.match((await run('ztunnel-config', 'workload', '--node', 'node-2')).out, /app-node-2/, '--node, and the singular');
  const certs = (await run('ztunnel-config', 'certificates')).out;
  t.match(certs, /^NODE +CERTIFICATE NAME/m);
  t.match(certs, /^node-1 +spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/node-1 +Leaf +Available +true/m);
  t.match(certs, /^node-2 +spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/node-2/m);
  t.same(JSON.parse((await run('ztunnel-config', 'workloads', '-o', 'json')).out), dump('node-1').workloads, '-o json: the section as dumped');
  t.same(JSON.parse((await run('ztunnel-config', 'certificates', '-o', 'json')).out).map((c: { node: string }) => c.node), ['node-1', 'node-2'], 'per-node json names the node');
  const all = (await run('ztunnel-config', 'all')).out;
  for (const h of ['WORKLOADS', 'SERVICES', 'POLICIES', 'CERTIFICATES', 'CONNECTIONS']) t.match(all, new RegExp(`^${h}$`, 'm'), `all: ${h}`);
  t.same(Object.keys(JSON.parse((await run('ztunnel-config', 'all', '-o', 'json')).out)), ['workloads', 'services', 'policies', 'certificates', 'connections']);
  t.match((await run('ztunnel-config', 'workloads', '--node', 'node-9')).error, /--node: no ztunnel on node "node-9"; nodes: node-1, node-2/);
  t.match((await run('ztunnel-config', 'routes')).error, /unknown type "routes"/);
  t.match((await run('ztunnel-config', 'workloads', '-o', 'yaml')).error, /--output: unknown format yaml/);

  t.match((await run('proxy-status')).out, /^ztunnel-node-1\.istio-system +Kubernetes +ztunnel +SYNCED +unknown +unknown$/m);
  t.match((await run('proxy-status', 'ztunnel-node-1')).out, /^ADDRESS +SYNCED +0 +3 +3 +- +0 +0$/m, 'one proxy by prefix');
  t.match((await run('proxy-status', 'nope')).error, /proxy "nope" is not connected to the control plane/);
});

t.test('errors without a cluster, without a ztunnel, or when a component does not answer', async (t) => {
  const none = await setUp(t);
  t.match((await none('ztunnel-config', 'workloads')).error, /no cluster in .*: run `ambit up --state-dir/);
  const noMesh = await setUp(t, { 'control (metrics, /debug/model)': '127.0.0.1:1' });
  t.match((await noMesh('ztunnel-config', 'workloads')).error, /this cluster runs no ztunnel/);
  t.match((await noMesh('proxy-status')).error, /the control plane did not answer at http:\/\/127\.0\.0\.1:1\/debug\/connections: .*is the cluster running/);
  const wrong = await serve(t, {});
  const broken = await setUp(t, { 'ztunnel node-1 admin (/config_dump)': wrong });
  t.match((await broken('ztunnel-config', 'workloads')).error, /ztunnel on node-1 answered 404/);
});
