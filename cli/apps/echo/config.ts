import { hostname as osHostname } from 'node:os';
import type { LogLevel } from '../../../lib/config/log-level.js';
import { SettingsReader } from '../../../lib/config/settings.js';
import type { Logger } from '../../../lib/telemetry/log.js';

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
}

/**
 * Flags win, then the environment the Downward API usually provides: `POD_NAME`,
 * `POD_NAMESPACE`, `SERVICE_VERSION` (or `VERSION`), `CLUSTER`; the log level from `--log-level`
 * or `AMBIT_LOG_LEVEL`.
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
  return c;
}
