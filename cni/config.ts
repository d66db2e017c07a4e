// `ambit cni-agent` configuration: flags and environment in, one validated Config out. Pure, so
// every rule is tested in tables; main.ts only collects the inputs and logs the result.
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../lib/config/errors.js';
import { LOG_LEVELS } from '../lib/config/log-level.js';
import { SettingsReader, type Env } from '../lib/config/settings.js';
import { DEFAULT_EXCLUDED_NAMESPACES } from './agent/enrol.js';
import { DEFAULT_AGENT_SOCKET } from './plugin/protocol.js';

export { ConfigError };

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
  logLevel: z.enum(LOG_LEVELS),
  /** Chain ambit-cni into the primary configuration of this directory at start (Kubernetes: /etc/cni/net.d). */
  cniConfDir: z.string().min(1).refine((p) => path.isAbsolute(p), 'must be an absolute path').optional(),
  /** Install the ambit-cni binary here at start (Kubernetes: /opt/cni/bin). */
  cniBinDir: z.string().min(1).refine((p) => path.isAbsolute(p), 'must be an absolute path').optional(),
  /** Kubernetes mode: pods and namespaces come from an API server (this kubeconfig, else $KUBECONFIG or the pod's service account). */
  kube: z.object({ kubeconfig: z.string().min(1).optional() }).optional(),
  /**
   * The agent's own pod (POD_NAMESPACE, POD_NAME from the Downward API): when it stops, a
   * DaemonSet gone or being deleted means an uninstall (see agent/uninstall.ts).
   */
  pod: z.object({ namespace: k8sName, name: k8sName }).optional(),
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
  logLevel?: string;
  kubeconfig?: string;
  cniConfDir?: string;
  cniBinDir?: string;
}

function optional<K extends string>(key: K, v: string | undefined): Partial<Record<K, string>> {
  return v ? ({ [key]: v } as Record<K, string>) : {};
}

/**
 * Kubernetes mode when --kubeconfig is given, or when KUBECONFIG or KUBERNETES_SERVICE_HOST (a
 * pod) is set and no File store was named on the command line (as `ambit up` names its own).
 */
function kubeMode(r: SettingsReader, flags: CniAgentFlags, env: Env): { kube?: { kubeconfig?: string } } {
  const fromFlag = flags.kubeconfig !== undefined && flags.kubeconfig !== '';
  const fileNamed = flags.stateDir !== undefined || flags.storeDir !== undefined;
  if (!fromFlag && (fileNamed || (!env.KUBECONFIG && !env.KUBERNETES_SERVICE_HOST))) return {};
  // From the environment it is left to the store, which resolves KUBECONFIG as kubectl does.
  const kubeconfig = r.string('kube.kubeconfig', { flag: '--kubeconfig', env: ['KUBECONFIG'] });
  return { kube: fromFlag && kubeconfig ? { kubeconfig } : {} };
}

/** Flags win over the environment, which wins over the defaults. */
export function resolveConfig(flags: CniAgentFlags, env: Env = {}): Config {
  const r = new SettingsReader(flags, env);
  const stateDir = r.string('stateDir', { flag: '--state-dir', env: ['AMBIT_STATE_DIR'], default: DEFAULT_STATE_DIR });
  const node = r.string('node', { flag: '--node', env: ['NODE_NAME'] });
  const exclude = r.string('excludeNamespaces', { flag: '--exclude-namespaces', env: ['AMBIT_CNI_EXCLUDE_NAMESPACES'] });
  const nodeNetns = r.string('nodeNetns', { flag: '--node-netns' });
  const raw = {
    node,
    stateDir,
    storeDir: r.string('storeDir', { flag: '--store-dir', default: path.join(stateDir, 'store') }),
    cniSocket: r.string('cniSocket', { flag: '--cni-socket', default: DEFAULT_AGENT_SOCKET }),
    zdsSocket: r.string('zdsSocket', { flag: '--zds-socket', default: DEFAULT_ZDS_SOCKET }),
    metrics: r.listenAddress('metrics', { flag: '--metrics-address', default: DEFAULT_METRICS_ADDRESS }),
    excludeNamespaces: exclude === undefined ? DEFAULT_EXCLUDED_NAMESPACES : exclude.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    dnsCapture: r.boolean('dnsCapture', { flag: '--no-dns-capture', env: ['AMBIENT_DNS_CAPTURE'] }, true),
    redirectBackend: r.string('redirectBackend', { flag: '--redirect-backend', default: 'auto' }),
    probeBackend: r.string('probeBackend', { flag: '--probe-backend', default: 'auto' }),
    probeIpv6: r.boolean('probeIpv6', { flag: '--probe-ipv6' }, false),
    ...(nodeNetns ? { nodeNetns } : {}),
    zdsAckTimeoutMs: Math.ceil(r.duration('zdsAckTimeoutMs', { flag: '--zds-ack-timeout', default: '5s' })),
    logLevel: r.logLevel(),
    ...kubeMode(r, flags, env),
    ...optional('cniConfDir', r.string('cniConfDir', { flag: '--cni-conf-dir', env: ['CNI_NET_DIR'] })),
    ...optional('cniBinDir', r.string('cniBinDir', { flag: '--cni-bin-dir', env: ['CNI_BIN_DIR'] })),
    ...(env.POD_NAMESPACE && env.POD_NAME ? { pod: { namespace: env.POD_NAMESPACE, name: env.POD_NAME } } : {}),
  };
  if (node === undefined || node === '') throw new ConfigError('--node is required (or the environment variable NODE_NAME): the node whose pods this agent enrols');
  return r.validate('cni-agent', ConfigSchema, raw);
}
