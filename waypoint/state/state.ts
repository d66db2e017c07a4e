// The waypoint's configuration as the control plane last sent it: services and workloads from
// istio.workload.Address, and the L7 resources (RouteConfig, DestinationPolicy, L7Authorization,
// RateLimit) that target this waypoint. Updates are all-or-nothing per response; nothing is removed
// while the control plane is away, so traffic keeps flowing on the last good configuration.
import type { L7Authorization } from '../../lib/proto/gen/ambit/l7/v1/authorization_pb.js';
import type { DestinationPolicy } from '../../lib/proto/gen/ambit/l7/v1/destination_pb.js';
import type { RateLimit } from '../../lib/proto/gen/ambit/l7/v1/ratelimit_pb.js';
import type { RouteConfig } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import type { Address } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import { decodeAddress } from './addresses.js';
import { appliesTo, servedBy, targetsWaypoint } from './targets.js';
import type { EndpointInfo, ServiceInfo, WaypointView } from './types.js';

type Named<T> = { name: string; value: T };

export interface StateCounts {
  services: number;
  workloads: number;
  routeConfigs: number;
  destinationPolicies: number;
  authorizations: number;
  rateLimits: number;
  /** Resources received for other waypoints and ignored. */
  ignored: number;
}

export class WaypointState implements WaypointView {
  #generation = 0;
  readonly #services = new Map<string, ServiceInfo>();
  readonly #workloads = new Map<string, EndpointInfo>();
  readonly #byVip = new Map<string, ServiceInfo>();
  readonly #byHostname = new Map<string, ServiceInfo>();
  readonly #byIp = new Map<string, EndpointInfo>();
  readonly #endpoints = new Map<string, EndpointInfo[]>();
  readonly #routes = new Map<string, RouteConfig>();
  readonly #routesByHost = new Map<string, RouteConfig>();
  readonly #policies = new Map<string, DestinationPolicy>();
  readonly #policiesByHost = new Map<string, DestinationPolicy>();
  readonly #authz = new Map<string, L7Authorization>();
  readonly #limits = new Map<string, RateLimit>();
  readonly #ignored = new Set<string>();
  readonly #listeners = new Set<() => void>();

  /** `waypoint`: `<namespace>/<name>` of the Gateway this instance serves. */
  constructor(readonly waypoint: string) {}

  get generation(): number {
    return this.#generation;
  }

  onChange(l: () => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  applyAddresses(upserts: readonly Named<Address>[], removals: readonly string[]): void {
    // Decode everything first: a bad resource rejects the whole response before anything changes.
    const decoded = upserts.map((u) => ({ name: u.name, d: decodeAddress(u.name, u.value) }));
    for (const n of removals) {
      this.#services.delete(n);
      this.#workloads.delete(n);
    }
    for (const { name, d } of decoded) {
      this.#services.delete(name);
      this.#workloads.delete(name);
      if (d.kind === 'service') this.#services.set(name, d.value);
      else if (d.kind === 'workload') this.#workloads.set(name, d.value);
    }
    this.#reindex();
    this.#changed();
  }

  applyRouteConfigs(upserts: readonly Named<RouteConfig>[], removals: readonly string[]): void {
    this.#apply(this.#routes, upserts, removals, (r) => servedBy(r.waypoint, this.waypoint), () => this.#byHost(this.#routes, this.#routesByHost));
  }

  applyDestinationPolicies(upserts: readonly Named<DestinationPolicy>[], removals: readonly string[]): void {
    this.#apply(this.#policies, upserts, removals, (p) => servedBy(p.waypoint, this.waypoint), () => this.#byHost(this.#policies, this.#policiesByHost));
  }

  applyAuthorizations(upserts: readonly Named<L7Authorization>[], removals: readonly string[]): void {
    this.#apply(this.#authz, upserts, removals, (p) => targetsWaypoint(p.targets, this.waypoint));
  }

  applyRateLimits(upserts: readonly Named<RateLimit>[], removals: readonly string[]): void {
    this.#apply(this.#limits, upserts, removals, (p) => targetsWaypoint(p.targets, this.waypoint));
  }

  // === WaypointView ===

  serviceByVip(ip: string): ServiceInfo | undefined {
    return this.#byVip.get(ip);
  }

  serviceByHostname(hostname: string): ServiceInfo | undefined {
    return this.#byHostname.get(hostname);
  }

  endpoints(serviceKey: string): readonly EndpointInfo[] {
    return this.#endpoints.get(serviceKey) ?? [];
  }

  workloadByIp(ip: string): EndpointInfo | undefined {
    return this.#byIp.get(ip);
  }

  routeConfig(hostname: string): RouteConfig | undefined {
    return this.#routesByHost.get(hostname);
  }

  destinationPolicy(hostname: string): DestinationPolicy | undefined {
    return this.#policiesByHost.get(hostname);
  }

  authorizations(hostname: string): readonly L7Authorization[] {
    return [...this.#authz.values()].filter((p) => appliesTo(p.targets, this.waypoint, hostname));
  }

  rateLimits(hostname: string): readonly RateLimit[] {
    return [...this.#limits.values()].filter((p) => appliesTo(p.targets, this.waypoint, hostname));
  }

  /** Every RateLimit targeting this waypoint (the rate limiter keeps its buckets across updates). */
  allRateLimits(): RateLimit[] {
    return [...this.#limits.values()];
  }

  // === for admin ===

  counts(): StateCounts {
    return {
      services: this.#services.size,
      workloads: this.#workloads.size,
      routeConfigs: this.#routes.size,
      destinationPolicies: this.#policies.size,
      authorizations: this.#authz.size,
      rateLimits: this.#limits.size,
      ignored: this.#ignored.size,
    };
  }

  dump(): Record<string, unknown> {
    return {
      waypoint: this.waypoint,
      generation: this.#generation,
      services: [...this.#services.values()],
      workloads: [...this.#workloads.values()].map((w) => ({ ...w, servicePorts: Object.fromEntries([...w.servicePorts].map(([k, m]) => [k, Object.fromEntries(m)])) })),
      routeConfigs: [...this.#routes.values()],
      destinationPolicies: [...this.#policies.values()],
      authorizations: [...this.#authz.values()],
      rateLimits: [...this.#limits.values()],
      ignored: [...this.#ignored].sort(),
    };
  }

  // === impl ===

  /** Keeps the resources (by resource name) that are for this waypoint; the rest are noted as ignored. */
  #apply<T>(map: Map<string, T>, upserts: readonly Named<T>[], removals: readonly string[], mine: (v: T) => boolean, reindex?: () => void): void {
    for (const n of removals) {
      this.#ignored.delete(n);
      map.delete(n);
    }
    for (const u of upserts) {
      map.delete(u.name);
      this.#ignored.delete(u.name);
      if (mine(u.value)) map.set(u.name, u.value);
      else this.#ignored.add(u.name);
    }
    reindex?.();
    this.#changed();
  }

  #byHost<T extends { hostname: string }>(from: Map<string, T>, to: Map<string, T>): void {
    to.clear();
    for (const v of from.values()) to.set(v.hostname, v);
  }

  #reindex(): void {
    this.#byVip.clear();
    this.#byHostname.clear();
    this.#byIp.clear();
    this.#endpoints.clear();
    for (const s of this.#services.values()) {
      for (const v of s.vips) this.#byVip.set(v, s);
      this.#byHostname.set(s.hostname, s);
    }
    for (const w of this.#workloads.values()) {
      this.#byIp.set(w.ip, w);
      for (const key of w.servicePorts.keys()) {
        let list = this.#endpoints.get(key);
        if (!list) this.#endpoints.set(key, (list = []));
        list.push(w);
      }
    }
    for (const list of this.#endpoints.values()) list.sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  }

  #changed(): void {
    this.#generation++;
    for (const l of this.#listeners) l();
  }
}
