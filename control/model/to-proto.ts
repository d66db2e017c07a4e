/**
 * Internal model → generated protobuf messages, and the version of each resource: a hash of its
 * encoded bytes, so equal content always has the same version and the xDS server can send only
 * what changed. Encoding must be deterministic: map keys are inserted sorted.
 */
import { createHash } from 'node:crypto';
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import {
  Action,
  AuthorizationSchema,
  Scope,
  type Authorization,
  type MatchSchema,
  type StringMatchSchema,
} from '../../lib/proto/gen/istio/security/authorization_pb.js';
import {
  AddressSchema,
  AppProtocol,
  IPFamilies,
  LoadBalancing_HealthPolicy,
  LoadBalancing_Mode,
  LoadBalancing_Scope,
  NetworkMode,
  TunnelProtocol,
  WorkloadStatus,
  WorkloadType,
  type Address,
  type GatewayAddressSchema,
  type PortList,
  type PortListSchema,
} from '../../lib/proto/gen/istio/workload/workload_pb.js';
import { ipBytes } from './net.js';
import type { AuthorizationModel, CidrModel, GatewayAddr, MatchModel, ServiceModel, StringMatchModel, WorkloadModel } from './types.js';

type GatewayInit = MessageInitShape<typeof GatewayAddressSchema>;
type MatchInit = MessageInitShape<typeof MatchSchema>;
type StringMatchInit = MessageInitShape<typeof StringMatchSchema>;

function gateway(g: GatewayAddr | undefined): GatewayInit | undefined {
  if (!g) return undefined;
  if ('hostname' in g) return { destination: { case: 'hostname', value: g.hostname }, hboneMtlsPort: g.hboneMtlsPort };
  return { destination: { case: 'address', value: { network: g.address.network, address: ipBytes(g.address.ip) } }, hboneMtlsPort: g.hboneMtlsPort };
}

export function workloadToProto(w: WorkloadModel): Address {
  const services: Record<string, MessageInitShape<typeof PortListSchema>> = {};
  for (const k of Object.keys(w.services).sort()) services[k] = { ports: w.services[k] ?? [] };
  return create(AddressSchema, {
    type: {
      case: 'workload',
      value: {
        uid: w.uid,
        name: w.name,
        namespace: w.namespace,
        addresses: w.addresses.map(ipBytes),
        network: w.network,
        tunnelProtocol: TunnelProtocol[w.tunnelProtocol],
        nativeTunnel: w.nativeTunnel,
        trustDomain: w.trustDomain,
        serviceAccount: w.serviceAccount,
        waypoint: gateway(w.waypoint),
        node: w.node,
        canonicalName: w.canonicalName,
        canonicalRevision: w.canonicalRevision,
        workloadType: WorkloadType[w.workloadType],
        workloadName: w.workloadName,
        services,
        authorizationPolicies: w.authorizationPolicies,
        status: WorkloadStatus[w.status],
        clusterId: w.clusterId,
        locality: w.locality,
        networkMode: NetworkMode[w.networkMode],
      },
    },
  });
}

export function serviceToProto(s: ServiceModel): Address {
  const lb = s.loadBalancing;
  return create(AddressSchema, {
    type: {
      case: 'service',
      value: {
        name: s.name,
        namespace: s.namespace,
        hostname: s.hostname,
        addresses: s.addresses.map((a) => ({ network: a.network, address: ipBytes(a.ip) })),
        ports: s.ports.map((p) => ({ servicePort: p.servicePort, targetPort: p.targetPort, appProtocol: AppProtocol[p.appProtocol ?? 'UNKNOWN'] })),
        subjectAltNames: s.subjectAltNames,
        waypoint: gateway(s.waypoint),
        loadBalancing: lb && {
          routingPreference: lb.routingPreference.map((r) => LoadBalancing_Scope[r]),
          mode: lb.mode === 'UNSPECIFIED' ? LoadBalancing_Mode.UNSPECIFIED_MODE : LoadBalancing_Mode[lb.mode],
          healthPolicy: LoadBalancing_HealthPolicy[lb.healthPolicy],
        },
        ipFamilies: IPFamilies[s.ipFamilies],
        canonical: s.canonical,
        ingressUseWaypoint: s.ingressUseWaypoint,
      },
    },
  });
}

function stringMatch(m: StringMatchModel): StringMatchInit {
  if ('exact' in m) return { matchType: { case: 'exact', value: m.exact } };
  if ('prefix' in m) return { matchType: { case: 'prefix', value: m.prefix } };
  if ('suffix' in m) return { matchType: { case: 'suffix', value: m.suffix } };
  return { matchType: { case: 'presence', value: {} } };
}

const cidr = (c: CidrModel): { address: Uint8Array; length: number } => ({ address: ipBytes(c.ip), length: c.length });

function match(m: MatchModel): MatchInit {
  return {
    namespaces: m.namespaces?.map(stringMatch),
    notNamespaces: m.notNamespaces?.map(stringMatch),
    serviceAccounts: m.serviceAccounts,
    notServiceAccounts: m.notServiceAccounts,
    principals: m.principals?.map(stringMatch),
    notPrincipals: m.notPrincipals?.map(stringMatch),
    sourceIps: m.sourceIps?.map(cidr),
    notSourceIps: m.notSourceIps?.map(cidr),
    destinationIps: m.destinationIps?.map(cidr),
    notDestinationIps: m.notDestinationIps?.map(cidr),
    destinationPorts: m.destinationPorts,
    notDestinationPorts: m.notDestinationPorts,
  };
}

export function authorizationToProto(a: AuthorizationModel): Authorization {
  return create(AuthorizationSchema, {
    name: a.name,
    namespace: a.namespace,
    scope: Scope[a.scope],
    action: Action[a.action],
    rules: a.rules.map((r) => ({ clauses: r.clauses.map((c) => ({ matches: c.matches.map(match) })) })),
    dryRun: a.dryRun,
  });
}

/** A short, stable digest of the encoded message. */
function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 22);
}

export function addressVersion(a: Address): string {
  return digest(toBinary(AddressSchema, a));
}

export function authorizationVersion(a: Authorization): string {
  return digest(toBinary(AuthorizationSchema, a));
}

export type { Address, Authorization, PortList };
