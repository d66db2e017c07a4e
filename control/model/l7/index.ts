/**
 * The waypoint's L7 model: HTTPRoute, GRPCRoute, VirtualService, DestinationRule, targeted
 * AuthorizationPolicy and RateLimitPolicy compiled into Ambit's own resource types for the
 * waypoint serving each service (the service's `istio.io/use-waypoint`, resolved as for L4).
 * Pure, and independent of Pods, so it is rebuilt with the rest of the model's context.
 * Precedence as Istio's: a service with an HTTPRoute or GRPCRoute ignores VirtualServices.
 */
import { resolveOptions } from '../types.js';
import { compileAuthorizations } from './authorization.js';
import { DEFAULT_RETRY } from './defaults.js';
import { compileDestinationRules } from './destination-rule.js';
import { compileGatewayRoutes, type RouteCandidate } from './gateway-routes.js';
import { compileRateLimits } from './rate-limit.js';
import type { ObjectReport } from './report.js';
import { compareMatches } from './route-order.js';
import { indexServices, type ServiceInfo } from './service-index.js';
import type { L7Model, L7Options, L7Snapshot, RouteConfigModel, RouteModel } from './types.js';
import { compileVirtualServices } from './virtual-service.js';

export type * from './types.js';

/** A service without routes goes to itself, with Istio's default retries. */
function defaultRoute(s: ServiceInfo): RouteModel {
  return { name: 'default', matches: [], action: { forward: [{ hostname: s.hostname, namespace: s.namespace, port: 0, weight: 1 }] }, retry: DEFAULT_RETRY };
}

export function buildL7Model(snapshot: L7Snapshot, options: L7Options = {}): L7Model {
  const opts = resolveOptions(options);
  const index = indexServices(snapshot, opts);
  const http = compileGatewayRoutes('HTTPRoute', snapshot.httpRoutes ?? [], index);
  const grpc = compileGatewayRoutes('GRPCRoute', snapshot.grpcRoutes ?? [], index);
  const byService = new Map<string, RouteCandidate[]>();
  for (const c of [...http.candidates, ...grpc.candidates]) {
    const list = byService.get(c.service.key) ?? [];
    list.push(c);
    byService.set(c.service.key, list);
  }
  const dr = compileDestinationRules(snapshot.destinationRules ?? [], index);
  const vs = compileVirtualServices(snapshot.virtualServices ?? [], index, dr.subsets, new Set(byService.keys()));
  const authz = compileAuthorizations(snapshot.authorizationPolicies ?? [], index);
  const rl = compileRateLimits(snapshot.rateLimitPolicies ?? [], index, options.rateLimitRedis);

  const routeConfigs = new Map<string, RouteConfigModel>();
  const services = [...index.byHostname.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  for (const s of services) {
    if (!s.waypoint) continue;
    const base = { name: s.key, hostname: s.hostname, namespace: s.namespace, waypoint: s.waypoint };
    const candidates = byService.get(s.key);
    if (candidates) {
      candidates.sort((a, b) => compareMatches(a.route.matches[0], b.route.matches[0], a.order, b.order));
      const sources = [...new Set(candidates.map((c) => c.route.name.slice(0, c.route.name.lastIndexOf(' '))))];
      routeConfigs.set(s.key, { ...base, routes: candidates.map((c) => c.route), sources });
      continue;
    }
    const fromVs = vs.routes.get(s.key);
    if (fromVs) routeConfigs.set(s.key, { ...base, routes: fromVs.routes, sources: fromVs.sources });
    else routeConfigs.set(s.key, { ...base, routes: [defaultRoute(s)], sources: [] });
  }

  const reports: ObjectReport[] = [...http.reports, ...grpc.reports, ...vs.reports, ...dr.reports, ...authz.reports, ...rl.reports];
  const status: L7Model['status'] = new Map();
  const problems: L7Model['problems'] = [];
  for (const r of reports) {
    status.set(`${r.kind}/${r.meta.namespace}/${r.meta.name}`, r.status());
    problems.push(...r.problems, ...r.warnings);
  }
  return { routeConfigs, destinationPolicies: dr.policies, authorizations: authz.authorizations, rateLimits: rl.rateLimits, status, problems };
}
