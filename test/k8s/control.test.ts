/**
 * Tier 4: the control plane in Kubernetes mode on a real kube-apiserver. It reads the cluster
 * through the Kubernetes store and serves it over xDS; callers authenticate with pod-bound
 * service-account tokens the apiserver reviews; the node authorizer follows spec.nodeName; the
 * CA root is published as ConfigMap istio-ca-root-cert in every namespace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { parseCertificateChain, spiffeIdOf } from '../../lib/identity/chain.js';
import { KubeStore } from '../../lib/store/kube.js';
import { TYPE_ADDRESS } from '../../lib/xds/types.js';
import { TestClient } from '../integration/testkit/control.js';
import { askCertificate, caClient, createPod, ensureNamespace, ensureServiceAccount, forceDeletePod, podToken, startKubePlane, waitUntil, type CertOutcome } from './mesh-testkit.js';
import { freePort, startCluster } from './testkit.js';

const id = (ns: string, sa: string): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;
const AUD = 'ambit-control';

const cluster = await startCluster(t);
const admin = new KubeStore(cluster.kubeConfig());
t.teardown(() => admin.close());

await ensureNamespace(admin, 'istio-system');
await ensureNamespace(admin, 'shop', { 'istio.io/dataplane-mode': 'ambient' });
const ztunnelA = await createPod(admin, 'istio-system', 'ztunnel-a', { serviceAccount: 'ztunnel', node: 'node-a', ip: '10.0.0.10' });
const ztunnelB = await createPod(admin, 'istio-system', 'ztunnel-b', { serviceAccount: 'ztunnel', node: 'node-b', ip: '10.0.0.11' });
await createPod(admin, 'shop', 'cart-1', { serviceAccount: 'cart', node: 'node-a', ip: '10.244.1.5', labels: { app: 'cart' } });
await createPod(admin, 'shop', 'pay-1', { serviceAccount: 'pay', node: 'node-b', ip: '10.244.2.5', labels: { app: 'pay' } });
const waypoint = await createPod(admin, 'shop', 'waypoint-1', { serviceAccount: 'waypoint', node: 'node-b', ip: '10.244.2.9' });
await ensureServiceAccount(admin, 'shop', 'idle');
await admin.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'cart', namespace: 'shop' }, spec: { selector: { app: 'cart' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });

const started = performance.now();
const { plane, log } = await startKubePlane(t, cluster, 'control-0');
t.comment(`control plane on the apiserver ready in ${Math.round(performance.now() - started)} ms`);
const ca = caClient(t, plane);
const tokenA = await podToken(admin, ztunnelA, AUD);

t.test('a real xDS client gets the Workload and the Service from the apiserver', async (t) => {
  t.ok(plane.isReady());
  t.ok(plane.isLeader(), 'the only replica leads');
  const client = new TestClient(t, plane.addresses.grpc, plane.rootCertPem, tokenA, 'ztunnel-a', 'node-a');
  await waitUntil('cart-1 and the cart service over xDS', () => client.names().some((n) => n.endsWith('/Pod/shop/cart-1')) && client.names().some((n) => n.includes('cart.shop.svc.cluster.local')));
  const workload = [...client.addresses.entries()].find(([n]) => n.endsWith('/Pod/shop/cart-1'))![1];
  t.match(workload.type, { case: 'workload', value: { name: 'cart-1', namespace: 'shop', serviceAccount: 'cart', node: 'node-a' } });
  const service = [...client.addresses.entries()].find(([n]) => n.includes('cart.shop.svc.cluster.local'))![1];
  t.match(service.type, { case: 'service', value: { name: 'cart', namespace: 'shop', hostname: 'cart.shop.svc.cluster.local' } });
  t.ok(client.responses.get(TYPE_ADDRESS)!.length >= 1);

  // A pod started later arrives as it gets its address (the status subresource, as a kubelet writes it).
  await createPod(admin, 'shop', 'cart-2', { serviceAccount: 'cart', node: 'node-b', labels: { app: 'cart' } });
  await admin.patch({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'cart-2' }, { status: { phase: 'Running', podIP: '10.244.2.6', podIPs: [{ ip: '10.244.2.6' }] } });
  const ms = await waitUntil('cart-2 over xDS', () => client.names().some((n) => n.endsWith('/Pod/shop/cart-2')));
  t.comment(`a new pod's status write reached the xDS client in ${Math.round(ms)} ms`);
  await forceDeletePod(admin, 'shop', 'cart-2');
  await waitUntil('cart-2 removed over xDS', () => !client.names().some((n) => n.endsWith('/Pod/shop/cart-2')));
});

function identityOf(o: CertOutcome): string | undefined {
  return o.ok ? spiffeIdOf(parseCertificateChain(o.chain)[0]!).uri : undefined;
}

t.test("ztunnel's pod-bound token: certificates for its own node's pods only", async (t) => {
  t.equal(identityOf(await askCertificate(ca, id('shop', 'cart'), tokenA)), id('shop', 'cart'), 'cart has a pod on node-a');
  for (const [what, who] of [['a pod on another node', id('shop', 'pay')], ['no pod at all', id('shop', 'idle')]] as const) {
    const r = await askCertificate(ca, who, tokenA);
    t.match(r, { ok: false, code: grpc.status.PERMISSION_DENIED, errorCode: 'NODE_NOT_AUTHORIZED', details: /node node-a has no pod running as/ }, what);
  }
  const tokenB = await podToken(admin, ztunnelB, AUD);
  t.equal(identityOf(await askCertificate(ca, id('shop', 'pay'), tokenB)), id('shop', 'pay'), "node-b's ztunnel gets pay");
});

t.test('a token for another audience, and no token, are UNAUTHENTICATED', async (t) => {
  const wrong = await podToken(admin, ztunnelA, 'someone-else');
  const r = await askCertificate(ca, id('shop', 'cart'), wrong);
  t.match(r, { ok: false, code: grpc.status.UNAUTHENTICATED, errorCode: 'CREDENTIAL_INVALID', details: /refused the token for audience "ambit-control"/ });
  t.match(await askCertificate(ca, id('shop', 'cart'), ''), { ok: false, code: grpc.status.UNAUTHENTICATED });
  // The same token over xDS: the stream is refused too.
  const client = new TestClient(t, plane.addresses.grpc, plane.rootCertPem, wrong, 'ztunnel-a', 'node-a');
  await waitUntil('the refused stream to be counted', () => log.find(/refused|unauthenticated/i).length > 0);
  t.same(client.names(), [], 'nothing is served to it');
});

t.test("a waypoint's token gets its own identity only", async (t) => {
  const token = await podToken(admin, waypoint, AUD);
  t.equal(identityOf(await askCertificate(ca, id('shop', 'waypoint'), token, true)), id('shop', 'waypoint'));
  const other = await askCertificate(ca, id('shop', 'cart'), token);
  t.match(other, { ok: false, code: grpc.status.PERMISSION_DENIED, errorCode: 'WORKLOAD_NOT_AUTHORIZED', details: /workload spiffe:\/\/cluster.local\/ns\/shop\/sa\/waypoint may only get a certificate for itself/ });
});

t.test("a ztunnel token whose pod was deleted is refused", async (t) => {
  const gone = await createPod(admin, 'istio-system', 'ztunnel-gone', { serviceAccount: 'ztunnel', node: 'node-a', ip: '10.0.0.12' });
  const token = await podToken(admin, gone, AUD);
  t.ok((await askCertificate(ca, id('shop', 'cart'), token)).ok, 'works while its pod exists');
  await forceDeletePod(admin, 'istio-system', 'ztunnel-gone');
  // The review is cached, but the bound pod is looked up on every request.
  const ms = await waitUntil('the token to stop working', async () => !(await askCertificate(ca, id('shop', 'cart'), token)).ok);
  t.match(await askCertificate(ca, id('shop', 'cart'), token), { ok: false, code: grpc.status.UNAUTHENTICATED, details: /bound to pod istio-system\/ztunnel-gone, which does not exist|refused the token/ });
  t.comment(`refused ${Math.round(ms)} ms after its pod was deleted`);
});

t.test('node credentials of File mode still work', async (t) => {
  const cred = plane.issueNodeCredential('node-a');
  t.equal(identityOf(await askCertificate(ca, id('shop', 'cart'), cred)), id('shop', 'cart'));
  t.match(await askCertificate(ca, id('shop', 'pay'), cred), { ok: false, code: grpc.status.PERMISSION_DENIED });
});

t.test('the root certificate is in every namespace as ConfigMap istio-ca-root-cert, and kept there', async (t) => {
  const key = (namespace: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'istio-ca-root-cert' });
  const root = async (namespace: string): Promise<unknown> => ((await admin.get(key(namespace)))?.data as Record<string, string> | undefined)?.['root-cert.pem'];
  for (const ns of ['default', 'shop', 'istio-system', 'kube-system']) await waitUntil(`the ConfigMap in ${ns}`, async () => (await root(ns)) === plane.rootCertPem);
  await ensureNamespace(admin, 'fresh');
  const created = await waitUntil('the ConfigMap in a new namespace', async () => (await root('fresh')) === plane.rootCertPem);
  await admin.delete(key('fresh'));
  const restored = await waitUntil('the deleted ConfigMap restored', async () => (await root('fresh')) === plane.rootCertPem);
  await admin.patch(key('fresh'), { data: { 'root-cert.pem': 'tampered' } });
  const repaired = await waitUntil('the edited ConfigMap repaired', async () => (await root('fresh')) === plane.rootCertPem);
  t.comment(`new namespace ${Math.round(created)} ms, deleted → restored ${Math.round(restored)} ms, edited → repaired ${Math.round(repaired)} ms`);
  t.pass();
});

t.test('the CA lives in Secret istio-ca-secret, so replicas share it', async (t) => {
  const secret = await admin.get({ apiVersion: 'v1', kind: 'Secret', namespace: 'istio-system', name: 'istio-ca-secret' });
  const data = secret?.data as Record<string, string>;
  t.equal(Buffer.from(data['ca-cert.pem']!, 'base64').toString(), plane.rootCertPem);
  t.ok(data['ca-key.pem'] && data['node-token-key.pem']);
  const second = await startKubePlane(t, cluster, 'control-1');
  t.equal(second.plane.rootCertPem, plane.rootCertPem, 'a second replica signs under the same root');
  const other = caClient(t, second.plane);
  t.ok((await askCertificate(other, id('shop', 'cart'), plane.issueNodeCredential('node-a'))).ok, "the other replica accepts this one's node credentials");
  await second.plane.close();
});

t.test('`ambit control --kubeconfig` runs on the apiserver as a process', async (t) => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const caDir = mkdtempSync(path.join(tmpdir(), `ambit-kcli-${process.pid}-`));
  t.teardown(() => rmSync(caDir, { recursive: true, force: true }));
  const ready = await freePort();
  const child = spawn(process.execPath, [path.join(root, 'dist', 'cli', 'main.js'), 'control', '--kubeconfig', cluster.kubeconfig, '--ca-dir', caDir, '--grpc-address', '127.0.0.1:0', '--monitoring-address', '127.0.0.1:0', '--dashboard-address', '127.0.0.1:0', '--readiness-address', `127.0.0.1:${ready}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, POD_NAME: 'control-cli', KUBECONFIG: '' },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  });
  await waitUntil('the CLI control plane to be ready', async () => (await fetch(`http://127.0.0.1:${ready}/healthz/ready`).then((r) => r.status, () => 0)) === 200, 30_000).catch((e: Error) => {
    throw new Error(`${e.message}; its output:\n${out}`);
  });
  t.match(out, /"msg":"CA: using the shared CA from its Secret"/, 'it joined the running CA through istio-ca-secret');
  t.match(out, /"msg":"control plane ready"/);
});
