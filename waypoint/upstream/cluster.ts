// One upstream destination (service × subset × port): its endpoints (the subset's labels applied,
// unhealthy and ejected ones left out), the load balancer, outlier detector and circuit breaker
// of its DestinationPolicy, and requests in flight per endpoint. Clusters are rebuilt only when
// the DestinationPolicy changes, so outlier state survives endpoint updates.
import type { DestinationPolicy } from '../../lib/proto/gen/ambit/l7/v1/destination_pb.js';
import { HBONE_PORT } from '../../lib/hbone/constants.js';
import type { Balancer, Breaker, OutlierOutcome, OutlierTracker, PickContext, PolicyEngines, UpstreamEndpoint } from '../engines.js';
import { targetPortOf } from '../state/addresses.js';
import type { EndpointInfo, ServiceInfo, WaypointView } from '../state/types.js';
import type { UpstreamTarget } from './connector.js';
import { effectivePolicy, labelsMatch, type EffectivePolicy } from './traffic-policy.js';

export interface PickedEndpoint {
  endpoint: EndpointInfo;
  target: UpstreamTarget;
  /** Call when the request to it is over; undefined: nothing to tell outlier detection (it never left the waypoint). */
  done(outcome: OutlierOutcome | undefined): void;
}

export class Cluster {
  readonly balancer: Balancer;
  readonly outlier: OutlierTracker | undefined;
  readonly breaker: Breaker;
  readonly #active = new Map<string, number>();
  #endpointsGen = -1;

  constructor(
    /** Names the cluster's connection pool (the same across DestinationPolicy changes). */
    readonly key: string,
    public service: ServiceInfo,
    readonly port: number,
    readonly subsetLabels: Readonly<Record<string, string>>,
    readonly policy: EffectivePolicy,
    readonly source: DestinationPolicy | undefined,
    engines: PolicyEngines,
  ) {
    this.balancer = engines.balancer(policy.loadBalancer);
    this.outlier = policy.outlierDetection ? engines.outlier(policy.outlierDetection) : undefined;
    this.breaker = engines.breaker(policy.connectionPool);
  }

  /** Endpoints that may take the request, `exclude` (endpoints already tried) left out while others remain. */
  pick(view: WaypointView, ctx: PickContext, exclude: ReadonlySet<string> = new Set()): PickedEndpoint | undefined {
    const members = view.endpoints(this.service.key).filter((e) => labelsMatch(this.subsetLabels, e.labels));
    if (this.outlier && this.#endpointsGen !== view.generation) {
      this.outlier.setEndpoints(members.map((e) => e.uid));
      this.#endpointsGen = view.generation;
    }
    const usable: { info: EndpointInfo; ep: UpstreamEndpoint }[] = [];
    for (const e of members) {
      if (!e.healthy || this.outlier?.isEjected(e.uid)) continue;
      const port = targetPortOf(this.service, e, this.port);
      if (port === undefined) continue;
      usable.push({ info: e, ep: { id: e.uid, address: e.ip, port, weight: e.weight, labels: { ...e.labels }, active: this.#active.get(e.uid) ?? 0 } });
    }
    const fresh = usable.filter((u) => !exclude.has(u.info.uid));
    const from = fresh.length > 0 ? fresh : usable;
    const chosen = this.balancer.pick(from.map((u) => u.ep), ctx);
    const hit = chosen && from.find((u) => u.ep.id === chosen.id);
    if (!hit) return undefined;
    const id = hit.info.uid;
    this.#active.set(id, (this.#active.get(id) ?? 0) + 1);
    let finished = false;
    return {
      endpoint: hit.info,
      target: { ip: hit.ep.address, port: hit.ep.port, identities: [hit.info.identity, ...this.service.subjectAltNames], hbonePort: HBONE_PORT },
      done: (outcome) => {
        if (finished) return;
        finished = true;
        const n = (this.#active.get(id) ?? 1) - 1;
        if (n <= 0) this.#active.delete(id);
        else this.#active.set(id, n);
        if (outcome) this.outlier?.report(id, outcome);
      },
    };
  }

  ejected(): number {
    return this.outlier?.ejectedCount() ?? 0;
  }
}

export class ClusterManager {
  readonly #clusters = new Map<string, Cluster>();

  constructor(
    private readonly view: WaypointView,
    private readonly engines: PolicyEngines,
  ) {}

  get(service: ServiceInfo, port: number, subset: string, subsetLabels: Readonly<Record<string, string>>): Cluster {
    const key = `${service.key}|${port}|${subset}|${JSON.stringify(subsetLabels)}`;
    const dp = this.view.destinationPolicy(service.hostname);
    const cur = this.#clusters.get(key);
    if (cur && cur.source === dp) {
      // A re-sent Service (new VIPs or ports) keeps the cluster and its outlier state.
      cur.service = service;
      return cur;
    }
    const c = new Cluster(key, service, port, subsetLabels, effectivePolicy(dp, subset, port), dp, this.engines);
    this.#clusters.set(key, c);
    return c;
  }

  list(): Cluster[] {
    return [...this.#clusters.values()];
  }
}
