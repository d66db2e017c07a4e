// Pure halves of the CNI runtime: the node's conflist, what each plugin gets on stdin and in its
// environment, and how its answer is read (CNI spec 1.0).
import { z } from 'zod';
import { POD_BRIDGE } from './plan.js';

export const CNI_VERSION = '1.0.0';
export const NETWORK_NAME = 'ambit';
export const CONFLIST_FILE = '10-ambit.conflist';
export const DEFAULT_CNI_PATH = ['/usr/lib/cni', '/opt/cni/bin'];

/** One plugin's configuration inside a conflist; `type` names its binary. */
export interface PluginConf {
  type: string;
  [key: string]: unknown;
}

export interface Conflist {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
}

export interface ConflistOptions {
  podCIDR: string;
  gateway: string;
  /** host-local keeps its leases here, so that each cluster (and node) has its own. */
  ipamDataDir: string;
  /** Plugins chained after bridge, e.g. `{ type: 'ambit-cni', … }`. */
  extraPlugins?: PluginConf[];
}

export function renderConflist(o: ConflistOptions): Conflist {
  for (const [i, p] of (o.extraPlugins ?? []).entries()) {
    if (typeof p.type !== 'string' || !/^[A-Za-z0-9._-]+$/.test(p.type)) {
      throw new Error(`extraPlugins[${i}].type: ${JSON.stringify(p.type)} is not a plugin binary name`);
    }
  }
  return {
    cniVersion: CNI_VERSION,
    name: NETWORK_NAME,
    plugins: [
      {
        type: 'bridge',
        bridge: POD_BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: o.podCIDR, gateway: o.gateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: o.ipamDataDir,
        },
      },
      ...(o.extraPlugins ?? []),
    ],
  };
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

export interface Invocation {
  containerId: string;
  netnsPath: string;
  ifname: string;
  /** Key=value pairs for CNI_ARGS, e.g. K8S_POD_NAME. */
  args: Record<string, string>;
}

/** The environment a runtime gives a plugin. IgnoreUnknown=1 as containerd sends it: host-local rejects keys it does not know otherwise. */
export function pluginEnv(cmd: CniCommand, inv: Invocation, cniPath: readonly string[]): Record<string, string> {
  const args = Object.entries({ IgnoreUnknown: '1', ...inv.args }).map(([k, v]) => {
    if (/[;=]/.test(k) || /[;=]/.test(v)) throw new Error(`CNI_ARGS ${k}=${v}: keys and values may not contain ';' or '='`);
    return `${k}=${v}`;
  });
  return {
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netnsPath,
    CNI_IFNAME: inv.ifname,
    CNI_PATH: cniPath.join(':'),
    CNI_ARGS: args.join(';'),
  };
}

/** A plugin's stdin: its own config plus the list's name and version, and the previous result when there is one. */
export function pluginStdin(list: Conflist, plugin: PluginConf, prevResult?: unknown): string {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  if (prevResult !== undefined) conf.prevResult = prevResult;
  return JSON.stringify(conf);
}

const ResultSchema = z.object({
  cniVersion: z.string(),
  interfaces: z.array(z.object({ name: z.string(), mac: z.string().optional(), sandbox: z.string().optional() })).optional(),
  ips: z.array(z.object({ address: z.string(), gateway: z.string().optional(), interface: z.number().optional() })).optional(),
  routes: z.array(z.object({ dst: z.string(), gw: z.string().optional() })).optional(),
  dns: z.unknown().optional(),
});
export type CniResult = z.infer<typeof ResultSchema>;

const ErrorSchema = z.object({ code: z.number(), msg: z.string(), details: z.string().optional() });

export interface CniErrorInfo {
  plugin: string;
  command: CniCommand;
  /** `namespace/name`, or the container ID when the pod is not known. */
  pod: string;
  code?: number;
  msg: string;
  details?: string;
}

export class CniError extends Error {
  constructor(readonly info: CniErrorInfo) {
    const code = info.code === undefined ? '' : ` (code ${info.code})`;
    const details = info.details ? `: ${info.details}` : '';
    super(`CNI ${info.command} of pod ${info.pod} failed in plugin ${info.plugin}${code}: ${info.msg}${details}`);
    this.name = 'CniError';
  }
}

/** Reads a plugin's exit: its result on success, a CniError naming plugin and pod otherwise. */
export function parsePluginOutput(
  ctx: { plugin: string; command: CniCommand; pod: string },
  exitCode: number,
  stdout: string,
  stderr: string,
): CniResult | undefined {
  if (exitCode !== 0) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout);
    } catch {
      parsed = undefined;
    }
    const e = ErrorSchema.safeParse(parsed);
    if (e.success) throw new CniError({ ...ctx, code: e.data.code, msg: e.data.msg, ...(e.data.details ? { details: e.data.details } : {}) });
    const text = (stderr.trim() || stdout.trim() || `exit code ${exitCode}`).split('\n').slice(-3).join(' | ');
    throw new CniError({ ...ctx, msg: text });
  }
  if (ctx.command !== 'ADD') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw new CniError({ ...ctx, msg: `ADD printed no JSON result: ${stdout.slice(0, 200)}` });
  }
  const r = ResultSchema.safeParse(json);
  if (!r.success) throw new CniError({ ...ctx, msg: `ADD result is not a CNI result: ${r.error.issues[0]?.message ?? 'invalid'}` });
  // Keep the whole object (not the parsed subset): chained plugins must see every field.
  return json as CniResult;
}

export interface PodAddress {
  ip: string;
  prefixLength: number;
  gateway: string;
  mac: string;
  ifname: string;
}

/** The pod's side of the final result: the interface inside the sandbox and its IPv4 address. */
export function podAddress(result: CniResult, ifname: string): PodAddress {
  const ifaces = result.interfaces ?? [];
  const idx = ifaces.findIndex((i) => i.name === ifname && i.sandbox);
  const ip = (result.ips ?? []).find((a) => (idx < 0 || a.interface === undefined || a.interface === idx) && a.address.includes('.'));
  if (!ip) throw new Error(`CNI result has no IPv4 address for ${ifname}: ${JSON.stringify(result)}`);
  const [addr, len] = ip.address.split('/');
  return {
    ip: addr!,
    prefixLength: Number(len ?? 32),
    gateway: ip.gateway ?? '',
    mac: (idx >= 0 ? ifaces[idx]?.mac : undefined) ?? '',
    ifname,
  };
}
