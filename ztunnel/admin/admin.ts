// ztunnel's own ports, in its own namespace: 15000 admin on localhost
// (/config_dump, /logging), 15020 Prometheus (/metrics, /stats/prometheus), 15021 readiness.
import { LOG_LEVELS } from '../../lib/config/log-level.js';
import type { Logger } from '../../lib/telemetry/log.js';
import type { CertStatus } from '../../lib/ca-client/secret-manager.js';
import type { PodStatus } from '../inpod/registry.js';
import type { ConnectionSummary } from '../proxy/connection-manager.js';
import type { Policy } from '../rbac/policy.js';
import type { ServiceView, WorkloadView } from '../state/types.js';
import { json, loggingRoute, text, type Routes } from '../../lib/admin/routes.js';

/** Everything /config_dump shows, read at request time. */
export interface DumpSources {
  workloads(): Iterable<WorkloadView>;
  services(): Iterable<ServiceView>;
  policies(): Iterable<Policy>;
  certificates(): CertStatus[];
  pods(): PodStatus[];
  connections(): ConnectionSummary[];
  /** xDS and ZDS connection state, readiness. */
  status(): Record<string, unknown>;
  config: unknown;
}

/** Maps become objects, compiled CIDRs their text, and the raw protos are left out. */
function plain(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, v: unknown) => {
      if (key === 'proto') return undefined;
      if (v instanceof Map) return Object.fromEntries(v);
      if (v && typeof v === 'object' && 'text' in v && 'range' in v && 'bits' in v) return (v as { text: string }).text;
      return v;
    }),
  );
}

export function configDump(s: DumpSources): Record<string, unknown> {
  return {
    status: s.status(),
    config: s.config,
    pods: s.pods(),
    workloads: plain([...s.workloads()]),
    services: plain([...s.services()]),
    policies: plain([...s.policies()]),
    certificates: s.certificates(),
    connections: s.connections(),
  };
}

export function adminRoutes(s: DumpSources, log: Logger): Routes {
  return {
    '/': () => text('ztunnel admin: /config_dump, /logging[?level=debug]\n'),
    '/config_dump': () => json(configDump(s)),
    '/logging': loggingRoute(log, LOG_LEVELS),
  };
}
