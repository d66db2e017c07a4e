// ztunnel's configuration: flags and environment (Istio's variable names where it has one) in,
// one validated Config out. Pure, so every rule is tested in tables; main.ts only collects inputs.
import os from 'node:os';
import { z } from 'zod';
import { trustDomainProblem } from '../lib/identity/spiffe.js';

export interface ListenAddress {
  host: string;
  /** 0: any free port (tests); app.ts reports the bound one. */
  port: number;
}

const listenAddress = z.object({ host: z.string().min(1), port: z.number().int().min(0).max(65535) });
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'must be host:port');

export const ConfigSchema = z.object({
  nodeName: z.string().min(1),
  /** This ztunnel's own pod (node id, telemetry). */
  podName: z.string().min(1),
  podNamespace: z.string().min(1),
  instanceIp: z.string(),
  /** Delta xDS (Istio XDS_ADDRESS). */
  xdsAddress: hostPort,
  /** Certificate service (Istio CA_ADDRESS); usually the same control plane. */
  caAddress: hostPort,
  /** PEM root(s) that sign the control plane's serving certificate. */
  caRootPath: z.string().min(1),
  /** Name to verify in the control plane's certificate when the address is an IP. */
  controlPlaneServerName: z.string().optional(),
  /** File holding the node credential (re-read for every stream and certificate request). */
  credentialPath: z.string().min(1).optional(),
  /** The credential itself (environment only; wins over the file). */
  credential: z.string().min(1).optional(),
  /** The node agent's ZDS socket. */
  zdsSocket: z.string().min(1),
  trustDomain: z.string().superRefine((v, ctx) => {
    const p = trustDomainProblem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  }),
  clusterId: z.string().min(1),
  network: z.string(),
  admin: listenAddress,
  metrics: listenAddress,
  readiness: listenAddress,
  /** Requested workload certificate lifetime (Istio SECRET_TTL). */
  certTtlSeconds: z.number().int().positive(),
  /** How long live connections may finish on shutdown or pod removal. */
  drainMs: z.number().int().min(0),
  connectTimeoutMs: z.number().int().positive(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Flags as commander hands them over (strings). */
export interface ZtunnelFlags {
  nodeName?: string;
  podName?: string;
  podNamespace?: string;
  instanceIp?: string;
  xdsAddress?: string;
  caAddress?: string;
  caRoot?: string;
  controlPlaneServerName?: string;
  credentialFile?: string;
  zdsSocket?: string;
  trustDomain?: string;
  clusterId?: string;
  network?: string;
  adminAddress?: string;
  metricsAddress?: string;
  readinessAddress?: string;
  certTtl?: string;
  drain?: string;
  connectTimeout?: string;
  logLevel?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `50ms`, `2s`, `10m`, `24h`, `90d`, or a bare number of seconds (Istio's env style) → ms. */
export function parseDuration(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) throw new ConfigError(`${what}: "${text}" is not a duration; write e.g. 500ms, 5s, 10m or 24h`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 's']!);
}

/** `host:port`, `:port`, `[v6]:port` or a bare port (all interfaces, or `defaultHost`). */
export function parseListenAddress(text: string, what: string, defaultHost = '0.0.0.0'): ListenAddress {
  const t = text.trim();
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))?:?(\d{1,5})$/.exec(t.includes(':') ? t : `:${t}`);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new ConfigError(`${what}: "${text}" is not a listen address; write host:port, :port or a port (0 picks a free one)`);
  return { host: m[1] ?? (m[2] || defaultHost), port };
}

type Env = Record<string, string | undefined>;

function pick(flag: string | undefined, env: Env, names: readonly string[], fallback?: string): string | undefined {
  if (flag !== undefined) return flag;
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== '') return v;
  }
  return fallback;
}

/** Flags, then environment, then defaults; throws ConfigError naming the flag or field. */
export function resolveConfig(flags: ZtunnelFlags, env: Env = process.env): Config {
  const nodeName = pick(flags.nodeName, env, ['NODE_NAME'], os.hostname())!;
  const xdsAddress = pick(flags.xdsAddress, env, ['XDS_ADDRESS', 'AMBIT_CONTROL_ADDRESS'], 'istiod.istio-system.svc:15012')!;
  const raw = {
    nodeName,
    podName: pick(flags.podName, env, ['POD_NAME'], `ztunnel-${nodeName}`),
    podNamespace: pick(flags.podNamespace, env, ['POD_NAMESPACE'], 'istio-system'),
    instanceIp: pick(flags.instanceIp, env, ['INSTANCE_IP'], ''),
    xdsAddress,
    caAddress: pick(flags.caAddress, env, ['CA_ADDRESS'], xdsAddress),
    caRootPath: pick(flags.caRoot, env, ['XDS_ROOT_CA', 'CA_ROOT_CA'], '/var/run/secrets/istio/root-cert.pem'),
    controlPlaneServerName: pick(flags.controlPlaneServerName, env, ['ALT_XDS_HOSTNAME', 'ALT_CA_HOSTNAME']),
    credentialPath: pick(flags.credentialFile, env, ['AMBIT_NODE_CREDENTIAL_FILE'], env.AMBIT_NODE_CREDENTIAL ? undefined : '/var/run/secrets/tokens/istio-token'),
    credential: env.AMBIT_NODE_CREDENTIAL || undefined,
    zdsSocket: pick(flags.zdsSocket, env, ['INPOD_UDS'], '/var/run/ztunnel/ztunnel.sock'),
    trustDomain: pick(flags.trustDomain, env, ['TRUST_DOMAIN'], 'cluster.local'),
    clusterId: pick(flags.clusterId, env, ['CLUSTER_ID', 'ISTIO_META_CLUSTER_ID'], 'Kubernetes'),
    network: pick(flags.network, env, ['NETWORK'], ''),
    admin: parseListenAddress(pick(flags.adminAddress, env, ['AMBIT_ADMIN_ADDRESS'], '127.0.0.1:15000')!, '--admin-address', '127.0.0.1'),
    metrics: parseListenAddress(pick(flags.metricsAddress, env, ['AMBIT_METRICS_ADDRESS'], ':15020')!, '--metrics-address'),
    readiness: parseListenAddress(pick(flags.readinessAddress, env, ['AMBIT_READINESS_ADDRESS'], ':15021')!, '--readiness-address'),
    certTtlSeconds: Math.round(parseDuration(pick(flags.certTtl, env, ['SECRET_TTL'], '24h')!, '--cert-ttl') / 1000),
    drainMs: parseDuration(pick(flags.drain, env, ['CONNECTION_TERMINATION_DEADLINE'], '5s')!, '--drain'),
    connectTimeoutMs: parseDuration(pick(flags.connectTimeout, env, ['CONNECTION_TIMEOUT'], '10s')!, '--connect-timeout'),
    logLevel: pick(flags.logLevel, env, ['AMBIT_LOG_LEVEL', 'RUST_LOG'], 'info'),
  };
  const r = ConfigSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
    throw new ConfigError(`invalid ztunnel configuration: ${issues.join('; ')}`);
  }
  return r.data;
}
