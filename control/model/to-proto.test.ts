import t from 'tap';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { Action, AuthorizationSchema, Scope } from '../../lib/proto/gen/istio/security/authorization_pb.js';
import { AddressSchema, AppProtocol, LoadBalancing_Mode, TunnelProtocol, WorkloadStatus, WorkloadType } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import { addressVersion, authorizationToProto, authorizationVersion, serviceToProto, workloadToProto } from './to-proto.js';
import type { AuthorizationModel, ServiceModel, WorkloadModel } from './types.js';

const workload: WorkloadModel = {
  uid: 'Kubernetes//Pod/a/p', name: 'p', namespace: 'a', addresses: ['10.244.1.5', 'fd00::1'], network: '', tunnelProtocol: 'HBONE', nativeTunnel: false,
  trustDomain: '', serviceAccount: 'sa', waypoint: { hostname: { namespace: 'a', hostname: 'waypoint.a.svc.cluster.local' }, hboneMtlsPort: 15008 },
  node: 'n', canonicalName: 'p', canonicalRevision: 'v1', workloadType: 'POD', workloadName: 'p',
  services: { 'a/z.a.svc.cluster.local': [{ servicePort: 80, targetPort: 8080 }], 'a/b.a.svc.cluster.local': [] },
  authorizationPolicies: ['a/x'], status: 'UNHEALTHY', clusterId: 'Kubernetes', networkMode: 'STANDARD',
};

const service: ServiceModel = {
  name: 's', namespace: 'a', hostname: 's.a.svc.cluster.local', addresses: [{ network: 'n1', ip: '10.96.0.1' }],
  ports: [{ servicePort: 80, targetPort: 0, appProtocol: 'HTTP2' }], subjectAltNames: [], ipFamilies: 'IPV4_ONLY', canonical: true, ingressUseWaypoint: false,
  waypoint: { address: { network: '', ip: '10.96.0.9' }, hboneMtlsPort: 15008 },
  loadBalancing: { routingPreference: ['NODE'], mode: 'STRICT', healthPolicy: 'ONLY_HEALTHY' },
};

const authz: AuthorizationModel = {
  name: 'x', namespace: 'a', scope: 'WORKLOAD_SELECTOR', action: 'DENY', dryRun: false,
  rules: [{ clauses: [{ matches: [{ principals: [{ prefix: 'cluster.local/' }, { presence: true }], notSourceIps: [{ ip: '10.0.0.0', length: 8 }], destinationPorts: [80],
    serviceAccounts: [{ namespace: 'a', serviceAccount: 'b' }] }] }] }],
};

t.test('Workload', async (t) => {
  const a = workloadToProto(workload);
  t.equal(a.type.case, 'workload');
  const w = a.type.case === 'workload' ? a.type.value : undefined;
  t.same(w?.addresses.map((b) => b.length), [4, 16]);
  t.same([...(w?.addresses[0] ?? [])], [10, 244, 1, 5]);
  t.equal(w?.tunnelProtocol, TunnelProtocol.HBONE);
  t.equal(w?.status, WorkloadStatus.UNHEALTHY);
  t.equal(w?.workloadType, WorkloadType.POD);
  t.same(Object.keys(w?.services ?? {}), ['a/b.a.svc.cluster.local', 'a/z.a.svc.cluster.local'], 'map keys sorted');
  t.equal(w?.waypoint?.destination.case, 'hostname');
  t.equal(w?.waypoint?.hboneMtlsPort, 15008);
  const back = fromBinary(AddressSchema, toBinary(AddressSchema, a));
  t.equal(back.type.case === 'workload' && back.type.value.uid, 'Kubernetes//Pod/a/p', 'round trips');
});

t.test('Service', async (t) => {
  const a = serviceToProto(service);
  const s = a.type.case === 'service' ? a.type.value : undefined;
  t.equal(s?.hostname, 's.a.svc.cluster.local');
  t.same([...(s?.addresses[0]?.address ?? [])], [10, 96, 0, 1]);
  t.equal(s?.addresses[0]?.network, 'n1');
  t.equal(s?.ports[0]?.appProtocol, AppProtocol.HTTP2);
  t.equal(s?.waypoint?.destination.case, 'address');
  t.equal(s?.loadBalancing?.mode, LoadBalancing_Mode.STRICT);
});

t.test('Authorization', async (t) => {
  const a = authorizationToProto(authz);
  t.equal(a.scope, Scope.WORKLOAD_SELECTOR);
  t.equal(a.action, Action.DENY);
  const m = a.rules[0]?.clauses[0]?.matches[0];
  t.same(m?.principals.map((p) => p.matchType.case), ['prefix', 'presence']);
  t.same([...(m?.notSourceIps[0]?.address ?? [])], [10, 0, 0, 0]);
  t.equal(m?.notSourceIps[0]?.length, 8);
  t.same(m?.destinationPorts, [80]);
  t.equal(m?.serviceAccounts[0]?.serviceAccount, 'b');
  t.same(m?.namespaces, [], 'absent fields are empty lists');
  const back = fromBinary(AuthorizationSchema, toBinary(AuthorizationSchema, a));
  t.equal(back.rules[0]?.clauses[0]?.matches[0]?.principals[1]?.matchType.case, 'presence');
});

t.test('versions: stable for equal content, different for any change', async (t) => {
  const v = addressVersion(workloadToProto(workload));
  t.equal(addressVersion(workloadToProto(structuredClone(workload))), v);
  const reordered = { ...workload, services: { 'a/b.a.svc.cluster.local': [], 'a/z.a.svc.cluster.local': [{ servicePort: 80, targetPort: 8080 }] } };
  t.equal(addressVersion(workloadToProto(reordered)), v, 'map insertion order does not matter');
  t.not(addressVersion(workloadToProto({ ...workload, status: 'HEALTHY' })), v);
  t.not(addressVersion(workloadToProto({ ...workload, addresses: ['10.244.1.6'] })), v);
  t.match(v, /^[A-Za-z0-9_-]{22}$/);
  const av = authorizationVersion(authorizationToProto(authz));
  t.equal(authorizationVersion(authorizationToProto(structuredClone(authz))), av);
  t.not(authorizationVersion(authorizationToProto({ ...authz, action: 'ALLOW' })), av);
});
