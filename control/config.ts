// The control plane's configuration: flags and environment in, one validated Config out. Pure, so
// every rule is tested in tables; main.ts only collects the inputs and logs the result.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { trustDomainProblem } from '../lib/identity/spiffe.js';

export interface ListenAddress {
  host: string;
  /** 0 = any free port (tests); the bound port is reported by startControlPlane. */
  port: number;
}

const listenAddress = z.object({ host: z.string().min(1), port: z.number().int().min(0).max(65535) });
const k8sName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lowercase DNS label (a-z, 0-9, -)').max(63);

export const ConfigSchema = z
  .object({
    /** The cluster state directory of the File back end (`ambit up --state-dir`). */
    stateDir: z.string().min(1),
    storeDir: z.string().min(1),
    /** CA state: self-signed root (or cacerts/), node credential key, the published root-cert.pem. */
    caDir: z.string().min(1),
    /** Where issue-node-credential writes `<node>.token`. */
    credentialsDir: z.string().min(1),
    trustDomain: z.string().superRefine((v, ctx) => {
      const p = trustDomainProblem(v);
      if (p) ctx.addIssue({ code: 'custom', message: p });
    }),
    clusterId: z.string().min(1),
    /** The control plane's own namespace: its serving identity and DNS names live there. */
    namespace: k8sName,
    /** Policies here without a selector are mesh-wide (Istio's root namespace). */
    rootNamespace: k8sName,
    serviceAccount: k8sName,
    network: z.string(),
    domainSuffix: z.string().min(1),
    grpc: listenAddress,
    monitoring: listenAddress,
    readiness: listenAddress,
    /** Model rebuilds wait this long without change, but never longer than maxMs. */
    debounce: z.object({ quietMs: z.number().int().min(0), maxMs: z.number().int().min(0) }),
    /** Streams receiving their initial (full) push at once; more wait (istiod's PILOT_PUSH_THROTTLE). */
    maxConcurrentSyncs: z.number().int().min(1),
    defaultCertTtlSeconds: z.number().int().positive(),
    maxCertTtlSeconds: z.number().int().positive(),
    /** Write ZtunnelAccepted / WaypointBound conditions back to the objects. */
    writeStatus: z.boolean(),
    /** Sent to xDS clients as control_plane.identifier. */
    controlPlaneId: z.string().min(1),
  })
  .superRefine((c, ctx) => {
    if (c.debounce.maxMs < c.debounce.quietMs) ctx.addIssue({ code: 'custom', path: ['debounce', 'maxMs'], message: `must be >= the quiet period (${c.debounce.quietMs} ms)` });
    if (c.defaultCertTtlSeconds > c.maxCertTtlSeconds) ctx.addIssue({ code: 'custom', path: ['defaultCertTtlSeconds'], message: `must not exceed the maximum certificate lifetime (${c.maxCertTtlSeconds} s)` });
  });

export type Config = z.infer<typeof ConfigSchema>;

/** What the command line gives (all strings, as commander hands them over). */
export interface ControlFlags {
  stateDir?: string;
  storeDir?: string;
  caDir?: string;
  trustDomain?: string;
  clusterId?: string;
  namespace?: string;
  rootNamespace?: string;
  network?: string;
  domainSuffix?: string;
  grpcAddress?: string;
  monitoringAddress?: string;
  readinessAddress?: string;
  debounceQuiet?: string;
  debounceMax?: string;
  defaultCertTtl?: string;
  maxCertTtl?: string;
  maxConcurrentSyncs?: string;
  status?: boolean;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `50ms`, `1.5s`, `10m`, `24h`, `90d` → milliseconds; `what` names the flag in the error. */
export function parseDuration(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (!m) {
    if (/^\s*0\s*$/.test(text)) return 0;
    throw new ConfigError(`${what}: "${text}" is not a duration; write e.g. 50ms, 2s, 10m, 24h or 90d`);
  }
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/** `host:port`, `:port`, `[v6]:port` or just `port` (all interfaces). */
export function parseListenAddress(text: string, what: string): ListenAddress {
  const t = text.trim();
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))?:?(\d{1,5})$/.exec(t.includes(':') ? t : `:${t}`);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new ConfigError(`${what}: "${text}" is not a listen address; write host:port, :port or [::1]:port (port 0 picks a free one)`);
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function formatAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Flag first, then the environment variable (Istio's name where it has one), then the default. */
function pick(flag: string | undefined, env: NodeJS.ProcessEnv, names: string[], fallback: string): [string, string] {
  if (flag !== undefined) return [flag, 'flag'];
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== '') return [v, n];
  }
  return [fallback, 'default'];
}

/**
 * Builds the Config. Every problem is reported at once, each naming the flag (and the environment
 * variable it came from), e.g. `--grpc-address (env AMBIT_GRPC_ADDRESS): "x" is not …`.
 */
export function resolveConfig(flags: ControlFlags, env: NodeJS.ProcessEnv = process.env): Config {
  const errors: string[] = [];
  const get = (flag: string, names: string[], fallback: string): [string, string] => {
    const [v, from] = pick((flags as Record<string, string | undefined>)[flag], env, names, fallback);
    const label = `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    return [v, from === 'flag' || from === 'default' ? label : `${label} (env ${from})`];
  };
  const tryParse = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (e) {
      errors.push((e as Error).message);
      return fallback;
    }
  };
  const str = (flag: string, names: string[], fallback: string): string => get(flag, names, fallback)[0];
  const addr = (flag: string, names: string[], fallback: string): ListenAddress => {
    const [v, label] = get(flag, names, fallback);
    return tryParse(() => parseListenAddress(v, label), { host: '0.0.0.0', port: 0 });
  };
  const dur = (flag: string, names: string[], fallback: string): number => {
    const [v, label] = get(flag, names, fallback);
    return tryParse(() => parseDuration(v, label), 0);
  };

  const int = (flag: string, names: string[], fallback: string): number => {
    const [v, label] = get(flag, names, fallback);
    if (/^\d+$/.test(v.trim())) return Number(v);
    errors.push(`${label}: "${v}" is not a whole number`);
    return 1;
  };

  const stateDir = path.resolve(str('stateDir', ['AMBIT_STATE_DIR'], '/var/lib/ambit'));
  const namespace = str('namespace', ['POD_NAMESPACE'], 'istio-system');
  const statusEnv = env.AMBIENT_ENABLE_STATUS;
  const raw = {
    stateDir,
    storeDir: path.resolve(str('storeDir', ['AMBIT_STORE_DIR'], path.join(stateDir, 'store'))),
    caDir: path.resolve(str('caDir', ['AMBIT_CA_DIR'], path.join(stateDir, 'ca'))),
    credentialsDir: path.join(stateDir, 'credentials'),
    trustDomain: str('trustDomain', ['TRUST_DOMAIN'], 'cluster.local'),
    clusterId: str('clusterId', ['CLUSTER_ID'], 'Kubernetes'),
    namespace,
    rootNamespace: str('rootNamespace', ['AMBIT_ROOT_NAMESPACE'], namespace),
    serviceAccount: 'istiod',
    network: str('network', ['NETWORK'], ''),
    domainSuffix: str('domainSuffix', ['DOMAIN_SUFFIX'], 'cluster.local'),
    grpc: addr('grpcAddress', ['AMBIT_GRPC_ADDRESS'], ':15012'),
    monitoring: addr('monitoringAddress', ['AMBIT_MONITORING_ADDRESS'], ':15014'),
    readiness: addr('readinessAddress', ['AMBIT_READINESS_ADDRESS'], ':15021'),
    debounce: { quietMs: dur('debounceQuiet', ['PILOT_DEBOUNCE_AFTER'], '50ms'), maxMs: dur('debounceMax', ['PILOT_DEBOUNCE_MAX'], '500ms') },
    maxConcurrentSyncs: int('maxConcurrentSyncs', ['PILOT_PUSH_THROTTLE'], '8'),
    defaultCertTtlSeconds: Math.round(dur('defaultCertTtl', ['DEFAULT_WORKLOAD_CERT_TTL'], '24h') / 1000),
    maxCertTtlSeconds: Math.round(dur('maxCertTtl', ['MAX_WORKLOAD_CERT_TTL'], '90d') / 1000),
    writeStatus: flags.status ?? (statusEnv === undefined ? true : statusEnv === 'true' || statusEnv === '1'),
    controlPlaneId: env.POD_NAME || os.hostname() || 'ambit-control',
  };
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) errors.push(`${issue.path.join('.') || 'config'}: ${issue.message}`);
  }
  if (errors.length > 0) throw new ConfigError(`invalid control plane configuration:\n  ${errors.join('\n  ')}`);
  return parsed.data!;
}
