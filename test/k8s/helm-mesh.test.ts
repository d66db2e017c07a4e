/**
 * Tier 4, the proof of issue 11: on `ambit up --kubernetes` (real etcd, kube-apiserver and
 * kube-controller-manager; Ambit's node runtime as kubelet), `helm install` of the four charts
 * brings up the control plane, a CNI agent and a ztunnel on every node from the charts' own
 * Deployment and DaemonSets; `kubectl label namespace` enrols running pods; traffic between the
 * nodes is mTLS on the wire and keeps the client's IP; STRICT and an L4 DENY are enforced;
 * `helm uninstall` removes it all and the pods keep running outside the mesh; `ambit down`
 * leaves no mount point behind. Driven as a user would: the pinned helm and kubectl with the
 * kubeconfig `up` wrote, and `ambit exec`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Pod } from '../../lib/k8s/types.js';
import { startCapture } from '../e2e/capture.js';
import { ROOT, TestCluster, echoFields, eventually } from '../e2e/testkit.js';
import { binaries } from './testkit.js';

const bins = binaries(['etcd', 'kubeApiserver', 'kubeControllerManager', 'kubectl', 'helm']);
const CHARTS = ['ambit-base', 'ambit-control', 'ambit-cni', 'ambit-ztunnel'] as const;
const NS = 'ambit-system';
const REDIRECTION = 'ambient.istio.io/redirection';
const c = new TestCluster('helm-mesh');
const helmHome = mkdtempSync(path.join(tmpdir(), 'ambit-helm-mesh-'));
t.teardown(async () => {
  await c.down();
  rmSync(helmHome, { recursive: true, force: true });
});
const kubeconfig = path.join(c.stateDir, 'kube', 'kubeconfig');
const helmEnv = { KUBECONFIG: kubeconfig, HELM_CACHE_HOME: path.join(helmHome, 'cache'), HELM_CONFIG_HOME: path.join(helmHome, 'config'), HELM_DATA_HOME: path.join(helmHome, 'data') };

function tool(bin: string, args: string[], input?: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { timeout: 240_000, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(bin)} ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}
const kubectl = (args: string[], input?: string) => tool(bins.kubectl, [`--kubeconfig=${kubeconfig}`, ...args], input);
const helm = (args: string[]) => tool(bins.helm, args, undefined, helmEnv);

async function pods(ns: string, selector?: string): Promise<Pod[]> {
  return (JSON.parse(await kubectl(['get', 'pods', '-n', ns, ...(selector ? ['-l', selector] : []), '-o', 'json'])) as { items: Pod[] }).items;
}
function ready(p: Pod): boolean {
  return p.status?.phase === 'Running' && (p.status.conditions ?? []).some((x) => x.type === 'Ready' && x.status === 'True');
}
function podLog(p: Pod, container: string): string {
  const f = path.join(c.stateDir, 'pods', `${p.metadata.namespace}_${p.metadata.name}`, 'logs', `${container}.log`);
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}
const conflist = (node: string) => path.join(c.stateDir, 'nodes', node, 'root', 'etc', 'cni', 'net.d', '10-ambit.conflist');
const pluginsOf = (node: string) => (JSON.parse(readFileSync(conflist(node), 'utf8')) as { plugins: Array<{ type: string }> }).plugins.map((p) => p.type);
const call = (from: Pod, url: string, ...args: string[]) => c.try('exec', `${from.metadata.namespace}/${from.metadata.name}`, '--', 'ambit', 'echo', 'request', url, '--timeout', '5s', ...args);
/** A call expected to be refused: it need not wait long for an answer. */
const refused = async (from: Pod, url: string) => (await call(from, url, '--timeout', '2s')).code !== 0;
const prefix = () => (JSON.parse(readFileSync(path.join(c.stateDir, 'cluster.json'), 'utf8')) as { prefix: string }).prefix;

// The mesh fixture without its ambient label: the namespace is enrolled later, with kubectl.
const APPS = readFileSync(path.join(ROOT, 'test', 'fixtures', 'mesh-app.yaml'), 'utf8').replace(/^ {2}labels: \{ istio\.io\/dataplane-mode: ambient \}\n/m, '');
const timings: Record<string, number> = {};
// Mount points pods make on the host (their token volumes) are removed at down, if they were new.
const secretsExisted = existsSync('/var/run/secrets');

t.test('ambit up --kubernetes and helm install of the four charts: their pods form the mesh', async (t) => {
  t.notMatch(APPS, /dataplane-mode/, 'the apps start outside the mesh');
  let t0 = performance.now();
  await c.ambit('up', '--kubernetes', '--detach', '--nodes', '2');
  timings.up = Math.round(performance.now() - t0);
  for (const name of CHARTS) {
    t0 = performance.now();
    await helm(['install', name, path.join(ROOT, 'helm', name), '-n', NS, '--create-namespace', '--wait', '--timeout', '3m']);
    timings[name] = Math.round(performance.now() - t0);
  }
  t.comment(`timings (ms): ${JSON.stringify(timings)}`);
  const sys = await eventually('the charts\' pods Running and Ready', async () => {
    const ps = await pods(NS);
    return ps.length === 5 && ps.every(ready) ? ps : undefined;
  }, 120_000, 500);
  const byApp = (name: string) => sys.filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === name);
  t.equal(byApp('ambit-control').length, 1, 'the control plane from its Deployment');
  for (const name of ['ambit-cni', 'ambit-ztunnel']) {
    t.same(byApp(name).map((p) => p.spec.nodeName).sort(), ['node-1', 'node-2'], `${name}: one pod per node from its DaemonSet`);
  }
  for (const z of byApp('ambit-ztunnel')) {
    await eventually(`${z.metadata.name} xDS-synced`, async () => podLog(z, 'ztunnel').includes('xDS synced'), 60_000);
  }
  for (const node of ['node-1', 'node-2']) {
    const plugins = pluginsOf(node);
    t.ok(plugins[0] === 'bridge' && plugins.at(-1) === 'ambit-cni', `${node}: ambit-cni chained after bridge into the node's CNI configuration (${plugins.join(', ')})`);
  }
  t.ok(existsSync(path.join(c.stateDir, 'nodes', 'node-1', 'root', 'opt', 'cni', 'bin', 'ambit-cni')), 'the agent installed the plugin into the node\'s CNI bin dir');
  const events = JSON.parse(await kubectl(['get', 'events', '-n', NS, '--field-selector', 'reason=FailedMount', '-o', 'json'])) as { items: Array<{ involvedObject: { name: string }; message: string; type: string }> };
  for (const e of events.items) t.match(e, { type: 'Warning', message: /MountVolume\.SetUp failed/ }, `a FailedMount while the root certificate was not published is a Warning Event (${e.involvedObject.name})`);
});

t.test('apps run; kubectl label namespace enrols the running pods', async (t) => {
  await kubectl(['apply', '-f', '-'], APPS);
  await eventually('the apps Running and Ready', async () => {
    const all = [...(await pods('mesh')), ...(await pods('plain'))];
    return all.length === 4 && all.every(ready) ? all : undefined;
  }, 120_000, 500);
  t.same((await pods('mesh')).filter((p) => p.metadata.annotations?.[REDIRECTION]), [], 'nothing enrolled before the label');
  await kubectl(['label', 'namespace', 'mesh', 'istio.io/dataplane-mode=ambient']);
  const enrolled = await eventually('the mesh pods enrolled', async () => {
    const ps = await pods('mesh');
    return ps.every((p) => p.metadata.annotations?.[REDIRECTION] === 'enabled') ? ps : undefined;
  }, 60_000, 500);
  t.equal(enrolled.length, 3, 'client and both servers enrolled');
  t.notOk((await pods('plain'))[0]?.metadata.annotations?.[REDIRECTION], 'the pod outside the ambient namespace is not');
});

t.test('node 1 to node 2: mTLS on the wire, the client IP kept, the identity in the access log', async (t) => {
  const [client] = await pods('mesh', 'app=client');
  const remote = (await pods('mesh', 'app=server')).find((p) => p.spec.nodeName === 'node-2')!;
  const marker = `ambit-helm-${process.pid}-${Date.now()}`;
  const cap = await startCapture(`${prefix()}-fabric`);
  const r = await call(client!, `http://${remote.status!.podIP}:8080/`, '-H', `x-marker:${marker}`);
  const seen = await cap.stop();
  t.equal(r.code, 0, `answered: ${r.stderr}`);
  const f = echoFields(r.stdout);
  t.equal(f.Hostname, remote.metadata.name, 'the node-2 server answered');
  t.equal(f.IP?.replace(/:\d+$/, ''), client!.status?.podIP, 'it sees the client\'s own IP');
  t.ok((seen.ports.get(15008) ?? 0) > 0, `HBONE on the wire (${seen.packets} packets)`);
  t.notOk(seen.ports.has(8080), 'no plaintext connection to the app port between the nodes');
  t.notOk(seen.text.includes(marker), 'the payload never in clear on the wire');
  const [zt] = await pods(NS, 'app.kubernetes.io/name=ambit-ztunnel').then((ps) => ps.filter((p) => p.spec.nodeName === 'node-2'));
  await eventually('node 2\'s ztunnel logs the inbound connection with the client\'s identity', async () => /"direction":"inbound"[^\n]*spiffe:\/\/cluster\.local\/ns\/mesh\/sa\/client/.test(podLog(zt!, 'ztunnel')), 20_000);
});

t.test('a pod started after enrolment is enrolled through the chained plugin', async (t) => {
  const before = new Set((await pods('mesh', 'app=server')).map((p) => p.metadata.name));
  await kubectl(['scale', 'deployment', 'server', '-n', 'mesh', '--replicas=3']);
  const added = await eventually('the third server Running and enrolled', async () => {
    const p = (await pods('mesh', 'app=server')).find((x) => !before.has(x.metadata.name));
    return p && ready(p) && p.metadata.annotations?.[REDIRECTION] === 'enabled' ? p : undefined;
  }, 90_000, 500);
  const [client] = await pods('mesh', 'app=client');
  const r = await call(client!, `http://${added.status!.podIP}:8080/`);
  t.equal(r.code, 0, `the new pod answers through the mesh: ${r.stderr}`);
});

t.test('STRICT refuses plaintext from outside the mesh; an L4 DENY refuses the client', async (t) => {
  const t0 = performance.now();
  const lap = (what: string) => t.comment(`${what} after ${Math.round(performance.now() - t0)} ms`);
  const [client] = await pods('mesh', 'app=client');
  const [outside] = await pods('plain');
  t.equal((await call(outside!, 'http://server.mesh/')).code, 0, 'plaintext from outside allowed before STRICT');
  const strict = 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: strict, namespace: mesh }\nspec: { mtls: { mode: STRICT } }\n';
  await kubectl(['apply', '-f', '-'], strict);
  await eventually('plaintext refused under STRICT', () => refused(outside!, 'http://server.mesh/'), 60_000);
  t.equal((await call(client!, 'http://server/')).code, 0, 'mesh traffic still flows');
  lap('STRICT enforced');
  await kubectl(['delete', '-f', '-'], strict);
  await eventually('plaintext allowed again', async () => (await call(outside!, 'http://server.mesh/')).code === 0, 60_000);
  lap('STRICT lifted');
  const deny =
    'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: deny-client, namespace: mesh }\n' +
    'spec:\n  selector: { matchLabels: { app: server } }\n  action: DENY\n  rules:\n    - from:\n        - source: { principals: ["cluster.local/ns/mesh/sa/client"] }\n';
  await kubectl(['apply', '-f', '-'], deny);
  await eventually('the client refused by the DENY', () => refused(client!, 'http://server/'), 60_000);
  t.equal((await call(outside!, 'http://server.mesh/')).code, 0, 'another source is still allowed');
  lap('DENY enforced');
  await kubectl(['delete', '-f', '-'], deny);
  await eventually('the client allowed again', async () => (await call(client!, 'http://server/')).code === 0, 90_000);
  lap('DENY lifted');
});

t.test('helm uninstall removes it all; the pods keep running outside the mesh', async (t) => {
  const apps = [...(await pods('mesh')), ...(await pods('plain'))];
  for (const name of [...CHARTS].reverse()) {
    const t0 = performance.now();
    await helm(['uninstall', name, '-n', NS, '--wait', '--timeout', '3m']);
    timings[`uninstall ${name}`] = Math.round(performance.now() - t0);
  }
  t.comment(`timings (ms): ${JSON.stringify(timings)}`);
  t.same(JSON.parse(await helm(['list', '-n', NS, '-o', 'json'])), [], 'no releases left');
  await eventually('the charts\' pods gone', async () => (await pods(NS)).length === 0, 60_000, 500);
  for (const node of ['node-1', 'node-2']) {
    t.notOk(pluginsOf(node).includes('ambit-cni'), `${node}: ambit-cni unchained from the node's CNI configuration`);
    t.notOk(existsSync(path.join(c.stateDir, 'nodes', node, 'root', 'opt', 'cni', 'bin', 'ambit-cni')), `${node}: the plugin removed`);
  }
  const after = [...(await pods('mesh')), ...(await pods('plain'))];
  t.same(after.map((p) => p.metadata.uid).sort(), apps.map((p) => p.metadata.uid).sort(), 'the same pods, none restarted or replaced');
  t.ok(after.every(ready), 'all still Running and Ready');
  const [client] = await pods('mesh', 'app=client');
  const remote = (await pods('mesh', 'app=server')).find((p) => p.spec.nodeName === 'node-2')!;
  const cap = await startCapture(`${prefix()}-fabric`);
  const r = await call(client!, `http://${remote.status!.podIP}:8080/`);
  const seen = await cap.stop();
  t.equal(r.code, 0, `the client still reaches the server: ${r.stderr}`);
  t.ok((seen.ports.get(8080) ?? 0) > 0, 'now in plaintext, straight to the app port: out of the mesh');
  t.notOk(seen.ports.has(15008), 'no HBONE any more');
});

t.test('ambit down removes the mount points pods made on the host', async (t) => {
  const record = path.join(c.stateDir, 'host-mount-points');
  const made = existsSync(record) ? [...new Set(readFileSync(record, 'utf8').split('\n').filter(Boolean))] : [];
  if (!secretsExisted) t.ok(made.some((p) => p.startsWith('/var/run/secrets')), `the pods' token mount points were recorded: ${made.join(', ')}`);
  const r = await c.down();
  t.equal(r.code, 0, r.stderr);
  t.same(made.filter((p) => existsSync(p)), [], 'none of them is left');
});
