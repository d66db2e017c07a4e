/**
 * Outbound destination resolution (ARCHITECTURE.md §3, step 3),
 * pure over the lookups of the store: service VIP → its waypoint, or a load-balanced endpoint;
 * pod IP → its waypoint, or the pod; anything else → passthrough.
 */
import { formatHostPort } from '../../lib/net/host-port.js';
import { canonicalIp, isV6 } from './ip.js';
import { eligibleEndpoints, pickEndpoint, pickWeighted, targetPort, type Random, type ResolutionMode } from './lb.js';
import { gatewayText, type EndpointView, type GatewayRef, type ServiceView, type WorkloadView } from './types.js';
import type { ResolveErrorCode, ResolvedWaypoint, Resolution, Target } from './view.js';

/** The store's indexes, as resolution needs them. */
export interface Lookup {
  workloadByAddr(network: string, ip: string): WorkloadView | undefined;
  workloadByHostname(namespace: string, hostname: string): WorkloadView | undefined;
  serviceByVip(network: string, ip: string, clientNs: string | undefined): ServiceView | undefined;
  serviceByKey(key: string): ServiceView | undefined;
  endpoints(service: ServiceView): readonly EndpointView[];
}

export interface ResolveEnv {
  lookup: Lookup;
  rand: Random;
  hbonePort: number;
}

type Err = Extract<Resolution, { kind: 'error' }>;
const err = (reason: ResolveErrorCode, message: string, extra: Partial<Err> = {}): Err => ({ kind: 'error', reason, message, ...extra });

const dedupe = (xs: readonly string[]): string[] => [...new Set(xs)];

/** The workload's IP to dial: the one dialed if it is its own, else one of the service's families, same family first. */
export function pickIp(w: WorkloadView, dialed: string, families: ServiceView['ipFamilies'] = 'AUTOMATIC'): string | undefined {
  if (w.addresses.includes(dialed)) return dialed;
  const ok = w.addresses.filter((a) => (families === 'IPV4_ONLY' ? !isV6(a) : families === 'IPV6_ONLY' ? isV6(a) : true));
  return ok.find((a) => isV6(a) === isV6(dialed)) ?? ok[0];
}

function noAddress(w: WorkloadView): Err {
  if (w.addresses.length === 0 && w.hostname !== '') {
    return err('NoValidDestination', `workload ${w.uid} has only a hostname (${w.hostname}); resolving it on demand is not supported`, { workload: w });
  }
  if (w.networkGateway) return err('CrossNetwork', `workload ${w.uid} is only reachable through network gateway ${gatewayText(w.networkGateway)}, which is not supported`, { workload: w });
  return err('NoValidDestination', `workload ${w.uid} has no address of a usable IP family`, { workload: w });
}

/** The plain next hop to a workload: HBONE to its :15008 when it is in the mesh, else TCP. */
function direct(env: ResolveEnv, w: WorkloadView, ip: string, port: number, sans: readonly string[]): Target {
  if (w.tunnelProtocol === 'HBONE') {
    return { protocol: 'HBONE', ip, port: env.hbonePort, authority: formatHostPort(ip, port), expectedIdentities: dedupe([...sans, w.identity]) };
  }
  return { protocol: 'TCP', ip, port, expectedIdentities: [] };
}

type Upstream = { ep: EndpointView; port: number } | { error: string };

function fromService(env: ResolveEnv, svc: ServiceView, source: WorkloadView, port: number, mode: ResolutionMode): Upstream {
  if (mode === 'standard' && !svc.ports.has(port)) return { error: `service ${svc.key} has no port ${port}` };
  const eligible = eligibleEndpoints(svc, env.lookup.endpoints(svc), source, port, mode);
  const ep = pickEndpoint(eligible, svc.loadBalancing, source, env.rand);
  if (!ep) return { error: `service ${svc.key} has no healthy endpoint for port ${port}` };
  const tp = targetPort(svc, ep, port);
  if (tp === undefined) return { error: `service ${svc.key}: endpoint ${ep.workload.uid} has no target port for port ${port}` };
  return { ep, port: tp };
}

/** The workloads behind a waypoint/gateway reference (ztunnel: address → workload or VIP; hostname → service or workload). */
export function gatewayMembers(lookup: Lookup, gw: GatewayRef): WorkloadView[] {
  if (gw.kind === 'address') {
    const w = lookup.workloadByAddr(gw.network, gw.ip);
    if (w) return [w];
    const svc = lookup.serviceByVip(gw.network, gw.ip, undefined);
    return svc ? lookup.endpoints(svc).map((e) => e.workload) : [];
  }
  const svc = lookup.serviceByKey(`${gw.namespace}/${gw.hostname}`);
  if (svc) return lookup.endpoints(svc).map((e) => e.workload);
  const w = lookup.workloadByHostname(gw.namespace, gw.hostname);
  return w ? [w] : [];
}

/** Traffic from a waypoint (its identity AND one of its IPs) must not be sent to that waypoint again. */
export function isFromGateway(lookup: Lookup, gw: GatewayRef, source: WorkloadView, srcIps: readonly string[]): boolean {
  return gatewayMembers(lookup, gw).some((m) => m.identity === source.identity && m.addresses.some((a) => srcIps.includes(a)));
}

/** A waypoint reference → the waypoint workload, IP and port to send HBONE to. */
export function resolveWaypoint(env: ResolveEnv, gw: GatewayRef, source: WorkloadView, dialedIp: string): ResolvedWaypoint | Err {
  const unknown = (why: string): Err => err('UnknownWaypoint', `waypoint ${gatewayText(gw)} ${why}`);
  let svc: ServiceView | undefined;
  let picked: { w: WorkloadView; port: number } | undefined;
  // Hostname references adapt to the dialed IP's family; address references use that address.
  const family = gw.kind === 'address' ? gw.ip : dialedIp;
  if (gw.kind === 'address') {
    svc = env.lookup.serviceByVip(gw.network, gw.ip, source.namespace);
    if (!svc) {
      const w = env.lookup.workloadByAddr(gw.network, gw.ip);
      if (!w) return unknown('is not known');
      picked = { w, port: gw.hbonePort };
    }
  } else {
    svc = env.lookup.serviceByKey(`${gw.namespace}/${gw.hostname}`);
    if (!svc) {
      const w = env.lookup.workloadByHostname(gw.namespace, gw.hostname);
      if (!w) return unknown('is not known');
      picked = { w, port: gw.hbonePort };
    }
  }
  if (svc) {
    if (svc.loadBalancing?.mode === 'PASSTHROUGH') return unknown(`is PASSTHROUGH service ${svc.key}`);
    const up = fromService(env, svc, source, gw.hbonePort, 'waypoint');
    if ('error' in up) return unknown(`has no usable endpoint (${up.error})`);
    picked = { w: up.ep.workload, port: up.port };
  }
  if (!picked) return unknown('is not known');
  if (picked.w.network !== source.network) return err('CrossNetwork', `waypoint ${gatewayText(gw)} is on network "${picked.w.network}"; double HBONE is not supported`, { workload: picked.w });
  const ip = pickIp(picked.w, family, svc?.ipFamilies);
  if (!ip) return noAddress(picked.w);
  return { gateway: gw, workload: picked.w, service: svc, ip, port: picked.port };
}

function viaWaypoint(wp: ResolvedWaypoint, dstIp: string, dstPort: number): Target {
  // The waypoint gets the destination as dialed (the VIP, not a translated endpoint).
  const sans = dedupe([...(wp.service?.subjectAltNames ?? []), wp.workload.identity]);
  return { protocol: 'HBONE', ip: wp.ip, port: wp.port, authority: formatHostPort(dstIp, dstPort), expectedIdentities: sans };
}

function serviceWaypoints(svc: ServiceView): GatewayRef[] {
  return [...(svc.waypoint ? [svc.waypoint] : []), ...svc.weightedWaypoints.map((w) => w.gateway)];
}

export function resolveDestination(env: ResolveEnv, source: WorkloadView, dstIpRaw: string, dstPort: number, srcIp?: string): Resolution {
  const dstIp = canonicalIp(dstIpRaw);
  if (!dstIp) return err('NoValidDestination', `"${dstIpRaw}" is not an IP address`);
  const srcIps = srcIp !== undefined ? [canonicalIp(srcIp) ?? srcIp] : source.addresses;
  const { lookup } = env;
  const passthrough: Target = { protocol: 'TCP', ip: dstIp, port: dstPort, expectedIdentities: [] };

  const svc = lookup.serviceByVip(source.network, dstIp, source.namespace);
  if (svc) {
    // Weighted waypoints (canary) take precedence over the single waypoint field.
    const gw = pickWeighted(svc.weightedWaypoints, env.rand)?.gateway ?? svc.waypoint;
    // Also for services: a waypoint calling a VIP it fronts would otherwise loop back to itself.
    const fromWp = gw !== undefined && serviceWaypoints(svc).some((g) => isFromGateway(lookup, g, source, srcIps));
    if (gw && !fromWp) {
      const wp = resolveWaypoint(env, gw, source, dstIp);
      if ('kind' in wp) return { ...wp, service: svc };
      return { kind: 'service', service: svc, waypoint: wp, target: viaWaypoint(wp, dstIp, dstPort) };
    }
    if (svc.loadBalancing?.mode === 'PASSTHROUGH') return { kind: 'passthrough', service: svc, target: passthrough };
    const up = fromService(env, svc, source, dstPort, 'standard');
    if ('error' in up) return err('NoHealthyUpstream', up.error, { service: svc });
    const w = up.ep.workload;
    if (w.network !== source.network) {
      return err('CrossNetwork', `endpoint ${w.uid} of ${svc.key} is on network "${w.network}"; double HBONE is not supported`, { service: svc, workload: w });
    }
    const ip = pickIp(w, dstIp, svc.ipFamilies);
    if (!ip) return { ...noAddress(w), service: svc };
    return { kind: 'service', service: svc, endpoint: { workload: w, ip, targetPort: up.port }, target: direct(env, w, ip, up.port, svc.subjectAltNames) };
  }

  const w = lookup.workloadByAddr(source.network, dstIp);
  if (!w) return { kind: 'passthrough', target: passthrough };
  if (w.waypoint && !isFromGateway(lookup, w.waypoint, source, srcIps)) {
    const wp = resolveWaypoint(env, w.waypoint, source, dstIp);
    if ('kind' in wp) return { ...wp, workload: w };
    return { kind: 'workload', workload: w, port: dstPort, waypoint: wp, target: viaWaypoint(wp, dstIp, dstPort) };
  }
  return { kind: 'workload', workload: w, port: dstPort, target: direct(env, w, dstIp, dstPort, []) };
}
