// `ambit cni-agent` configuration: flags and environment in, one validated Config out. Pure, so
// every rule is tested in tables; main.ts only collects the inputs and logs the result.
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_EXCLUDED_NAMESPACES } from './agent/enrol.js';
import { DEFAULT_AGENT_SOCKET } from './plugin/protocol.js';

export const DEFAULT_ZDS_SOCKET = '/var/run/ztunnel/ztunnel.sock';
export const DEFAULT_STATE_DIR = '/var/lib/ambit';
export const DEFAULT_METRICS_ADDRESS = ':15014';

const k8sName = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a lowercase DNS name (a-z, 0-9, -, .)').max(253);
const socketPath = z.string().min(1).refine((p) => path.isAbsolute(p), 'must be an absolute path').refine((p) => Buffer.byteLength(p) <= 107, 'is longer than the 107 bytes a Unix socket path may have');

export const ConfigSchema = z.object({
  node: k8sName,
  stateDir: z.string().min(1),
  /** The File store (`<state-dir>/store` unless given). */
  storeDir: z.string().min(1),
  cniSocket: socketPath,
  zdsSocket: socketPath,
  metrics: z.object({ host: z.string().min(1), port: z.number().int().min(0).max(65535) }),
  excludeNamespaces: z.array(k8sName),
  dnsCapture: z.boolean(),
  redirectBackend: z.enum(['auto', 'iptables', 'iptables-legacy', 'iptables-nft', 'nft']),
  probeBackend: z.enum(['auto', 'ipset', 'nft']),
  probeIpv6: z.boolean(),
  /** Put the node-side probe SNAT in this named netns instead of the agent's own (tests). */
  nodeNetns: z.string().min(1).optional(),
  zdsAckTimeoutMs: z.number().int().min(100).max(60_000),
});

export type Config = z.infer<typeof ConfigSchema>;

/** What the command line gives (strings and booleans, as commander hands them over). */
export interface CniAgentFlags {
  node?: string;
  stateDir?: string;
  storeDir?: string;
  cniSocket?: string;
  zdsSocket?: string;
  metricsAddress?: string;
  excludeNamespaces?: string;
  dnsCapture?: boolean;
  redirectBackend?: string;
  probeBackend?: string;
  probeIpv6?: boolean;
  nodeNetns?: string;
  zdsAckTimeout?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** `host:port`, `:port`, `[v6]:port` or just `port`; port 0 picks a free one. */
export function parseListenAddress(text: string, what: string): { host: string; port: number } {
  const t = text.trim();
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))?:?(\d{1,5})$/.exec(t.includes(':') ? t : `:${t}`);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new ConfigError(`${what}: "${text}" is not a listen address; write host:port, :port or [::1]:port`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** `500ms`, `5s`, `1m` → milliseconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)\s*$/.exec(text);
  if (!m) throw new ConfigError(`${what}: "${text}" is not a duration; write e.g. 500ms, 5s or 1m`);
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm']);
}

function envBool(v: string | undefined, name: string): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new ConfigError(`environment ${name}: "${v}" is not a boolean (true or false)`);
}

/** Flags win over the environment, which wins over the defaults. */
export function resolveConfig(flags: CniAgentFlags, env: NodeJS.ProcessEnv = {}): Config {
  const stateDir = flags.stateDir ?? env.AMBIT_STATE_DIR ?? DEFAULT_STATE_DIR;
  const exclude = flags.excludeNamespaces ?? env.AMBIT_CNI_EXCLUDE_NAMESPACES;
  const raw = {
    node: flags.node ?? env.NODE_NAME,
    stateDir,
    storeDir: flags.storeDir ?? path.join(stateDir, 'store'),
    cniSocket: flags.cniSocket ?? DEFAULT_AGENT_SOCKET,
    zdsSocket: flags.zdsSocket ?? DEFAULT_ZDS_SOCKET,
    metrics: parseListenAddress(flags.metricsAddress ?? DEFAULT_METRICS_ADDRESS, '--metrics-address'),
    excludeNamespaces: exclude === undefined ? DEFAULT_EXCLUDED_NAMESPACES : exclude.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    dnsCapture: flags.dnsCapture ?? envBool(env.AMBIENT_DNS_CAPTURE, 'AMBIENT_DNS_CAPTURE') ?? true,
    redirectBackend: flags.redirectBackend ?? 'auto',
    probeBackend: flags.probeBackend ?? 'auto',
    probeIpv6: flags.probeIpv6 ?? false,
    ...(flags.nodeNetns ? { nodeNetns: flags.nodeNetns } : {}),
    zdsAckTimeoutMs: flags.zdsAckTimeout === undefined ? 5000 : parseDuration(flags.zdsAckTimeout, '--zds-ack-timeout'),
  };
  if (raw.node === undefined || raw.node === '') throw new ConfigError('--node is required (or the environment variable NODE_NAME): the node whose pods this agent enrols');
  const r = ConfigSchema.safeParse(raw);
  if (!r.success) {
    const FLAG: Record<string, string> = {
      node: '--node', storeDir: '--store-dir', stateDir: '--state-dir', cniSocket: '--cni-socket', zdsSocket: '--zds-socket',
      excludeNamespaces: '--exclude-namespaces', redirectBackend: '--redirect-backend', probeBackend: '--probe-backend', nodeNetns: '--node-netns',
      zdsAckTimeoutMs: '--zds-ack-timeout', metrics: '--metrics-address',
    };
    const issues = r.error.issues.map((i) => {
      const field = String(i.path[0] ?? '');
      const where = i.path.length > 1 ? `[${i.path.slice(1).join('.')}]` : '';
      return `${FLAG[field] ?? field}${where}: ${i.message}`;
    });
    throw new ConfigError(`invalid cni-agent configuration: ${issues.join('; ')}`);
  }
  return r.data;
}
