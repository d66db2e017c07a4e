/**
 * Endpoint selection for a service, as pure functions with an injected random source
 * as ztunnel does it: filter (address, port, health), rank by locality for STRICT and
 * FAILOVER, then pick weighted by Workload.capacity.
 */
import type { EndpointView, LbScope, LoadBalancingView, ServiceView, WorkloadView } from './types.js';

/** A number in [0, 1), like Math.random. */
export type Random = () => number;

/**
 * `standard`: the service must define the port. `waypoint`: the port is the waypoint's HBONE
 * port, which need not be a port of its service when the waypoint has an application tunnel.
 */
export type ResolutionMode = 'standard' | 'waypoint';

/** Picks one item with probability weight/total; undefined when nothing has a positive weight. */
export function weightedPick<T>(items: readonly T[], weight: (t: T) => number, rand: Random): T | undefined {
  let total = 0;
  for (const it of items) total += Math.max(0, weight(it));
  if (total <= 0) return undefined;
  let r = rand() * total;
  for (const it of items) {
    const w = Math.max(0, weight(it));
    if (r < w) return it;
    r -= w;
  }
  // Floating-point rounding can leave r ≥ 0 after the last item: take the last weighted one.
  for (let i = items.length - 1; i >= 0; i--) {
    const it = items[i] as T;
    if (weight(it) > 0) return it;
  }
  return undefined;
}

function includeHealth(service: ServiceView, w: WorkloadView): boolean {
  return w.status === 'HEALTHY' || service.loadBalancing?.healthPolicy === 'ALLOW_ALL';
}

/** Endpoints that can serve `servicePort` for `source`; sorted by uid so a seeded pick is reproducible. */
export function eligibleEndpoints(
  service: ServiceView,
  endpoints: readonly EndpointView[],
  source: WorkloadView,
  servicePort: number,
  mode: ResolutionMode,
): EndpointView[] {
  const svcTarget = service.ports.get(servicePort);
  if (mode === 'standard' && svcTarget === undefined) return [];
  const out = endpoints.filter(({ workload: w, ports }) => {
    // Without an address a workload is only reachable through its network's gateway, from elsewhere.
    if (w.addresses.length === 0 && w.hostname === '') {
      if (w.network === source.network || !w.networkGateway) return false;
    }
    if (mode === 'standard' && svcTarget === 0 && !ports.has(servicePort)) return false;
    if (mode === 'waypoint' && svcTarget === undefined && !w.applicationTunnel) return false;
    return includeHealth(service, w);
  });
  return out.sort((a, b) => (a.workload.uid < b.workload.uid ? -1 : a.workload.uid > b.workload.uid ? 1 : 0));
}

function scopeMatches(scope: LbScope, src: WorkloadView, dst: WorkloadView): boolean {
  switch (scope) {
    case 'REGION':
      return src.locality.region === dst.locality.region;
    case 'ZONE':
      return src.locality.zone === dst.locality.zone;
    case 'SUBZONE':
      return src.locality.subzone === dst.locality.subzone;
    case 'NODE':
      return src.node === dst.node;
    case 'CLUSTER':
      return src.clusterId === dst.clusterId;
    case 'NETWORK':
      return src.network === dst.network;
  }
}

/**
 * How well `dst` matches `src` along the preference list: the number of leading scopes that
 * match. When NETWORK comes first it dominates: a same-network endpoint outranks every other,
 * and for a different network the remaining scopes still count.
 */
export function localityRank(prefs: readonly LbScope[], src: WorkloadView, dst: WorkloadView): { rank: number; all: boolean } {
  const networkFirst = prefs[0] === 'NETWORK';
  let rank = 0;
  let adjust = 0;
  for (const scope of prefs) {
    const m = scopeMatches(scope, src, dst);
    if (scope === 'NETWORK' && networkFirst) {
      if (!m) continue;
      adjust = prefs.length - 1;
    }
    if (!m) break;
    rank++;
  }
  return { rank: rank + adjust, all: rank === prefs.length };
}

/** The endpoint to use among eligible ones (see eligibleEndpoints), or undefined. */
export function pickEndpoint(
  candidates: readonly EndpointView[],
  lb: LoadBalancingView | undefined,
  source: WorkloadView,
  rand: Random,
): EndpointView | undefined {
  let options = candidates;
  if (lb && (lb.mode === 'STRICT' || lb.mode === 'FAILOVER')) {
    const ranked = candidates
      .map((ep) => ({ ep, ...localityRank(lb.routingPreference, source, ep.workload) }))
      .filter((r) => lb.mode !== 'STRICT' || r.all);
    const max = Math.max(-1, ...ranked.map((r) => r.rank));
    options = ranked.filter((r) => r.rank === max).map((r) => r.ep);
  }
  return weightedPick(options, (ep) => ep.workload.capacity, rand);
}

/** The port on `ep` for `servicePort`: its own mapping, else the service's target port. */
export function targetPort(service: ServiceView, ep: EndpointView, servicePort: number): number | undefined {
  const own = ep.ports.get(servicePort);
  if (own !== undefined && own !== 0) return own;
  const svc = service.ports.get(servicePort) ?? 0;
  if (svc > 0) return svc;
  // With an application tunnel the far side maps the port; the service need not know it.
  if (ep.workload.applicationTunnel?.port !== undefined) return servicePort;
  return undefined;
}

/** A waypoint among Service.weighted_waypoints, by weight; undefined when none has weight. */
export function pickWeighted<T extends { weight: number }>(list: readonly T[], rand: Random): T | undefined {
  return list.length === 0 ? undefined : weightedPick(list, (w) => w.weight, rand);
}
