import t from 'tap';
import { buildInternalModel } from '../model/index.js';
import { ap, gw, ns, pod, svc } from '../model/testkit.js';
import type { TrafficEdge } from './signals.js';
import { graphView, servicePage, workloadPage, type MeshView } from './views.js';

const amb = { 'istio.io/dataplane-mode': 'ambient' };
const owner = (name: string) => [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-5d4f`, uid: `rs-${name}`, controller: true }];

function mesh(): MeshView {
  const m = buildInternalModel({
    namespaces: [ns('shop', amb), ns('catalog', amb), ns('kube-system')],
    pods: [
      pod('shop', 'frontend-5d4f-a', { ip: '10.244.1.2', sa: 'frontend', node: 'node-1', labels: { app: 'frontend', 'pod-template-hash': '5d4f' }, ownerReferences: owner('frontend'), ambient: true }),
      pod('catalog', 'backend-5d4f-a', { ip: '10.244.2.2', sa: 'backend', node: 'node-2', labels: { app: 'backend', 'pod-template-hash': '5d4f' }, ownerReferences: owner('backend'), ambient: true }),
      pod('catalog', 'backend-5d4f-b', { ip: '10.244.1.3', sa: 'backend', node: 'node-1', labels: { app: 'backend', 'pod-template-hash': '5d4f' }, ownerReferences: owner('backend'), ambient: true }),
      pod('catalog', 'waypoint-5d4f-a', { ip: '10.244.2.9', sa: 'waypoint', node: 'node-2', labels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint', 'pod-template-hash': '5d4f' }, ownerReferences: owner('waypoint') }),
    ],
    services: [
      svc('shop', 'frontend', { clusterIP: '10.96.0.20' }),
      svc('catalog', 'backend', { clusterIP: '10.96.0.21', labels: { 'istio.io/use-waypoint': 'waypoint' } }),
      svc('catalog', 'waypoint', { clusterIP: '10.96.0.29', selector: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } }),
      svc('kube-system', 'kube-dns', { clusterIP: '10.96.0.10' }),
    ],
    gateways: [gw('catalog', 'waypoint', { addresses: [{ type: 'Hostname', value: 'waypoint.catalog.svc.cluster.local' }] })],
    authorizationPolicies: [
      ap('catalog', 'backend-l4', { selector: { matchLabels: { app: 'backend' } }, action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['shop'] } }] }] }),
      ap('catalog', 'deny-delete', { targetRefs: [{ kind: 'Service', group: '', name: 'backend' }], action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] }),
      ap('shop', 'unrelated', { selector: { matchLabels: { app: 'frontend' } }, action: 'ALLOW', rules: [{}] }),
    ],
  });
  const policyObjects = [ap('catalog', 'deny-delete', { targetRefs: [{ kind: 'Service', group: '', name: 'backend' }] })];
  return {
    workloads: [...m.workloads.values()],
    services: [...m.services.values()],
    authorizations: [...m.authorizations.values()],
    status: [
      ...m.policyStatus.values(),
      ...m.serviceStatus.values(),
      { kind: 'HTTPRoute', namespace: 'catalog', name: 'split', conditions: [{ type: 'Accepted', status: 'False', reason: 'BackendNotFound', message: 'no backend-v3' }], parentRefs: [{ group: '', kind: 'Service', namespace: 'catalog', name: 'backend' }] } as never,
      { kind: 'AuthorizationPolicy', namespace: 'catalog', name: 'deny-delete', conditions: [{ type: 'WaypointAccepted', status: 'True', reason: 'Accepted', message: 'bound' }] },
    ],
    policyObjects,
    certificates: new Map([['spiffe://cluster.local/ns/catalog/sa/backend', { identity: 'spiffe://cluster.local/ns/catalog/sa/backend', serialNumber: 'ab12', notAfter: '2030-01-02T00:00:00.000Z', issuedAt: '2030-01-01T00:00:00.000Z' }]]),
    trustDomain: 'cluster.local',
    rootNamespace: 'istio-system',
  };
}

const edge = (e: Partial<TrafficEdge> & Pick<TrafficEdge, 'source' | 'destination'>): TrafficEdge => ({
  destinationIsService: true, viaWaypoint: false, requestsPerSecond: 0, connectionsPerSecond: 0, errorRatio: 0, tcpBytesPerSecond: 0, mtls: true, ...e,
});

const traffic: TrafficEdge[] = [
  // frontend → backend: HTTP reported by the waypoint.
  edge({ source: 'shop/frontend', destination: 'catalog/backend', viaWaypoint: true, requestsPerSecond: 10, errorRatio: 0.2, p50Ms: 3, p99Ms: 40 }),
  // The waypoint's own connections to the backends, reported by their ztunnel.
  edge({ source: 'catalog/waypoint', destination: 'catalog/backend', connectionsPerSecond: 1, tcpBytesPerSecond: 5000 }),
  // A plain TCP caller outside the mesh, to a workload without a service.
  edge({ source: 'unknown/unknown', destination: 'catalog/db', destinationIsService: false, connectionsPerSecond: 2, errorRatio: 0.5, mtls: false }),
];

t.test('graphView: nodes of every kind, traffic drawn via the waypoint', async (t) => {
  const g = graphView(mesh(), traffic, 60);
  t.same(
    g.nodes.map((n) => n.id),
    ['service:catalog/backend', 'service:shop/frontend', 'waypoint:catalog/waypoint', 'workload:catalog/db', 'workload:shop/frontend', 'workload:unknown/unknown'],
    'services of the mesh (not kube-system), the waypoint as its own node, callers as workloads',
  );
  const e = (from: string, to: string) => g.edges.find((x) => x.from === from && x.to === to);
  t.match(e('workload:shop/frontend', 'waypoint:catalog/waypoint'), { requestsPerSecond: 10, errorRatio: 0.2, p99Ms: 40, mtls: true, via: 'catalog/waypoint' }, 'caller → waypoint carries the requests');
  t.match(e('waypoint:catalog/waypoint', 'service:catalog/backend'), { requestsPerSecond: 10, connectionsPerSecond: 1, tcpBytesPerSecond: 5000, mtls: true }, 'waypoint → service merges the HTTP numbers and its TCP edge');
  t.equal(e('workload:shop/frontend', 'service:catalog/backend'), undefined, 'no direct edge past the waypoint');
  t.match(e('workload:unknown/unknown', 'workload:catalog/db'), { connectionsPerSecond: 2, errorRatio: 0.5, mtls: false });
  t.equal(g.edges.length, 3);
  t.same(graphView(mesh(), [], 60).edges, [], 'no traffic, no edges, nodes still there');
});

t.test('servicePage: endpoints, nodes, policies, routes, waypoint, certificates', async (t) => {
  const m = mesh();
  const g = graphView(m, traffic, 60);
  const series = [{ at: 1, requestsPerSecond: 1, errorRatio: 0, p50Ms: 1, p99Ms: 2, tcpBytesPerSecond: 3, connectionsPerSecond: 0 }];
  const p = servicePage(m, 'catalog', 'backend', g, series);
  t.ok(p, 'found');
  t.equal(p?.waypoint, 'catalog/waypoint');
  t.same(p?.endpoints.map((x) => [x.pod, x.workload, x.node, x.identity]), [
    ['backend-5d4f-a', 'backend', 'node-2', 'spiffe://cluster.local/ns/catalog/sa/backend'],
    ['backend-5d4f-b', 'backend', 'node-1', 'spiffe://cluster.local/ns/catalog/sa/backend'],
  ]);
  t.equal(p?.endpoints[0]?.certificate?.notAfter, '2030-01-02T00:00:00.000Z', 'the issued certificate of the identity');
  t.same(p?.nodes, ['node-1', 'node-2']);
  t.same(p?.policies.map((x) => [x.name, x.enforcedBy, x.valid]), [['backend-l4', 'ztunnel', true], ['deny-delete', 'waypoint', true]], 'the selector policy and the targetRef one, not the other namespace\'s');
  t.same(p?.routes.map((x) => [x.kind, x.name, x.valid]), [['HTTPRoute', 'split', false]], 'the route with its failed condition');
  t.same(p?.inbound.map((x) => x.from), ['waypoint:catalog/waypoint']);
  t.same(p?.series, series);
  t.equal(servicePage(m, 'catalog', 'nope', g, []), undefined, 'an unknown service');
  const fe = servicePage(m, 'shop', 'frontend', g, []);
  t.equal(fe?.endpoints[0]?.certificate, null, 'no certificate issued yet');
  t.same(fe?.policies.map((x) => x.name), ['unrelated']);
});

t.test('workloadPage: pods grouped by workload name', async (t) => {
  const m = mesh();
  const g = graphView(m, traffic, 60);
  const p = workloadPage(m, 'catalog', 'backend', g, []);
  t.same(p?.pods.map((x) => x.pod), ['backend-5d4f-a', 'backend-5d4f-b']);
  t.same(p?.services, ['catalog/backend']);
  t.same(p?.nodes, ['node-1', 'node-2']);
  t.same(p?.policies.map((x) => x.name), ['backend-l4']);
  t.same(workloadPage(m, 'shop', 'frontend', g, [])?.outbound.map((x) => x.to), ['waypoint:catalog/waypoint']);
  t.equal(workloadPage(m, 'shop', 'nope', g, []), undefined);
});
