import t from 'tap';
import type { Deployment, Pod, Service } from '../../../lib/k8s/types.js';
import { planDeployment, templateHash, validateDeployment, TEMPLATE_HASH_LABEL } from './deployments.js';
import { schedule } from './scheduler.js';
import { buildEndpoints } from './endpoints.js';
import { allocateVip } from './vip.js';

function dep(replicas: number, image = 'echo:v1'): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'demo', uid: 'u1' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image, command: ['sleep', '1000'] }] } },
    },
  };
}

function pod(name: string, opts: { hash?: string; ready?: boolean; labels?: Record<string, string>; ip?: string; ports?: Array<{ name: string; containerPort: number }>; created?: string } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'demo',
      creationTimestamp: opts.created ?? '2026-01-01T00:00:00Z',
      labels: { app: 'web', ...(opts.hash ? { [TEMPLATE_HASH_LABEL]: opts.hash } : {}), ...(opts.labels ?? {}) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u1', controller: true }],
    },
    spec: { containers: [{ name: 'c', ...(opts.ports ? { ports: opts.ports } : {}) }], nodeName: 'node-1' },
    status: {
      phase: 'Running',
      ...(opts.ip ? { podIP: opts.ip } : {}),
      conditions: [{ type: 'Ready', status: opts.ready ? 'True' : 'False' }],
    },
  };
}

t.test('deployment controller', async (t) => {
  const d = dep(2);
  const h = templateHash(d);
  let n = 0;
  const sfx = () => `x${n++}`;
  const fresh = planDeployment(d, [], sfx);
  t.equal(fresh.create.length, 2, 'creates the missing replicas');
  t.equal(fresh.create[0]!.metadata.labels?.[TEMPLATE_HASH_LABEL], h, 'labels pods with the template hash');
  t.match(fresh.create[0]!.metadata.name, /^web-[0-9a-f]{10}-x0$/);
  t.equal(fresh.create[0]!.metadata.ownerReferences?.[0]?.uid, 'u1');

  const steady = planDeployment(d, [pod('a', { hash: h, ready: true }), pod('b', { hash: h, ready: true })], sfx);
  t.same([steady.create.length, steady.delete], [0, []], 'nothing to do at the desired state');
  t.equal(steady.status.readyReplicas, 2);

  const down = planDeployment(dep(1), [pod('a', { hash: templateHash(dep(1)), ready: true }), pod('b', { hash: templateHash(dep(1)), ready: false })], sfx);
  t.same(down.delete, ['b'], 'scaling down removes the not-ready pod first');

  const d2 = dep(2, 'echo:v2');
  const h2 = templateHash(d2);
  t.not(h2, h, 'a template change changes the hash');
  const rolling = planDeployment(d2, [pod('a', { hash: h, ready: true }), pod('b', { hash: h, ready: true })], sfx);
  t.equal(rolling.create.length, 2, 'rollout surges new pods');
  t.same(rolling.delete, [], 'old pods stay until new ones are ready');
  const done = planDeployment(d2, [pod('a', { hash: h, ready: true }), pod('b', { hash: h, ready: true }), pod('c', { hash: h2, ready: true }), pod('d', { hash: h2, ready: true })], sfx);
  t.same(done.delete.sort(), ['a', 'b'], 'old pods go once the new ones are ready');

  const foreign = pod('z', { hash: h, ready: true });
  foreign.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'other', uid: 'u9' }];
  t.equal(planDeployment(d, [foreign], sfx).create.length, 2, 'pods of other deployments do not count');
});

t.test('deployment validation names the field', async (t) => {
  const bad = dep(1);
  bad.spec.replicas = -1;
  bad.spec.template.metadata = { labels: { app: 'other' } };
  t.same(validateDeployment(bad), ['spec.replicas: must be a non-negative integer', 'spec.template.metadata.labels: must match spec.selector.matchLabels']);
  const noContainers = dep(1);
  noContainers.spec.template.spec.containers = [];
  t.match(validateDeployment(noContainers)[0], /^spec\.template\.spec\.containers/);
  t.same(validateDeployment(dep(1)), []);
});

t.test('scheduler', async (t) => {
  const nodes = [
    { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1' } },
    { name: 'node-2', labels: { 'kubernetes.io/hostname': 'node-2' } },
  ];
  const p = pod('a');
  delete p.spec.nodeName;
  t.equal(schedule(p, nodes, new Map([['node-1', 3], ['node-2', 1]])), 'node-2', 'fewest pods wins');
  t.equal(schedule(p, nodes, new Map()), 'node-1', 'ties go by name');
  t.equal(schedule({ ...p, spec: { ...p.spec, nodeSelector: { 'kubernetes.io/hostname': 'node-1' } } }, nodes, new Map([['node-1', 9]])), 'node-1', 'nodeSelector');
  t.same(schedule({ ...p, spec: { ...p.spec, nodeName: 'node-7' } }, nodes, new Map()), { error: 'spec.nodeName: node node-7 does not exist' });
  t.match(schedule({ ...p, spec: { ...p.spec, nodeSelector: { zone: 'x' } } }, nodes, new Map()), { error: /spec.nodeSelector/ });
});

t.test('endpoints', async (t) => {
  const svc: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'demo' },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'tcp', port: 9000 }] },
  };
  const subsets = buildEndpoints(svc, [
    pod('a', { ip: '10.244.1.2', ready: true, ports: [{ name: 'http', containerPort: 8080 }] }),
    pod('b', { ip: '10.244.2.2', ready: false, ports: [{ name: 'http', containerPort: 8080 }] }),
    pod('c', { ip: '10.244.2.3', ready: true, ports: [{ name: 'http', containerPort: 8081 }] }),
    pod('d', { ready: true, ports: [{ name: 'http', containerPort: 8080 }] }),
    pod('e', { ip: '10.244.1.9', ready: true, labels: { app: 'other' } }),
  ]);
  t.equal(subsets.length, 2, 'pods with different named-port numbers are in different subsets');
  const s8080 = subsets.find((s) => s.ports?.[0]?.port === 8080)!;
  t.same(s8080.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'tcp', port: 9000, protocol: 'TCP' }]);
  t.same(s8080.addresses?.map((a) => a.ip), ['10.244.1.2'], 'ready pod in addresses');
  t.same(s8080.notReadyAddresses?.map((a) => a.ip), ['10.244.2.2'], 'unready pod in notReadyAddresses');
  t.equal(s8080.addresses?.[0]?.targetRef?.name, 'a');
  t.same(buildEndpoints({ ...svc, spec: { ...svc.spec, selector: {} } }, [pod('a', { ip: '10.244.1.2', ready: true })]), [], 'an empty selector selects nothing');
});

t.test('VIP allocation', async (t) => {
  t.equal(allocateVip(undefined, new Set()), '10.96.0.2', 'skips reserved addresses');
  t.equal(allocateVip(undefined, new Set(['10.96.0.2', '10.96.0.3'])), '10.96.0.4');
  t.equal(allocateVip('10.96.3.4', new Set()), '10.96.3.4', 'keeps a requested free address');
  t.match(allocateVip('10.96.3.4', new Set(['10.96.3.4'])), { error: /already allocated/ });
  t.match(allocateVip('192.168.1.1', new Set()), { error: /spec.clusterIP: 192.168.1.1 is not in the service range/ });
});
