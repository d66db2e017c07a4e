import t from 'tap';
import { create, equals, fromBinary, toBinary, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import { NodeSchema } from './gen/envoy/config/core/v3/base_pb.js';
import {
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
  ResourceSchema,
} from './gen/envoy/service/discovery/v3/discovery_pb.js';
import { ActionSchema, AuthorizationSchema, MatchSchema, ScopeSchema, StringMatchSchema } from './gen/istio/security/authorization_pb.js';
import { IstioCertificateRequestSchema, IstioCertificateResponseSchema } from './gen/istio/v1/auth/ca_pb.js';
import {
  AddressSchema,
  LoadBalancingSchema,
  LoadBalancing_Mode,
  LoadBalancing_Scope,
  NetworkAddressSchema,
  ServiceSchema,
  TunnelProtocol,
  WorkloadSchema,
  WorkloadType,
} from './gen/istio/workload/workload_pb.js';
import { WorkloadRequestSchema, WorkloadResponseSchema, ZdsHelloSchema, Version } from './gen/istio/workload/zds/zds_pb.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const ip = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));

/** A message survives toBinary/fromBinary unchanged (and is not trivially empty). */
function roundTrips<D extends DescMessage>(schema: D, init: MessageInitShape<D>): boolean {
  const msg = create(schema, init);
  const wire = toBinary(schema, msg);
  return wire.length > 0 && equals(schema, msg, fromBinary(schema, wire));
}

t.test('round trips', async (t) => {
  const workload = {
    uid: 'Kubernetes//Pod/default/a-1', name: 'a-1', namespace: 'default', addresses: [ip('10.244.1.5')],
    network: 'n1', tunnelProtocol: TunnelProtocol.HBONE, trustDomain: 'cluster.local', serviceAccount: 'sa',
    waypoint: { destination: { case: 'hostname' as const, value: { namespace: 'default', hostname: 'waypoint.default.svc.cluster.local' } }, hboneMtlsPort: 15008 },
    node: 'node-1', canonicalName: 'a', canonicalRevision: 'v1', workloadType: WorkloadType.POD, workloadName: 'a',
    services: { 'default/a.default.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080 }] } },
    authorizationPolicies: ['default/allow'], clusterId: 'Kubernetes', locality: { region: 'r', zone: 'z', subzone: 's' },
    capacity: 3,
  };
  const service = {
    name: 'a', namespace: 'default', hostname: 'a.default.svc.cluster.local',
    addresses: [{ network: '', address: ip('10.96.0.10') }], ports: [{ servicePort: 80, targetPort: 8080 }],
    loadBalancing: { routingPreference: [LoadBalancing_Scope.NODE], mode: LoadBalancing_Mode.STRICT },
    canonical: true, weightedWaypoints: [{ destination: { hboneMtlsPort: 15008 }, weight: 10 }],
  };
  t.ok(roundTrips(AddressSchema, { type: { case: 'workload', value: workload } }), 'Address{Workload}');
  t.ok(roundTrips(AddressSchema, { type: { case: 'service', value: service } }), 'Address{Service}');
  t.ok(roundTrips(AuthorizationSchema, {
    name: 'allow', namespace: 'default', scope: 2, action: 0,
    rules: [{ clauses: [{ matches: [{ principals: [{ matchType: { case: 'prefix', value: 'cluster.local/ns/' } }], destinationPorts: [80, 443], sourceIps: [{ address: ip('10.0.0.0'), length: 8 }] }] }] }],
  }), 'Authorization');
  t.ok(roundTrips(IstioCertificateRequestSchema, {
    csr: '-----BEGIN CERTIFICATE REQUEST-----', validityDuration: 86400n,
    metadata: { fields: { ImpersonatedIdentity: { kind: { case: 'stringValue', value: 'spiffe://cluster.local/ns/a/sa/b' } } } },
  }), 'IstioCertificateRequest');
  t.ok(roundTrips(IstioCertificateResponseSchema, { certChain: ['leaf', 'root'] }), 'IstioCertificateResponse');
  t.ok(roundTrips(NodeSchema, { id: 'ztunnel~10.0.0.1~zt.istio-system~istio-system.svc.cluster.local', cluster: 'Kubernetes', locality: { zone: 'z' } }), 'Node');
  t.ok(roundTrips(DeltaDiscoveryRequestSchema, {
    node: { id: 'n' }, typeUrl: 'type.googleapis.com/istio.workload.Address', resourceNamesSubscribe: ['*'],
    initialResourceVersions: { a: '1', b: '2' }, responseNonce: 'x', errorDetail: { code: 3, message: 'bad' },
  }), 'DeltaDiscoveryRequest');
  t.ok(roundTrips(DeltaDiscoveryResponseSchema, {
    systemVersionInfo: '7', typeUrl: 't', nonce: 'n', removedResources: ['gone'],
    resources: [{ name: 'a', version: '1', resource: { typeUrl: 't', value: bytes('0a00') } }],
  }), 'DeltaDiscoveryResponse');
  t.ok(roundTrips(WorkloadRequestSchema, { payload: { case: 'add', value: { uid: 'u', workloadInfo: { name: 'p', namespace: 'ns', serviceAccount: 'sa' } } } }), 'WorkloadRequest{add}');
  t.ok(roundTrips(WorkloadResponseSchema, { payload: { case: 'ack', value: { error: 'netns gone' } } }), 'WorkloadResponse{ack}');
  t.ok(roundTrips(ZdsHelloSchema, { version: Version.V1 }), 'ZdsHello');
});

// Expected bytes derived by hand: tag = (field << 3) | wire type, varints little-endian base-128.
const known: Array<{ what: string; schema: DescMessage; init: Record<string, unknown>; hex: string }> = [
  // field 20, LEN → tag 162 = a2 01; len 1; "a"
  { what: 'Workload{uid:"a"}', schema: WorkloadSchema, init: { uid: 'a' }, hex: 'a2 01 01 61' },
  // Address.workload = field 1 LEN (0a), length 4
  { what: 'Address{workload{uid:"a"}}', schema: AddressSchema, init: { type: { case: 'workload', value: { uid: 'a' } } }, hex: '0a 04 a2010161' },
  // addresses (3, LEN) 10.244.1.5; tunnel_protocol (5, VARINT) HBONE=1; written in field-number order
  {
    what: 'Workload{addresses,tunnel_protocol}', schema: WorkloadSchema, init: { addresses: [ip('10.244.1.5')], tunnelProtocol: TunnelProtocol.HBONE },
    hex: '1a 04 0af40105 28 01',
  },
  // capacity (27, LEN) = da 01; UInt32Value{value:2} = 08 02. A zero wrapper is present but empty.
  { what: 'Workload{capacity:2}', schema: WorkloadSchema, init: { capacity: 2 }, hex: 'da01 02 0802' },
  { what: 'Workload{capacity:0}', schema: WorkloadSchema, init: { capacity: 0 }, hex: 'da01 00' },
  // services (22, LEN) = b2 01; entry {key(1)="ns/h", value(2)=PortList{ports(1)=Port{80→8080}}}; 8080 = 90 3f
  {
    what: 'Workload{services map}', schema: WorkloadSchema, init: { services: { 'ns/h': { ports: [{ servicePort: 80, targetPort: 8080 }] } } },
    hex: 'b201 0f 0a04 6e732f68 12 07 0a05 0850 10903f',
  },
  // packed repeated enum: routing_preference (1, LEN) [NETWORK=6, REGION=1, ZONE=2]; mode (2, VARINT) FAILOVER=2
  {
    what: 'LoadBalancing packed enums', schema: LoadBalancingSchema,
    init: { routingPreference: [LoadBalancing_Scope.NETWORK, LoadBalancing_Scope.REGION, LoadBalancing_Scope.ZONE], mode: LoadBalancing_Mode.FAILOVER },
    hex: '0a03 060102 1002',
  },
  // packed repeated uint32: destination_ports (9, LEN) = 4a; 80 = 50, 15008 = a0 75
  { what: 'Match{destination_ports:[80,15008]}', schema: MatchSchema, init: { destinationPorts: [80, 15008] }, hex: '4a03 50a075' },
  // explicit-presence optional: length (3) = 32 → 18 20; address (2) → 12 04
  { what: 'NetworkAddress{address,length:32}', schema: NetworkAddressSchema, init: { address: ip('10.96.0.1'), length: 32 }, hex: '1204 0a600001 1820' },
  { what: 'NetworkAddress{length:0} is still sent', schema: NetworkAddressSchema, init: { length: 0 }, hex: '1800' },
  // presence = google.protobuf.Empty in field 4 → 22 00
  { what: 'StringMatch{presence}', schema: StringMatchSchema, init: { matchType: { case: 'presence', value: {} } }, hex: '2200' },
  // name(1)="p", namespace(2)="ns", scope(3)=WORKLOAD_SELECTOR=2, action(4)=DENY=1
  {
    what: 'Authorization enums', schema: AuthorizationSchema, init: { name: 'p', namespace: 'ns', scope: 2, action: 1 },
    hex: '0a0170 12026e73 1802 2001',
  },
  // validity_duration (3, VARINT) 86400 = 80 a3 05
  { what: 'IstioCertificateRequest', schema: IstioCertificateRequestSchema, init: { csr: 'c', validityDuration: 86400n }, hex: '0a0163 1880a305' },
  // initial_resource_versions (5) {"a":"1"}; error_detail (7) Status{code 3, message "x"}
  {
    what: 'DeltaDiscoveryRequest map + error_detail', schema: DeltaDiscoveryRequestSchema,
    init: { initialResourceVersions: { a: '1' }, errorDetail: { code: 3, message: 'x' } },
    hex: '2a06 0a0161 120131 3a05 0803 120178',
  },
  // Resource{version(1)="1", resource(2)=Any{type_url(1) 42 chars, value(2)=Address bytes}, name(3)="a"}
  {
    what: 'Resource with an Any', schema: ResourceSchema,
    init: { name: 'a', version: '1', resource: { typeUrl: 'type.googleapis.com/istio.workload.Address', value: bytes('0a04a2010161') } },
    hex: '0a0131 1234 0a2a' + Buffer.from('type.googleapis.com/istio.workload.Address').toString('hex') + '1206 0a04a2010161 1a0161',
  },
  // ZDS: del (2) {uid (2) "u"}; keep (5) {uid (1) "u"}
  { what: 'WorkloadRequest{del}', schema: WorkloadRequestSchema, init: { payload: { case: 'del', value: { uid: 'u' } } }, hex: '1203 120175' },
  { what: 'WorkloadRequest{keep}', schema: WorkloadRequestSchema, init: { payload: { case: 'keep', value: { uid: 'u' } } }, hex: '2a03 0a0175' },
  { what: 'ZdsHello{V1}', schema: ZdsHelloSchema, init: { version: Version.V1 }, hex: '0801' },
];

t.test('known encodings, byte for byte', async (t) => {
  for (const k of known) {
    const msg = create(k.schema, k.init as MessageInitShape<DescMessage>);
    const want = k.hex.replace(/\s+/g, '');
    t.equal(hex(toBinary(k.schema, msg)), want, `encode ${k.what}`);
    t.ok(equals(k.schema, fromBinary(k.schema, bytes(want)), msg), `decode ${k.what}`);
  }
});

t.test('enum values match the reference', async (t) => {
  t.equal(ScopeSchema.values.map((v) => `${v.name}=${v.number}`).join(','), 'GLOBAL=0,NAMESPACE=1,WORKLOAD_SELECTOR=2');
  t.equal(ActionSchema.values.map((v) => `${v.name}=${v.number}`).join(','), 'ALLOW=0,DENY=1');
  t.equal(ServiceSchema.field.visibility?.number, 14);
  t.equal(WorkloadSchema.field.capacity?.number, 27);
  t.equal(WorkloadSchema.field.applicationTunnel?.number, 23);
});
