// Which L7 resources a waypoint applies (every L7 resource names the waypoints it is for; a
// waypoint ignores the rest). Pure.
import type { PolicyTarget } from '../../lib/proto/gen/ambit/l7/v1/common_pb.js';

/** RouteConfig / DestinationPolicy: one waypoint, `<namespace>/<name>`. */
export function servedBy(resourceWaypoint: string, waypoint: string): boolean {
  return resourceWaypoint === waypoint;
}

/** L7Authorization / RateLimit: any target naming this waypoint. */
export function targetsWaypoint(targets: readonly PolicyTarget[], waypoint: string): boolean {
  return targets.some((t) => t.waypoint === waypoint);
}

/** Whether a policy targeting this waypoint applies to requests for `hostname`. */
export function appliesTo(targets: readonly PolicyTarget[], waypoint: string, hostname: string): boolean {
  return targets.some((t) => t.waypoint === waypoint && (t.hostnames.length === 0 || t.hostnames.includes(hostname)));
}
