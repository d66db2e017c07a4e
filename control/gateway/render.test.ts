import t from 'tap';
import type { Deployment, Service } from '../../lib/k8s/types.js';
import { classify } from './classify.js';
import { portName, renderWaypoint } from './render.js';
import { RENDER, gateway } from './testkit.js';

const OWNER = [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'waypoint', uid: 'gw-uid-1', controller: true }];
const LABELS = { 'gateway.networking.k8s.io/gateway-name': 'waypoint', 'gateway.istio.io/managed': 'istio.io-mesh-controller' };

t.test('a waypoint Gateway renders the ServiceAccount, Deployment and Service of the contract', async (t) => {
  const gw = gateway();
  const c = classify(gw);
  if (c.kind !== 'waypoint') throw new Error(`not a waypoint: ${JSON.stringify(c)}`);
  const [sa, dep, svc] = renderWaypoint(gw.metadata, [c.listener], RENDER) as [unknown, Deployment, Service];
  t.same(sa, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'waypoint', namespace: 'demo', labels: LABELS, ownerReferences: OWNER } });

  t.same(dep.metadata, { name: 'waypoint', namespace: 'demo', labels: LABELS, ownerReferences: OWNER });
  t.same(dep.spec.selector, { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } });
  const pod = dep.spec.template;
  t.match(pod.metadata?.labels, { 'gateway.networking.k8s.io/gateway-name': 'waypoint', 'gateway.istio.io/managed': 'istio.io-mesh-controller', 'istio.io/dataplane-mode': 'none' });
  t.equal(pod.spec.serviceAccountName, 'waypoint');
  t.equal(pod.spec.containers.length, 1);
  const c0 = pod.spec.containers[0]!;
  t.match(c0, { name: 'waypoint', image: 'ambit', command: ['ambit', 'waypoint'] });
  const env = Object.fromEntries((c0.env ?? []).map((e) => [e.name, e.value ?? `fieldRef:${e.valueFrom?.fieldRef?.fieldPath}`]));
  t.same(env, {
    GATEWAY_NAME: 'waypoint',
    POD_NAME: 'fieldRef:metadata.name',
    POD_NAMESPACE: 'fieldRef:metadata.namespace',
    SERVICE_ACCOUNT: 'fieldRef:spec.serviceAccountName',
    NODE_NAME: 'fieldRef:spec.nodeName',
    INSTANCE_IP: 'fieldRef:status.podIP',
    XDS_ADDRESS: '10.0.0.2:15012',
    CA_ADDRESS: '10.0.0.2:15012',
    TRUST_DOMAIN: 'cluster.local',
    CLUSTER_ID: 'Kubernetes',
  });
  t.same(c0.readinessProbe?.httpGet, { path: '/healthz/ready', port: 15021 });

  t.same(svc.metadata, { name: 'waypoint', namespace: 'demo', labels: LABELS, ownerReferences: OWNER });
  t.same(svc.spec, {
    type: 'ClusterIP',
    selector: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' },
    ports: [
      { name: 'status-port', port: 15021, protocol: 'TCP', appProtocol: 'tcp' },
      { name: 'mesh', port: 15008, protocol: 'TCP', appProtocol: 'hbone' },
    ],
  });
});

t.test('names follow the Gateway; the Service port is named after the listener', async (t) => {
  const gw = gateway({ name: 'reviews-wp', namespace: 'shop', uid: 'u2', listeners: [{ name: 'HBONE_Listener', port: 15008, protocol: 'HBONE' }] });
  const c = classify(gw);
  if (c.kind !== 'waypoint') throw new Error('not a waypoint');
  const objs = renderWaypoint(gw.metadata, [c.listener], RENDER);
  t.same(objs.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`), ['ServiceAccount shop/reviews-wp', 'Deployment shop/reviews-wp', 'Service shop/reviews-wp']);
  t.same((objs[2] as Service).spec.ports?.[1]?.name, 'hbone-listener');
  t.equal((objs[1] as Deployment).spec.template.spec.serviceAccountName, 'reviews-wp');
});

t.test('portName', async (t) => {
  const table: Array<[string, string]> = [
    ['mesh', 'mesh'],
    ['Mesh_1', 'mesh-1'],
    ['a-very-long-listener-name', 'a-very-long-lis'],
    ['abcdefghijklmn-x', 'abcdefghijklmn'],
    ['___', 'mesh'],
  ];
  for (const [input, want] of table) t.equal(portName(input), want, input);
});
