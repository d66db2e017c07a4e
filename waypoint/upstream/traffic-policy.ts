// The traffic policy for one (service, subset, port): the DestinationPolicy carries every
// combination already merged (subset over service, port over that), so this is a lookup. Pure.
import type { ConnectionPool, DestinationPolicy, LoadBalancer, OutlierDetection } from '../../lib/proto/gen/ambit/l7/v1/destination_pb.js';

export interface EffectivePolicy {
  loadBalancer: LoadBalancer | undefined;
  connectionPool: ConnectionPool | undefined;
  outlierDetection: OutlierDetection | undefined;
}

export function effectivePolicy(dp: DestinationPolicy | undefined, subset: string, port: number): EffectivePolicy {
  const base = subset ? dp?.subsets.find((s) => s.name === subset)?.trafficPolicy ?? dp?.trafficPolicy : dp?.trafficPolicy;
  const p = base?.ports.find((x) => x.port === port);
  if (p) return { loadBalancer: p.loadBalancer, connectionPool: p.connectionPool, outlierDetection: p.outlierDetection };
  return { loadBalancer: base?.loadBalancer, connectionPool: base?.connectionPool, outlierDetection: base?.outlierDetection };
}

export function labelsMatch(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}
