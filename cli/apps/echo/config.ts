import { hostname as osHostname } from 'node:os';
import type { LogLevel } from '../../../lib/config/log-level.js';
import { SettingsReader } from '../../../lib/config/settings.js';
import type { Logger } from '../../../lib/telemetry/log.js';
import { checkFailureMode, NO_FAILURE, type FailureMode } from './failure.js';

/**
 * The echo server's configuration. Ports: `undefined` or a negative number = that listener is
 * off, `0` = an ephemeral port (tests), 1..65535 = that port. The identity fields fall back to
 * the environment only in {@link resolveServerConfig} (the command), never inside the server.
 */
export interface EchoServerConfig {
  /** Bind address for every listener; default `0.0.0.0`. */
  host?: string;
  httpPort?: number;
  grpcPort?: number;
  tcpPort?: number;
  /** `Hostname=` (the pod name); default os.hostname(). */
  name?: string;
  /** `Namespace=`; default `default`. */
  namespace?: string;
  /** `ServiceVersion=`; default `v1`. */
  version?: string;
  /** `Cluster=`, only printed when set. */
  cluster?: string;
  /** Access log, one JSON line per request; default createLogger('echo', logLevel) on stdout. */
  logger?: Logger;
  /** The default logger's level; default info. */
  logLevel?: LogLevel;
  /** Default true; benchmarks may turn it off. */
  accessLog?: boolean;
  /** How long close() lets in-flight requests and connections finish before cutting them; default 10 s. */
  shutdownGraceMs?: number;
  /** Injected failures (HTTP and h2c echo requests only); default none. */
  failure?: FailureMode;
}

/** The configuration with defaults applied and ports validated. */
export interface ResolvedEchoConfig {
  host: string;
  httpPort?: number;
  grpcPort?: number;
  tcpPort?: number;
  name: string;
  namespace: string;
  version: string;
  cluster: string;
  accessLog: boolean;
  shutdownGraceMs: number;
  failure: FailureMode;
}

function checkPort(p: number | undefined, field: string): number | undefined {
  if (p === undefined || p < 0) return undefined;
  if (!Number.isInteger(p) || p > 65535) throw new Error(`echo server: ${field} ${p} is not a port 0..65535 (or -1 for off)`);
  return p;
}

export function applyDefaults(c: EchoServerConfig): ResolvedEchoConfig {
  const r: ResolvedEchoConfig = {
    host: c.host ?? '0.0.0.0',
    name: c.name || osHostname(),
    namespace: c.namespace || 'default',
    version: c.version || 'v1',
    cluster: c.cluster ?? '',
    accessLog: c.accessLog ?? true,
    shutdownGraceMs: c.shutdownGraceMs ?? 10_000,
    failure: checkFailureMode(c.failure ?? NO_FAILURE, { every: 'failure.every', status: 'failure.status' }),
  };
  const http = checkPort(c.httpPort, 'httpPort');
  const grpc = checkPort(c.grpcPort, 'grpcPort');
  const tcp = checkPort(c.tcpPort, 'tcpPort');
  if (http !== undefined) r.httpPort = http;
  if (grpc !== undefined) r.grpcPort = grpc;
  if (tcp !== undefined) r.tcpPort = tcp;
  if (r.httpPort === undefined && r.grpcPort === undefined && r.tcpPort === undefined) {
    throw new Error('echo server: every listener is off; enable at least one of --http, --grpc, --tcp');
  }
  if (!(r.shutdownGraceMs >= 0)) throw new Error(`echo server: shutdownGraceMs ${c.shutdownGraceMs} must be >= 0`);
  return r;
}

/** A port flag: a number, or `off` / `-1` / `none` to disable the listener. */
export function parsePortFlag(value: string, flag: string): number {
  const v = value.trim().toLowerCase();
  if (v === 'off' || v === 'none' || v === '-1') return -1;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new Error(`${flag}: '${value}' is not a port 0..65535 or 'off'`);
  return n;
}

/** The server command's flags, before environment fallbacks. */
export interface EchoServerFlags {
  http: string;
  grpc: string;
  tcp: string;
  bind?: string;
  name?: string;
  namespace?: string;
  version?: string;
  cluster?: string;
  accessLog?: boolean;
  grace?: number;
  logLevel?: string;
  failEvery?: string;
  failStatus?: string;
}

/**
 * Flags win, then the environment the Downward API usually provides: `POD_NAME`,
 * `POD_NAMESPACE`, `SERVICE_VERSION` (or `VERSION`), `CLUSTER`; the log level from `--log-level`
 * or `AMBIT_LOG_LEVEL`; the failure mode from `--fail-every` / `--fail-status` or `ECHO_FAIL_EVERY`
 * / `ECHO_FAIL_STATUS` (so one pod of a Deployment can be made to fail through its env).
 */
export function resolveServerConfig(f: EchoServerFlags, env: NodeJS.ProcessEnv): EchoServerConfig {
  const settings = new SettingsReader(f, env);
  const logLevel = settings.logLevel();
  settings.finish('echo server');
  const c: EchoServerConfig = {
    httpPort: parsePortFlag(f.http, '--http'),
    grpcPort: parsePortFlag(f.grpc, '--grpc'),
    tcpPort: parsePortFlag(f.tcp, '--tcp'),
    accessLog: f.accessLog ?? true,
    logLevel,
  };
  const pick = (flag: string | undefined, ...keys: string[]): string | undefined => flag || keys.map((k) => env[k]).find((v) => v);
  const name = pick(f.name, 'POD_NAME');
  const namespace = pick(f.namespace, 'POD_NAMESPACE');
  const version = pick(f.version, 'SERVICE_VERSION', 'VERSION');
  const cluster = pick(f.cluster, 'CLUSTER');
  if (f.bind) c.host = f.bind;
  if (name) c.name = name;
  if (namespace) c.namespace = namespace;
  if (version) c.version = version;
  if (cluster) c.cluster = cluster;
  if (f.grace !== undefined) c.shutdownGraceMs = f.grace;
  const every = setting(f.failEvery, '--fail-every', env, 'ECHO_FAIL_EVERY');
  const status = setting(f.failStatus, '--fail-status', env, 'ECHO_FAIL_STATUS');
  if (every || status) {
    c.failure = checkFailureMode(
      { every: every ? wholeNumber(every) : 0, status: status ? wholeNumber(status) : NO_FAILURE.status },
      { every: every?.source ?? '--fail-every', status: status?.source ?? '--fail-status' },
    );
  }
  return c;
}

interface Setting {
  value: string;
  /** `--fail-every` or `environment ECHO_FAIL_EVERY`, for errors. */
  source: string;
}

function setting(flag: string | undefined, flagName: string, env: NodeJS.ProcessEnv, key: string): Setting | undefined {
  if (flag !== undefined && flag !== '') return { value: flag, source: flagName };
  const v = env[key];
  return v !== undefined && v !== '' ? { value: v, source: `environment ${key}` } : undefined;
}

function wholeNumber(s: Setting): number {
  if (!/^\d+$/.test(s.value.trim())) throw new Error(`echo server: ${s.source} '${s.value}' is not a whole number`);
  return Number(s.value.trim());
}
