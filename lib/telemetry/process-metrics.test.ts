// The process metrics keep every count prom-client gives, but no gauge ends in _total.
import { Registry } from 'prom-client';
import t from 'tap';
import { collectProcessMetrics, GAUGES_NAMED_LIKE_COUNTERS } from './process-metrics.js';

t.test('no gauge named like a counter; the per-type counts stay', async (t) => {
  const registry = new Registry();
  collectProcessMetrics(registry);
  const metrics = await registry.getMetricsAsJSON();
  const names = metrics.map((m) => m.name);
  for (const n of GAUGES_NAMED_LIKE_COUNTERS) t.notOk(names.includes(n), `${n} removed`);
  for (const n of ['nodejs_active_handles', 'nodejs_active_requests', 'nodejs_active_resources', 'process_cpu_seconds_total']) t.ok(names.includes(n), `${n} kept`);
  const badGauges = metrics.filter((m) => String(m.type) === 'gauge' && m.name.endsWith('_total')).map((m) => m.name);
  t.same(badGauges, []);
});
