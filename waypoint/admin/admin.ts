// The waypoint's own ports: 15000 admin on localhost (/config_dump, /logging), 15020 Prometheus
// (/metrics, /stats/prometheus), 15021 readiness (/healthz/ready).
import { json, metricsRoute, readinessRoute, text, type MetricsSource, type Readiness, type Routes } from '../../lib/admin/routes.js';
import { LOG_LEVELS } from '../../lib/config/log-level.js';
import type { Logger } from '../../lib/telemetry/log.js';

export interface DumpSources {
  /** Readiness, xDS state, listener and pool counters. */
  status(): Record<string, unknown>;
  config: unknown;
  /** Services, workloads and the L7 resources in force. */
  state(): Record<string, unknown>;
  certificates(): unknown;
  clusters(): unknown;
}

/** Maps become objects and bigints strings, so the protos' Durations print. */
function plain(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_k, v: unknown) => {
      if (v instanceof Map) return Object.fromEntries(v);
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
      return v;
    }),
  );
}

export function configDump(s: DumpSources): Record<string, unknown> {
  return plain({ status: s.status(), config: s.config, certificates: s.certificates(), ...s.state(), clusters: s.clusters() }) as Record<string, unknown>;
}

export function adminRoutes(s: DumpSources, log: Logger): Routes {
  return {
    '/': () => text('waypoint admin: /config_dump, /logging[?level=debug]\n'),
    '/config_dump': () => json(configDump(s)),
    '/logging': {
      methods: ['GET', 'POST'],
      handler: (url) => {
        const level = url.searchParams.get('level');
        if (level !== null) {
          if (!(LOG_LEVELS as readonly string[]).includes(level)) return text(`unknown level "${level}"; use one of ${LOG_LEVELS.join(', ')}\n`, 400);
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
