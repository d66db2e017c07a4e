// Node.js process metrics (prom-client's defaults) in an exposition `promtool check metrics`
// accepts: prom-client also exports the gauges nodejs_active_{handles,requests,resources}_total,
// and a gauge must not end in _total. The same counts stay available, by type, in
// nodejs_active_handles, nodejs_active_requests and nodejs_active_resources.
import { collectDefaultMetrics, type Registry } from 'prom-client';

export const GAUGES_NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
}
