import t from 'tap';
import { buildInternalModel } from './index.js';
import { ap, gw, ns, pa, pod, svc } from './testkit.js';
import type { KubeObject } from '../../lib/store/types.js';
import type { ModelSnapshot, WorkloadModel } from './types.js';

const uid = (n: string, p: string) => `Kubernetes//Pod/${n}/${p}`;

function workloads(s: { pods?: unknown[] } & Omit<ModelSnapshot, 'pods'>, options = {}) {
  return workloadsOf({ ...s, pods: s.pods as KubeObject[] | undefined }, options);
}

function workloadsOf(s: ModelSnapshot, options = {}) {
  const m = buildInternalModel(s, options);
  return { w: m.workloads, problems: m.problems };
}

t.test('Pod fields', async (t) => {
  const { w, problems } = workloads({
    nodes: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'topology.kubernetes.io/region': 'r', 'topology.kubernetes.io/zone': 'z' } } }],
    pods: [pod('default', 'web-7f9-abcde', {
      ip: ['10.244.1.5', 'fd00::5'], sa: 'web', node: 'n1', ambient: true,
      labels: { app: 'web', version: 'v2', 'pod-template-hash': '7f9' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7f9', uid: 'u', controller: true }],
    })],
  });
  t.same(problems, []);
  t.same(w.get(uid('default', 'web-7f9-abcde')), {
    uid: uid('default', 'web-7f9-abcde'), name: 'web-7f9-abcde', namespace: 'default', addresses: ['10.244.1.5', 'fd00::5'], network: '',
    tunnelProtocol: 'HBONE', nativeTunnel: false, trustDomain: '', serviceAccount: 'web', waypoint: undefined, node: 'n1',
    canonicalName: 'web', canonicalRevision: 'v2', workloadType: 'DEPLOYMENT', workloadName: 'web', services: {}, authorizationPolicies: [],
    status: 'HEALTHY', clusterId: 'Kubernetes', locality: { region: 'r', zone: 'z', subzone: '' }, networkMode: 'STANDARD',
  } satisfies WorkloadModel);
});

t.test('per-pod rules', async (t) => {
  const one = (p: unknown, options = {}): WorkloadModel | undefined => [...workloads({ pods: [p as KubeObject] }, options).w.values()][0];
  const cases: Array<[string, unknown, Partial<WorkloadModel> | undefined, object?]> = [
    ['not enrolled → NONE', pod('a', 'p'), { tunnelProtocol: 'NONE' }],
    ['redirection pending → NONE', pod('a', 'p', { annotations: { 'ambient.istio.io/redirection': 'pending' } }), { tunnelProtocol: 'NONE' }],
    ['native tunnel label', pod('a', 'p', { labels: { 'networking.istio.io/tunnel': 'http' } }), { tunnelProtocol: 'HBONE', nativeTunnel: true }],
    ['not ready → UNHEALTHY', pod('a', 'p', { ready: false }), { status: 'UNHEALTHY' }],
    ['terminating → UNHEALTHY', pod('a', 'p', { deletionTimestamp: '2024-01-01T00:00:00Z' }), { status: 'UNHEALTHY' }],
    ['Succeeded → skipped', pod('a', 'p', { phase: 'Succeeded' }), undefined],
    ['Failed → skipped', pod('a', 'p', { phase: 'Failed' }), undefined],
    ['no IP → skipped', { ...pod('a', 'p'), status: { phase: 'Pending' } }, undefined],
    ['podIP only', { ...pod('a', 'p'), status: { podIP: '10.0.0.7' } }, { addresses: ['10.0.0.7'], status: 'UNHEALTHY' }],
    ['default service account', pod('a', 'p'), { serviceAccount: 'default' }],
    ['host network', pod('a', 'p', { hostNetwork: true }), { networkMode: 'HOST_NETWORK' }],
    ['custom trust domain and cluster', pod('a', 'p'), { trustDomain: 'example.org', clusterId: 'c2', uid: 'c2//Pod/a/p', network: 'net1' }, { trustDomain: 'example.org', clusterId: 'c2', network: 'net1' }],
    ['canonical fallback', pod('a', 'solo'), { canonicalName: 'solo', canonicalRevision: 'latest', workloadName: 'solo', workloadType: 'POD' }],
  ];
  for (const [what, p, want, options] of cases) {
    const w = one(p, options);
    if (want === undefined) t.equal(w, undefined, what);
    else t.match(w, want, what);
  }
});

t.test('services map', async (t) => {
  const { w } = workloads({
    services: [
      svc('a', 'num', { selector: { app: 'x' }, ports: [{ port: 80, targetPort: 8080 }, { port: 81 }] }),
      svc('a', 'named', { selector: { app: 'x' }, ports: [{ port: 80, targetPort: 'web' }, { port: 82, targetPort: 'missing' }, { port: 53, targetPort: 'dns', protocol: 'UDP' }] }),
      svc('a', 'other', { selector: { app: 'y' } }),
      svc('b', 'elsewhere', { selector: { app: 'x' } }),
      svc('a', 'noselector', { selector: {} }),
      svc('a', 'ext', { selector: { app: 'x' }, spec: { type: 'ExternalName' } }),
    ],
    pods: [pod('a', 'p', { labels: { app: 'x' }, ports: [{ name: 'web', containerPort: 9000 }, { name: 'dns', containerPort: 5353, protocol: 'UDP' }] })],
  });
  t.same(w.get(uid('a', 'p'))?.services, {
    'a/num.a.svc.cluster.local': [{ servicePort: 80, targetPort: 8080 }, { servicePort: 81, targetPort: 81 }],
    'a/named.a.svc.cluster.local': [{ servicePort: 80, targetPort: 9000 }, { servicePort: 53, targetPort: 5353 }],
  }, 'same namespace, selector matches; named ports resolved, unknown names dropped');
});

t.test('waypoints on workloads', async (t) => {
  const { w } = workloads({
    namespaces: [ns('a', { 'istio.io/use-waypoint': 'wl' }), ns('b', { 'istio.io/use-waypoint': 'svc-only' })],
    gateways: [gw('a', 'wl', { labels: { 'istio.io/waypoint-for': 'workload' } }), gw('b', 'svc-only')],
    services: [svc('a', 'wl', { labels: { 'gateway.networking.k8s.io/gateway-name': 'wl' }, selector: { 'gateway.networking.k8s.io/gateway-name': 'wl' } }),
      svc('b', 'svc-only', { labels: { 'gateway.networking.k8s.io/gateway-name': 'svc-only' } })],
    pods: [pod('a', 'p'), pod('a', 'opt-out', { labels: { 'istio.io/use-waypoint': 'none' } }), pod('a', 'wl-pod', { labels: { 'gateway.networking.k8s.io/gateway-name': 'wl' } }), pod('b', 'p')],
  });
  t.same(w.get(uid('a', 'p'))?.waypoint, { hostname: { namespace: 'a', hostname: 'wl.a.svc.cluster.local' }, hboneMtlsPort: 15008 });
  t.equal(w.get(uid('a', 'opt-out'))?.waypoint, undefined);
  t.equal(w.get(uid('a', 'wl-pod'))?.waypoint, undefined, 'waypoint pods never get a waypoint');
  t.equal(w.get(uid('b', 'p'))?.waypoint, undefined, 'service waypoint does not bind workloads');
});

t.test('authorization_policies', async (t) => {
  const { w } = workloads({
    authorizationPolicies: [
      ap('a', 'sel', { selector: { matchLabels: { app: 'x' } } }),
      ap('a', 'sel-other', { selector: { matchLabels: { app: 'y' } } }),
      ap('a', 'ns-wide', {}),
      ap('istio-system', 'root-sel', { selector: { matchLabels: { app: 'x' } } }),
      ap('b', 'other-ns', { selector: { matchLabels: { app: 'x' } } }),
      ap('a', 'audit', { action: 'AUDIT', selector: { matchLabels: { app: 'x' } } }),
    ],
    peerAuthentications: [pa('a', 'strict', { mtls: { mode: 'STRICT' } })],
    pods: [pod('a', 'p', { labels: { app: 'x' } }), pod('istio-system', 'q', { labels: { app: 'x' } })],
  });
  t.same(w.get(uid('a', 'p'))?.authorizationPolicies, ['a/sel', 'istio-system/istio_converted_static_strict', 'istio-system/root-sel']);
  t.same(w.get(uid('istio-system', 'q'))?.authorizationPolicies, ['istio-system/root-sel']);
});

t.test('bad pods', async (t) => {
  const { w, problems } = workloads({
    pods: [
      { ...pod('a', 'badip'), status: { podIP: '10.0.0.256' } },
      { ...pod('a', 'badips'), status: { podIPs: [{ ip: '10.0.0.1' }, { ip: 'x' }] } },
      { ...pod('a', 'x'), metadata: { namespace: 'a' } },
      { ...pod('a', 'x'), metadata: { name: 'x' } },
      { ...pod('a', 'spec'), spec: [] },
      'not even an object',
      pod('a', 'dup'), pod('a', 'dup', { ip: '10.0.0.9' }),
      pod('a', 'good'),
    ],
  });
  t.same([...w.keys()].sort(), [uid('a', 'dup'), uid('a', 'good')]);
  t.same(w.get(uid('a', 'dup'))?.addresses, ['10.244.0.1'], 'first duplicate wins');
  t.same(problems.map((p) => `${p.object} ${p.field}`), [
    'Pod a/badip status.podIP', 'Pod a/badips status.podIPs[1].ip', 'Pod a/<no name> metadata.name', 'Pod <no namespace>/x metadata.namespace',
    'Pod a/spec spec', 'Pod <no namespace>/<no name> metadata', 'Pod a/dup metadata.name',
  ]);
});
