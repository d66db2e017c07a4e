// The controller over the File store, with the control plane's informers: what it writes for a
// Gateway, how status follows the cluster (the Service's cluster IP, the Deployment's ready
// replicas), what it repairs, what it leaves alone, and that everything goes with the Gateway.
import t, { type Test } from 'tap';
import { openStore } from '../../lib/store/index.js';
import { tempDir } from '../../lib/store/testkit.js';
import type { ClusterStore, Kind, KubeObject } from '../../lib/store/types.js';
import { CONFIG_MAP, DEPLOYMENT, SERVICE, SERVICE_ACCOUNT, type Deployment, type Service } from '../../lib/k8s/types.js';
import { GATEWAY, gatewayAddresses, gatewayCondition } from '../../lib/k8s/gateway.js';
import { silentLogger } from '../../lib/telemetry/log.js';
import { Informer } from '../xds/informer.js';
import { GatewayController } from './controller.js';
import { RENDER, gateway } from './testkit.js';

const NS = 'demo';
const key = (kind: Kind, name: string, namespace = NS) => ({ ...kind, namespace, name });

async function setUp(t: Test): Promise<{ store: ClusterStore; controller: GatewayController; settle: () => Promise<void> }> {
  const dir = tempDir('gw-ctl');
  const store = openStore(dir.dir);
  const log = silentLogger();
  const inf = (k: Kind) => new Informer(store, k, log);
  const informers = { gateways: inf(GATEWAY), deployments: inf(DEPLOYMENT), services: inf(SERVICE), serviceAccounts: inf(SERVICE_ACCOUNT), configMaps: inf(CONFIG_MAP) };
  for (const i of Object.values(informers)) i.start();
  await Promise.all(Object.values(informers).map((i) => i.synced));
  const controller = new GatewayController({ store, ...informers, render: RENDER, domainSuffix: 'cluster.local', log }).start();
  t.teardown(async () => {
    await controller.close();
    for (const i of Object.values(informers)) i.close();
    await store.close();
    dir.remove();
  });
  /** Waits until the controller's writes came back through the watch and it has nothing left to do. */
  const settle = async (): Promise<void> => {
    let before = -1;
    while (before !== controller.writes) {
      before = controller.writes;
      await new Promise((r) => setTimeout(r, 150));
      await controller.idle();
    }
  };
  return { store, controller, settle };
}

/** Waits for `fn` to hold, polling the store (watch events are delivered asynchronously). */
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('a waypoint Gateway is deployed, becomes Programmed, and goes away with everything it owns', async (t) => {
  const { store, settle } = await setUp(t);
  const gw = await store.create(gateway({ uid: 'ignored' }));
  const uid = gw.metadata.uid!;

  const dep = await until('the Deployment', () => store.get<Deployment>(key(DEPLOYMENT, 'waypoint')));
  const svc = await until('the Service', () => store.get<Service>(key(SERVICE, 'waypoint')));
  const sa = await until('the ServiceAccount', () => store.get(key(SERVICE_ACCOUNT, 'waypoint')));
  for (const o of [dep, svc, sa]) {
    t.same(o.metadata.ownerReferences, [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'waypoint', uid, controller: true }], `${o.kind} owned by the Gateway`);
    t.equal(o.metadata.labels?.['gateway.istio.io/managed'], 'istio.io-mesh-controller', `${o.kind} is managed`);
  }
  t.same(dep.spec.template.spec.containers[0]?.command, ['ambit', 'waypoint']);

  await settle();
  let cur = (await store.get(key(GATEWAY, 'waypoint')))!;
  t.match(gatewayCondition(cur, 'Accepted'), { status: 'True', reason: 'Accepted', observedGeneration: 1 });
  t.match(gatewayCondition(cur, 'Programmed'), { status: 'False', reason: 'AddressNotAssigned' });
  t.same(gatewayAddresses(cur), [], 'no address before it is ready');

  // What the local cluster's controllers do: a cluster IP, then a ready replica.
  await store.patch(key(SERVICE, 'waypoint'), { spec: { clusterIP: '10.96.0.50', clusterIPs: ['10.96.0.50'] } });
  await settle();
  cur = (await store.get(key(GATEWAY, 'waypoint')))!;
  t.match(gatewayCondition(cur, 'Programmed'), { status: 'False', reason: 'NoResources' });
  await store.patch(key(DEPLOYMENT, 'waypoint'), { status: { replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1 } });
  cur = await until('Programmed=True', async () => {
    const g = await store.get(key(GATEWAY, 'waypoint'));
    return g && gatewayCondition(g, 'Programmed')?.status === 'True' ? g : undefined;
  });
  t.same(gatewayAddresses(cur), [{ type: 'IPAddress', value: '10.96.0.50' }, { type: 'Hostname', value: 'waypoint.demo.svc.cluster.local' }]);
  t.equal((await store.get<Service>(key(SERVICE, 'waypoint')))!.spec.clusterIP, '10.96.0.50', 'the allocated cluster IP is kept');
  await settle();
  const settledVersion = (await store.get(key(GATEWAY, 'waypoint')))!.metadata.resourceVersion;
  await settle();
  t.equal((await store.get(key(GATEWAY, 'waypoint')))!.metadata.resourceVersion, settledVersion, 'a settled Gateway is not rewritten');

  // A user edits the Deployment: the controller puts it back.
  await store.patch(key(DEPLOYMENT, 'waypoint'), { spec: { template: { spec: { containers: [{ name: 'waypoint', command: ['sleep', '1000'] }] } } } });
  await until('the Deployment restored', async () => (await store.get<Deployment>(key(DEPLOYMENT, 'waypoint')))?.spec.template.spec.containers[0]?.command?.[0] === 'ambit');

  await store.delete(key(GATEWAY, 'waypoint'));
  await until('everything deleted', async () => {
    const left = await Promise.all([DEPLOYMENT, SERVICE, SERVICE_ACCOUNT].map((k) => store.get(key(k, 'waypoint'))));
    return left.every((o) => o === undefined);
  });
});

t.test('invalid Gateways get a status naming the field, and nothing is deployed', async (t) => {
  const { store, settle } = await setUp(t);
  await store.create(gateway({ name: 'bad-port', listeners: [{ name: 'mesh', port: 15009, protocol: 'HBONE' }] }));
  await store.create(gateway({ name: 'bad-for', labels: { 'istio.io/waypoint-for': 'everything' } }));
  await store.create(gateway({ name: 'bad-class', className: 'istio' }));
  await store.create(gateway({ name: 'ingress', className: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }));
  await settle();
  const status = async (name: string) => {
    const g = (await store.get(key(GATEWAY, name)))!;
    const a = gatewayCondition(g, 'Accepted');
    return a ? `${a.status} ${a.reason}: ${a.message}` : 'none';
  };
  t.match(await status('bad-port'), /^False ListenersNotValid: spec\.listeners: expected a single listener on port 15008/);
  t.match(await status('bad-for'), /^False InvalidParameters: metadata\.labels\['istio\.io\/waypoint-for'\] is "everything"/);
  t.match(await status('bad-class'), /^False InvalidParameters: spec\.gatewayClassName is "istio"/);
  t.equal(await status('ingress'), 'none', "another class's Gateway is left alone");
  t.same(await store.list(DEPLOYMENT), [], 'no Deployment for invalid Gateways');

  // Fixing the listener deploys it.
  await store.patch(key(GATEWAY, 'bad-port'), { spec: { listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } });
  await until('deployed once fixed', () => store.get(key(DEPLOYMENT, 'bad-port')));
  await settle();
  t.match(await status('bad-port'), /^True Accepted/);
  // Breaking it again takes the deployment down.
  await store.patch(key(GATEWAY, 'bad-port'), { spec: { listeners: [] } });
  await until('removed once invalid', async () => (await store.get(key(DEPLOYMENT, 'bad-port'))) === undefined);
});

t.test("an existing object of the same name that is not the controller's is never touched", async (t) => {
  const { store, settle } = await setUp(t);
  const mine: KubeObject = { ...DEPLOYMENT, metadata: { name: 'waypoint', namespace: NS, labels: { app: 'mine' } }, spec: { selector: { matchLabels: { app: 'mine' } }, template: { metadata: { labels: { app: 'mine' } }, spec: { containers: [{ name: 'c', command: ['true'] }] } } } };
  await store.create(mine);
  await store.create(gateway());
  await settle();
  const dep = (await store.get<Deployment>(key(DEPLOYMENT, 'waypoint')))!;
  t.same(dep.spec, mine.spec, 'the Deployment is as its owner wrote it');
  const g = (await store.get(key(GATEWAY, 'waypoint')))!;
  t.match(gatewayCondition(g, 'Programmed'), { status: 'False', reason: 'Invalid', message: /Deployment demo\/waypoint already exists/ });
  await store.delete(key(GATEWAY, 'waypoint'));
  await settle();
  t.ok(await store.get(key(DEPLOYMENT, 'waypoint')), 'and it stays when the Gateway goes');
  t.equal(await store.get(key(SERVICE, 'waypoint')), undefined, 'while what the controller created goes');
});

t.test('spec.infrastructure.parametersRef: a ConfigMap patches the Deployment (replicas, env), and a bad one is reported without taking the waypoint down', async (t) => {
  const { store, settle } = await setUp(t);
  const cm = (deployment: string): KubeObject => ({ ...CONFIG_MAP, metadata: { name: 'waypoint-params', namespace: NS }, data: { deployment } } as KubeObject);
  await store.create(cm('spec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n      - name: waypoint\n        env:\n        - name: AMBIT_LOG_LEVEL\n          value: debug\n'));
  await store.create(gateway({ parametersRef: { group: '', kind: 'ConfigMap', name: 'waypoint-params' } }));
  const dep = await until('the patched Deployment', async () => {
    const d = await store.get<Deployment>(key(DEPLOYMENT, 'waypoint'));
    return d?.spec.replicas === 2 ? d : undefined;
  });
  const c = dep.spec.template.spec.containers[0]!;
  t.same(c.command, ['ambit', 'waypoint'], 'the rendered container is kept');
  t.ok(c.env?.some((e) => e.name === 'GATEWAY_NAME'), 'rendered env kept');
  t.ok(c.env?.some((e) => e.name === 'AMBIT_LOG_LEVEL' && e.value === 'debug'), 'patched env added');
  t.equal(dep.metadata.labels?.['gateway.istio.io/managed'], 'istio.io-mesh-controller');

  // Changing the ConfigMap changes the Deployment.
  await store.patch(key(CONFIG_MAP, 'waypoint-params'), { data: { deployment: 'spec:\n  replicas: 3\n' } });
  await until('replicas 3', async () => (await store.get<Deployment>(key(DEPLOYMENT, 'waypoint')))?.spec.replicas === 3);

  // A patch that would take the pods away from the Service is refused; the Deployment stays as it was.
  await store.patch(key(CONFIG_MAP, 'waypoint-params'), { data: { deployment: 'spec:\n  selector:\n    matchLabels: {app: other}\n' } });
  await settle();
  const g = (await store.get(key(GATEWAY, 'waypoint')))!;
  t.match(gatewayCondition(g, 'Accepted'), { status: 'False', reason: 'InvalidParameters', message: /ConfigMap demo\/waypoint-params: data\.deployment may not change spec\.selector/ });
  t.equal((await store.get<Deployment>(key(DEPLOYMENT, 'waypoint')))?.spec.replicas, 3, 'the running waypoint is left alone');

  // A missing ConfigMap names the field.
  await store.patch(key(GATEWAY, 'waypoint'), { spec: { infrastructure: { parametersRef: { group: '', kind: 'ConfigMap', name: 'nope' } } } });
  await settle();
  t.match(gatewayCondition((await store.get(key(GATEWAY, 'waypoint')))!, 'Accepted'), { status: 'False', message: /spec\.infrastructure\.parametersRef\.name: ConfigMap demo\/nope not found/ });
});
