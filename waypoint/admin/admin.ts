// The waypoint's own ports: 15000 admin on localhost (/config_dump, /logging), 15020 Prometheus
// (/metrics, /stats/prometheus), 15021 readiness (/healthz/ready).
import { json, loggingRoute, text, type Routes } from '../../lib/admin/routes.js';
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
    '/logging': loggingRoute(log, LOG_LEVELS),
  };
}
