/**
 * Tier 4: control plane replicas on one apiserver elect a leader through a coordination.k8s.io/v1
 * Lease. Only the leader writes status and the root ConfigMaps; every replica serves xDS and the
 * CA; when the leader dies (its lease lapses) or stops (it releases the lease) another takes over.
 */
import t from 'tap';
import type { Config } from '../../control/config.js';
import { KubeStore } from '../../lib/store/kube.js';
import type { KubeObject } from '../../lib/store/types.js';
import { TestClient } from '../integration/testkit/control.js';
import { askCertificate, caClient, createPod, ensureNamespace, podToken, startKubePlane, waitUntil, type Plane } from './mesh-testkit.js';
import { startCluster } from './testkit.js';

const LEASE_MS = 2000;
const RETRY_MS = 250;
const short = (c: Config): Config => ({ ...c, leaderElection: { ...c.leaderElection, leaseDurationMs: LEASE_MS, renewDeadlineMs: 1500, retryPeriodMs: RETRY_MS } });

const cluster = await startCluster(t);
const admin = new KubeStore(cluster.kubeConfig());
t.teardown(() => admin.close());
await ensureNamespace(admin, 'istio-system');
await ensureNamespace(admin, 'shop', { 'istio.io/dataplane-mode': 'ambient' });
const ztunnel = await createPod(admin, 'istio-system', 'ztunnel-a', { serviceAccount: 'ztunnel', node: 'node-a', ip: '10.0.0.10' });
await createPod(admin, 'shop', 'cart-1', { serviceAccount: 'cart', node: 'node-a', ip: '10.244.1.5', labels: { app: 'cart' } });

const lease = async (): Promise<KubeObject | undefined> => admin.get({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: 'istio-system', name: 'ambit-control-leader' });
const holder = async (): Promise<unknown> => ((await lease())?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
const wrote = (p: Plane, msg: string, field: string, value: string): boolean => p.log.find(msg).some((l) => l[field] === value);
const rootIn = async (ns: string): Promise<string | undefined> =>
  ((await admin.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: 'istio-ca-root-cert' }))?.data as Record<string, string> | undefined)?.['root-cert.pem'];

const a = await startKubePlane(t, cluster, 'control-a', short);
await waitUntil('control-a to lead', () => a.plane.isLeader());
const b = await startKubePlane(t, cluster, 'control-b', short);

t.test('one leader; it alone writes status and root ConfigMaps; every replica serves', async (t) => {
  await new Promise((r) => setTimeout(r, 3 * RETRY_MS + LEASE_MS));
  t.ok(a.plane.isLeader(), 'the first replica leads');
  t.notOk(b.plane.isLeader(), 'the second does not');
  t.equal(await holder(), 'control-a');

  await admin.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'cart', namespace: 'shop', labels: { 'istio.io/use-waypoint': 'missing' } }, spec: { selector: { app: 'cart' }, ports: [{ port: 80, targetPort: 8080 }] } });
  await waitUntil('the WaypointBound condition on the Service', async () => {
    const svc = await admin.get({ apiVersion: 'v1', kind: 'Service', namespace: 'shop', name: 'cart' });
    return ((svc?.status as { conditions?: Array<{ type: string }> } | undefined)?.conditions ?? []).some((c) => c.type === 'istio.io/WaypointBound');
  });
  t.ok(wrote(a, 'status written', 'object', 'Service/shop/cart'), 'the leader wrote it');
  t.notOk(b.log.find('status written').length, 'the other replica wrote no status');

  await ensureNamespace(admin, 'team-1');
  await waitUntil('the root ConfigMap in team-1', async () => (await rootIn('team-1')) === a.plane.rootCertPem);
  t.ok(wrote(a, 'published the CA root', 'namespace', 'team-1'));
  t.notOk(b.log.find('published the CA root').length, 'the other replica published nothing');

  // Both serve xDS and the CA.
  const token = await podToken(admin, ztunnel, 'ambit-control');
  for (const p of [a, b]) {
    const client = new TestClient(t, p.plane.addresses.grpc, p.plane.rootCertPem, token, 'ztunnel-a', 'node-a');
    await waitUntil(`cart-1 over xDS from ${p.config.controlPlaneId}`, () => client.names().some((n) => n.endsWith('/Pod/shop/cart-1')));
    t.ok((await askCertificate(caClient(t, p.plane), 'spiffe://cluster.local/ns/shop/sa/cart', token)).ok, `${p.config.controlPlaneId} signs`);
    client.client.close();
  }
});

t.test('the leader dies: another replica takes over once the lease lapses', async (t) => {
  const stopped = performance.now();
  await a.plane.close({ releaseLease: false });
  const ms = await waitUntil('control-b to lead', () => b.plane.isLeader(), 10_000);
  t.comment(`took over ${Math.round(ms)} ms after the leader stopped renewing (lease ${LEASE_MS} ms, retry ${RETRY_MS} ms)`);
  t.ok(ms <= LEASE_MS + 2 * RETRY_MS + 500, `within the lease duration and a retry (${Math.round(ms)} ms)`);
  t.ok(performance.now() - stopped >= LEASE_MS - 2 * RETRY_MS, 'not before the lease could have lapsed');
  t.equal(await holder(), 'control-b');
  t.match((await lease())?.spec, { leaseTransitions: 1 });

  // The new leader runs the controllers: it restores a deleted root ConfigMap.
  await admin.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'team-1', name: 'istio-ca-root-cert' });
  await waitUntil('the root ConfigMap restored', async () => (await rootIn('team-1')) === b.plane.rootCertPem);
  t.ok(wrote(b, 'published the CA root', 'namespace', 'team-1'), 'by the new leader');
});

t.test('a leader that stops cleanly hands the lease over at once', async (t) => {
  const c = await startKubePlane(t, cluster, 'control-c', short);
  await new Promise((r) => setTimeout(r, 2 * RETRY_MS));
  t.notOk(c.plane.isLeader());
  await b.plane.close();
  const ms = await waitUntil('control-c to lead', () => c.plane.isLeader(), 10_000);
  t.comment(`took over ${Math.round(ms)} ms after the leader released the lease`);
  t.ok(ms < LEASE_MS, 'sooner than the lease could lapse');
  t.equal(await holder(), 'control-c');
});
