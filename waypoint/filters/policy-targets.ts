/**
 * Which L7 policies apply to a request: every L7Authorization and RateLimit lists its targets,
 * a waypoint (`<ns>/<name>`) and optionally the service hostnames it is limited to; an empty
 * hostname list covers every service the waypoint serves. A waypoint ignores resources that do
 * not name it.
 */
import type { PolicyTarget } from '../../lib/proto/gen/ambit/l7/v1/common_pb.js';

export function targets(list: readonly PolicyTarget[], waypoint: string, hostname: string): boolean {
  return list.some((t) => t.waypoint === waypoint && (t.hostnames.length === 0 || t.hostnames.includes(hostname)));
}

/** The policies of `all` that apply to requests for `hostname` at `waypoint`, in the given order. */
export function policiesFor<P extends { targets: PolicyTarget[] }>(all: readonly P[], waypoint: string, hostname: string): P[] {
  return all.filter((p) => targets(p.targets, waypoint, hostname));
}
