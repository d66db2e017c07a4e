// The agent's HTTP routes: Prometheus metrics, readiness (Istio's CNI agent: /readyz; also
// /healthz/ready as ztunnel has it), and a JSON view of the pods it holds (loopback peers only:
// it names every pod's network namespace).
import { json, loopbackOnly, metricsRoute, readinessRoute, type MetricsSource, type Routes } from '../../lib/admin/routes.js';
import type { StatusReply } from '../plugin/protocol.js';

export interface MonitoringDeps {
  registry: MetricsSource;
  readiness: () => StatusReply;
  pods: () => unknown;
}

export function monitoringRoutes(d: MonitoringDeps): Routes {
  const ready = readinessRoute(() => {
    const r = d.readiness();
    return { ready: r.ready, reasons: r.ready || r.message === undefined ? [] : [r.message] };
  });
  return {
    '/metrics': metricsRoute(d.registry),
    '/readyz': ready,
    '/healthz/ready': ready,
    '/debug/pods': loopbackOnly(() => json(d.pods()), "run curl inside the node's network namespace"),
  };
}
