/**
 * Gateway API policy attachment (`targetRef` / `targetRefs`) for policies enforced by waypoints:
 * a waypoint Gateway in the policy's namespace (all its traffic), a Service in the policy's
 * namespace (requests for it, at the waypoint serving it), or, from the root namespace only, the
 * `istio-waypoint` GatewayClass (every waypoint).
 */
import type { Meta } from '../objects.js';
import { WAYPOINT_CLASS } from '../waypoints.js';
import { Invalid, list, optRecord, optString, record, requiredString } from './read.js';
import type { ObjectReport } from './report.js';
import { serviceNamed, type ServiceIndex } from './service-index.js';
import type { PolicyTargetModel } from './types.js';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

export function hasTargetRefs(spec: Record<string, unknown>): boolean {
  return optRecord(spec.targetRef, 'spec.targetRef') !== undefined || list(spec.targetRefs, 'spec.targetRefs').length > 0;
}

/** The targets that resolve, merged per waypoint; errors for the others go to `report` under `condition`. */
export function resolveTargets(spec: Record<string, unknown>, meta: Meta, index: ServiceIndex, report: ObjectReport, condition: string): PolicyTargetModel[] {
  const refs: Array<[unknown, string]> = [];
  if (spec.targetRef !== undefined && spec.targetRef !== null) refs.push([spec.targetRef, 'spec.targetRef']);
  for (const [i, r] of list(spec.targetRefs, 'spec.targetRefs').entries()) refs.push([r, `spec.targetRefs[${i}]`]);
  if (refs.length === 0) throw new Invalid('spec.targetRefs', 'at least one target (a waypoint Gateway or a Service) is required');
  const byWaypoint = new Map<string, Set<string> | 'all'>();
  const add = (waypoint: string, hostname?: string): void => {
    const cur = byWaypoint.get(waypoint);
    if (cur === 'all') return;
    if (!hostname) byWaypoint.set(waypoint, 'all');
    else byWaypoint.set(waypoint, new Set([...(cur ?? []), hostname]));
  };
  for (const [raw, path] of refs) {
    const r = record(raw, path);
    const group = optString(r.group, `${path}.group`) ?? '';
    const kind = requiredString(r.kind, `${path}.kind`);
    const name = requiredString(r.name, `${path}.name`);
    const ns = optString(r.namespace, `${path}.namespace`);
    if (ns && ns !== meta.namespace) throw new Invalid(`${path}.namespace`, `a policy can only target objects in its own namespace (${meta.namespace})`);
    if (kind === 'Gateway' && group === GATEWAY_GROUP) {
      const key = `${meta.namespace}/${name}`;
      if (!index.waypoints.has(key)) {
        report.error(condition, 'TargetNotFound', `${path}.name`, `there is no waypoint Gateway ${key}; create it (istioctl waypoint apply) or fix the name`);
        continue;
      }
      add(key);
    } else if (kind === 'Service' && (group === '' || group === 'core')) {
      const svc = serviceNamed(index, meta.namespace, name);
      if (!svc) {
        report.error(condition, 'TargetNotFound', `${path}.name`, `Service ${meta.namespace}/${name} does not exist; create it or fix the name`);
        continue;
      }
      if (!svc.waypoint) {
        report.error(condition, 'AncestorNotBound', `${path}.name`, `no waypoint serves Service ${meta.namespace}/${name}; label it (or its namespace) istio.io/use-waypoint so the policy can be enforced`);
        continue;
      }
      add(svc.waypoint, svc.hostname);
    } else if (kind === 'GatewayClass' && group === GATEWAY_GROUP) {
      if (name !== WAYPOINT_CLASS || meta.namespace !== index.opts.rootNamespace) {
        report.error(condition, 'TargetNotFound', path, `only the ${WAYPOINT_CLASS} GatewayClass can be targeted, and only by policies in ${index.opts.rootNamespace}`);
        continue;
      }
      for (const key of index.waypoints.keys()) add(key);
    } else {
      report.error(condition, 'TargetNotFound', `${path}.kind`, `cannot target ${group ? `${group}/` : ''}${kind}; target a Gateway (${GATEWAY_GROUP}) or a Service`);
    }
  }
  return [...byWaypoint.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([waypoint, h]) => ({ waypoint, hostnames: h === 'all' ? [] : [...h].sort() }));
}
