// The in-pod manager's gauges (Istio's names, without the istio_ prefix).
import { Gauge, type Registry } from 'prom-client';
import type { InPodRegistry } from './registry.js';

export function registerInPodMetrics(registry: Registry, pods: InPodRegistry): void {
  new Gauge({
    name: 'workload_manager_active_proxy_count',
    help: 'Pods with a running proxy',
    registers: [registry],
    collect() {
      this.set(pods.status().filter((p) => p.state === 'serving').length);
    },
  });
  new Gauge({
    name: 'workload_manager_pending_proxy_count',
    help: 'Pods whose proxy failed to start and is being retried',
    registers: [registry],
    collect() {
      this.set(pods.status().filter((p) => p.state === 'pending').length);
    },
  });
}
