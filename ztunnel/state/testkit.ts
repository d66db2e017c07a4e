// Builders of xDS Address/Authorization resources for ztunnel's tests (compact, proto-exact).
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import ipaddr from 'ipaddr.js';
import { AuthorizationSchema, type MatchSchema } from '../../lib/proto/gen/istio/security/authorization_pb.js';
import {
  AddressSchema,
  LoadBalancing_HealthPolicy,
  LoadBalancing_Mode,
  LoadBalancing_Scope,
  NetworkMode,
  Service_Visibility,
  IPFamilies,
  TunnelProtocol,
  WorkloadStatus,
  type GatewayAddressSchema,
} from '../../lib/proto/gen/istio/workload/workload_pb.js';
import type { AddressUpsert, AuthorizationUpsert } from './state.js';

export const bytes = (ip: string): Uint8Array => Uint8Array.from(ipaddr.parse(ip).toByteArray());

export type GwOpts = { ns: string; host: string; port?: number } | { ip: string; network?: string; port?: number };

function gw(g: GwOpts | undefined): MessageInitShape<typeof GatewayAddressSchema> | undefined {
  if (!g) return undefined;
  const hboneMtlsPort = g.port ?? 15008;
  if ('host' in g) return { destination: { case: 'hostname', value: { namespace: g.ns, hostname: g.host } }, hboneMtlsPort };
  return { destination: { case: 'address', value: { network: g.network ?? '', address: bytes(g.ip) } }, hboneMtlsPort };
}

export interface WlOpts {
  ns?: string;
  ips?: string[];
  sa?: string;
  td?: string;
  /** Default true (enrolled). */
  hbone?: boolean;
  /** service key → [servicePort, targetPort] pairs. */
  services?: Record<string, Array<[number, number]>>;
  waypoint?: GwOpts;
  networkGateway?: GwOpts;
  unhealthy?: boolean;
  node?: string;
  locality?: { region?: string; zone?: string; subzone?: string };
  network?: string;
  capacity?: number;
  policies?: string[];
  hostNetwork?: boolean;
  hostname?: string;
  appTunnelPort?: number;
  cluster?: string;
  uid?: string;
}

export function wl(name: string, o: WlOpts = {}): AddressUpsert {
  const ns = o.ns ?? 'default';
  const uid = o.uid ?? `Kubernetes//Pod/${ns}/${name}`;
  const services: Record<string, { ports: Array<{ servicePort: number; targetPort: number }> }> = {};
  for (const [k, ps] of Object.entries(o.services ?? {})) services[k] = { ports: ps.map(([servicePort, targetPort]) => ({ servicePort, targetPort })) };
  const address = create(AddressSchema, {
    type: {
      case: 'workload',
      value: {
        uid, name, namespace: ns,
        addresses: (o.ips ?? []).map(bytes),
        hostname: o.hostname ?? '',
        network: o.network ?? '',
        tunnelProtocol: o.hbone === false ? TunnelProtocol.NONE : TunnelProtocol.HBONE,
        trustDomain: o.td ?? '',
        serviceAccount: o.sa ?? '',
        waypoint: gw(o.waypoint),
        networkGateway: gw(o.networkGateway),
        node: o.node ?? 'node-1',
        services,
        authorizationPolicies: o.policies ?? [],
        status: o.unhealthy ? WorkloadStatus.UNHEALTHY : WorkloadStatus.HEALTHY,
        clusterId: o.cluster ?? '',
        locality: o.locality && { region: o.locality.region ?? '', zone: o.locality.zone ?? '', subzone: o.locality.subzone ?? '' },
        networkMode: o.hostNetwork ? NetworkMode.HOST_NETWORK : NetworkMode.STANDARD,
        capacity: o.capacity,
        applicationTunnel: o.appTunnelPort === undefined ? undefined : { port: o.appTunnelPort },
      },
    },
  });
  return { name: uid, address };
}

export interface SvcOpts {
  ns?: string;
  vips?: Array<string | { ip: string; network?: string; length?: number }>;
  /** [servicePort, targetPort] pairs; default [[80, 8080]]. */
  ports?: Array<[number, number]>;
  waypoint?: GwOpts;
  weighted?: Array<{ gw: GwOpts; weight: number }>;
  lb?: { mode?: keyof typeof LoadBalancing_Mode; prefs?: Array<keyof typeof LoadBalancing_Scope>; allowAll?: boolean };
  canonical?: boolean;
  namespaceOnly?: boolean;
  sans?: string[];
  families?: keyof typeof IPFamilies;
  hostname?: string;
}

/** The service key (`<ns>/<name>.<ns>.svc.cluster.local`) used by `svc(name, {ns})`. */
export const key = (name: string, ns = 'default'): string => `${ns}/${name}.${ns}.svc.cluster.local`;

export function svc(name: string, o: SvcOpts = {}): AddressUpsert {
  const ns = o.ns ?? 'default';
  const hostname = o.hostname ?? `${name}.${ns}.svc.cluster.local`;
  const address = create(AddressSchema, {
    type: {
      case: 'service',
      value: {
        name, namespace: ns, hostname,
        addresses: (o.vips ?? []).map((v) => (typeof v === 'string' ? { network: '', address: bytes(v) } : { network: v.network ?? '', address: bytes(v.ip), length: v.length })),
        ports: (o.ports ?? [[80, 8080]]).map(([servicePort, targetPort]) => ({ servicePort, targetPort })),
        subjectAltNames: o.sans ?? [],
        waypoint: gw(o.waypoint),
        weightedWaypoints: (o.weighted ?? []).map((w) => ({ destination: gw(w.gw), weight: w.weight })),
        loadBalancing: o.lb && {
          mode: LoadBalancing_Mode[o.lb.mode ?? 'UNSPECIFIED_MODE'],
          routingPreference: (o.lb.prefs ?? []).map((p) => LoadBalancing_Scope[p]),
          healthPolicy: o.lb.allowAll ? LoadBalancing_HealthPolicy.ALLOW_ALL : LoadBalancing_HealthPolicy.ONLY_HEALTHY,
        },
        ipFamilies: IPFamilies[o.families ?? 'AUTOMATIC'],
        canonical: o.canonical ?? false,
        visibility: o.namespaceOnly ? Service_Visibility.NAMESPACE : Service_Visibility.PUBLIC,
      },
    },
  });
  return { name: `${ns}/${hostname}`, address };
}

export type MatchInit = MessageInitShape<typeof MatchSchema>;

export interface AuthzOpts {
  scope?: 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';
  action?: 'ALLOW' | 'DENY';
  dryRun?: boolean;
  /** rules → clauses → matches. */
  rules?: MatchInit[][][];
}

export function authz(ns: string, name: string, o: AuthzOpts = {}): AuthorizationUpsert {
  const scope = { GLOBAL: 0, NAMESPACE: 1, WORKLOAD_SELECTOR: 2 }[o.scope ?? 'NAMESPACE'];
  const authorization = create(AuthorizationSchema, {
    name, namespace: ns, scope, action: o.action === 'DENY' ? 1 : 0, dryRun: o.dryRun ?? false,
    rules: (o.rules ?? []).map((r) => ({ clauses: r.map((matches) => ({ matches })) })),
  });
  return { name: `${ns}/${name}`, authorization };
}

