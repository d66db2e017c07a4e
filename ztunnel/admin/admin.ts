// ztunnel's own ports, in its own namespace: 15000 admin on localhost
// (/config_dump, /logging), 15020 Prometheus (/metrics, /stats/prometheus), 15021 readiness.
import type { Logger } from '../../lib/telemetry/log.js';
import type { CertStatus } from '../../lib/ca-client/secret-manager.js';
import type { PodStatus } from '../inpod/registry.js';
import type { ConnectionSummary } from '../proxy/connection-manager.js';
import type { Policy } from '../rbac/policy.js';
import type { ServiceView, WorkloadView } from '../state/types.js';
import { json, metricsRoute, readinessRoute, text, type MetricsSource, type Readiness, type Routes } from '../../lib/admin/routes.js';

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

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

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
    // GET as well as POST (Istio's ztunnel takes POST) so that a browser or plain curl can set it.
    '/logging': {
      methods: ['GET', 'POST'],
      handler: (url) => {
        const level = url.searchParams.get('level');
        if (level !== null) {
          if (!LEVELS.includes(level)) return text(`unknown level "${level}"; use one of ${LEVELS.join(', ')}\n`, 400);
          log.level = level;
          log.info({ level }, 'log level changed');
        }
        return json({ level: log.level });
      },
    },
  };
}

export function metricsRoutes(registry: MetricsSource): Routes {
  const scrape = metricsRoute(registry);
  return { '/metrics': scrape, '/stats/prometheus': scrape };
}

export function readinessRoutes(ready: () => Readiness): Routes {
  return { '/healthz/ready': readinessRoute(ready) };
}
