// The labels and annotations the model reads (Istio's names, so existing manifests keep working),
// and the small pure functions that interpret them.
import type { Meta } from './objects.js';
import type { WorkloadTypeName } from './types.js';

export const L = {
  canonicalName: 'service.istio.io/canonical-name',
  canonicalRevision: 'service.istio.io/canonical-revision',
  appName: 'app.kubernetes.io/name',
  appVersion: 'app.kubernetes.io/version',
  app: 'app',
  version: 'version',
  useWaypoint: 'istio.io/use-waypoint',
  useWaypointNamespace: 'istio.io/use-waypoint-namespace',
  waypointFor: 'istio.io/waypoint-for',
  ingressUseWaypoint: 'istio.io/ingress-use-waypoint',
  gatewayName: 'gateway.networking.k8s.io/gateway-name',
  managed: 'gateway.istio.io/managed',
  tunnel: 'networking.istio.io/tunnel',
  trafficDistribution: 'networking.istio.io/traffic-distribution',
  podTemplateHash: 'pod-template-hash',
  region: 'topology.kubernetes.io/region',
  zone: 'topology.kubernetes.io/zone',
  subzone: 'topology.istio.io/subzone',
} as const;

export const A = {
  redirection: 'ambient.istio.io/redirection',
  dryRun: 'istio.io/dry-run',
  kubeServiceAccounts: 'alpha.istio.io/kubernetes-serviceaccounts',
  canonicalServiceAccounts: 'alpha.istio.io/canonical-serviceaccounts',
} as const;

/** Every selector label present with the same value. An empty selector matches everything. */
export function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  for (const k in selector) if (labels[k] !== selector[k]) return false;
  return true;
}

/**
 * The deploying controller of a pod, for telemetry (`workload_name`, `workload_type`): Deployments
 * behind a ReplicaSet (name minus the pod-template-hash), CronJobs behind a Job (name minus the
 * numeric schedule suffix); pods without owners whose name carries the template hash belong to
 * the Deployment named before it.
 */
export function workloadOf(meta: Meta): { name: string; type: WorkloadTypeName } {
  const hash = meta.labels[L.podTemplateHash];
  const owner = meta.ownerReferences.find((o) => o.controller) ?? meta.ownerReferences[0];
  if (!owner) {
    const suffix = hash ? `-${hash}-` : undefined;
    const at = suffix ? meta.name.lastIndexOf(suffix) : -1;
    if (at > 0) return { name: meta.name.slice(0, at), type: 'DEPLOYMENT' };
    return { name: meta.name, type: 'POD' };
  }
  switch (owner.kind) {
    case 'Deployment':
      return { name: owner.name, type: 'DEPLOYMENT' };
    case 'ReplicaSet':
      if (hash && owner.name.endsWith(`-${hash}`)) return { name: owner.name.slice(0, -hash.length - 1), type: 'DEPLOYMENT' };
      return { name: owner.name, type: 'POD' };
    case 'Job': {
      const m = /^(.+)-\d+$/.exec(owner.name);
      return m?.[1] ? { name: m[1], type: 'CRONJOB' } : { name: owner.name, type: 'JOB' };
    }
    case 'CronJob':
      return { name: owner.name, type: 'CRONJOB' };
    default:
      return { name: owner.name, type: 'POD' };
  }
}

/** Canonical service name/revision: Istio's label precedence, then the workload name / `latest`. */
export function canonicalOf(labels: Record<string, string>, workloadName: string): { name: string; revision: string } {
  return {
    name: labels[L.canonicalName] || labels[L.appName] || labels[L.app] || workloadName,
    revision: labels[L.canonicalRevision] || labels[L.appVersion] || labels[L.version] || 'latest',
  };
}

export type UseWaypoint =
  | { kind: 'unset' }
  | { kind: 'none'; from: 'object' | 'namespace' }
  | { kind: 'ref'; namespace: string; name: string; from: 'object' | 'namespace' };

/**
 * Which waypoint an object asks for: its own `istio.io/use-waypoint` label wins over its
 * namespace's; `none` opts out even when the namespace has one. The waypoint's namespace defaults
 * to the object's namespace.
 */
export function useWaypoint(labels: Record<string, string>, namespace: string, nsLabels: Record<string, string>): UseWaypoint {
  for (const [from, ls] of [['object', labels], ['namespace', nsLabels]] as const) {
    const name = ls[L.useWaypoint];
    if (!name) continue;
    if (name === 'none') return { kind: 'none', from };
    return { kind: 'ref', namespace: ls[L.useWaypointNamespace] || namespace, name, from };
  }
  return { kind: 'unset' };
}

/** strconv.ParseBool's accepted spellings; anything else is false. */
export function parseBool(v: string | undefined): boolean {
  return v === '1' || v === 't' || v === 'T' || v === 'true' || v === 'TRUE' || v === 'True';
}

/** Pods and Services that make up a waypoint (or another Istio gateway) never get a waypoint. */
export function isGatewayInfrastructure(labels: Record<string, string>): boolean {
  return L.managed in labels || L.gatewayName in labels;
}

/**
 * Equality selectors indexed by one of their `key=value` pairs, so finding the selectors that match
 * a set of labels costs a lookup per label rather than a scan of every selector.
 */
export class SelectorIndex<T> {
  private readonly byPair = new Map<string, Array<{ entries: Array<[string, string]>; value: T }>>();

  /** An empty selector is not indexed: it would match everything, which no caller wants here. */
  add(selector: Record<string, string>, value: T): void {
    const entries = Object.entries(selector);
    const first = entries[0];
    if (!first) return;
    const k = `${first[0]}\u0000${first[1]}`;
    const list = this.byPair.get(k);
    if (list) list.push({ entries, value });
    else this.byPair.set(k, [{ entries, value }]);
  }

  matching(labels: Record<string, string>): T[] {
    const out: T[] = [];
    for (const lk in labels) {
      const list = this.byPair.get(`${lk}\u0000${labels[lk]}`);
      if (!list) continue;
      for (const { entries, value } of list) if (entries.every(([k, v]) => labels[k] === v)) out.push(value);
    }
    return out;
  }
}
