// The CNI spec's side of the plugin (1.x, back to 0.3.0), pure: environment, network config,
// versions, results and error objects. Nothing heavy imported, so the plugin starts fast.
import { DEFAULT_AGENT_SOCKET } from './protocol.js';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';
export const PLUGIN = 'ambit-cni';

/** The spec's well-known codes, and ours (100 and up are plugin-specific). */
export const Code = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  InvalidEnv: 4,
  Decoding: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  /** STATUS: the plugin cannot serve ADD (the spec's code 50). */
  NotAvailable: 50,
  AgentRefused: 100,
  AgentProtocol: 101,
  CheckFailed: 102,
  Internal: 103,
} as const;

export class PluginError extends Error {
  constructor(readonly code: number, msg: string, readonly details = '') {
    super(msg);
    this.name = 'PluginError';
  }
}

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'VERSION' | 'GC';
const COMMANDS: readonly string[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'VERSION', 'GC'];

export interface CniEnv {
  command: Command;
  containerId: string;
  netns: string;
  ifname: string;
  args: Record<string, string>;
}

/** Reads and checks the CNI_* variables the command needs (code 4 when any is missing). */
export function parseEnv(env: Record<string, string | undefined>): CniEnv {
  const command = env.CNI_COMMAND ?? '';
  if (!COMMANDS.includes(command)) {
    throw new PluginError(Code.InvalidEnv, `unknown CNI_COMMAND ${JSON.stringify(command)}`, `expected one of ${COMMANDS.join(', ')}`);
  }
  const needs: Record<string, string[]> = {
    ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
    CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
    DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  };
  const missing = (needs[command] ?? []).filter((k) => !env[k]);
  if (missing.length > 0) throw new PluginError(Code.InvalidEnv, `${command} needs ${missing.join(', ')} in the environment`);
  return {
    command: command as Command,
    containerId: env.CNI_CONTAINERID ?? '',
    netns: env.CNI_NETNS ?? '',
    ifname: env.CNI_IFNAME ?? '',
    args: parseArgs(env.CNI_ARGS ?? ''),
  };
}

/** CNI_ARGS: `K=V;K2=V2`. */
export function parseArgs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of s.split(';')) {
    if (pair === '') continue;
    const i = pair.indexOf('=');
    if (i <= 0) throw new PluginError(Code.InvalidEnv, `CNI_ARGS: ${JSON.stringify(pair)} is not KEY=VALUE`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

/** -1, 0, 1 for dotted versions. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error', 'silent'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface PluginConfig {
  cniVersion: string;
  name: string;
  agentSocket: string;
  timeoutMs: number;
  excludeNamespaces: string[];
  logLevel: LogLevel;
  /** Where the plugin reads the pod and its namespace itself while the agent is down: a File store… */
  storeDir?: string;
  /** …or a kubeconfig's API server. Neither: pods wait for the agent, whatever their labels. */
  kubeconfig?: string;
  prevResult?: Record<string, unknown>;
}

export const DEFAULTS = {
  agentSocket: DEFAULT_AGENT_SOCKET,
  timeoutSeconds: 10,
  excludeNamespaces: ['kube-system'],
  logLevel: 'warn' as LogLevel,
};

/** Decodes stdin (code 6), checks the version (code 1) and the fields (code 7). */
export function parseConfig(stdin: string, command: Command): PluginConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (e) {
    throw new PluginError(Code.Decoding, 'cannot decode the network configuration on stdin as JSON', (e as Error).message);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PluginError(Code.Decoding, 'the network configuration on stdin is not a JSON object');
  const o = raw as Record<string, unknown>;
  const version = o.cniVersion;
  if (typeof version !== 'string' || version === '') throw new PluginError(Code.InvalidConfig, 'network configuration: field cniVersion is missing');
  checkVersion(version, command);
  const bad = (field: string, what: string): PluginError =>
    new PluginError(Code.InvalidConfig, `${PLUGIN} config of network ${JSON.stringify(o.name ?? '')}: field ${field} ${what}, got ${JSON.stringify(o[field])}`);
  if (typeof o.name !== 'string' || o.name === '') throw bad('name', 'must be a non-empty string');
  const agentSocket = o.agentSocket ?? DEFAULTS.agentSocket;
  if (typeof agentSocket !== 'string' || !agentSocket.startsWith('/')) throw bad('agentSocket', 'must be an absolute path');
  const timeout = o.timeoutSeconds ?? DEFAULTS.timeoutSeconds;
  if (typeof timeout !== 'number' || !(timeout > 0 && timeout <= 600)) throw bad('timeoutSeconds', 'must be a number of seconds from 0 to 600');
  const excl = o.excludeNamespaces ?? DEFAULTS.excludeNamespaces;
  if (!Array.isArray(excl) || !excl.every((n) => typeof n === 'string')) throw bad('excludeNamespaces', 'must be a list of namespace names');
  const logLevel = o.logLevel ?? DEFAULTS.logLevel;
  if (typeof logLevel !== 'string' || !LEVELS.includes(logLevel)) throw bad('logLevel', `must be one of ${LEVELS.join(', ')}`);
  for (const field of ['storeDir', 'kubeconfig'] as const) {
    const v = o[field];
    if (v !== undefined && (typeof v !== 'string' || !v.startsWith('/'))) throw bad(field, 'must be an absolute path');
  }
  if (o.storeDir !== undefined && o.kubeconfig !== undefined) throw bad('kubeconfig', 'cannot be given with storeDir (the cluster store is one or the other)');
  const prev = o.prevResult;
  if (prev !== undefined && !isObject(prev)) throw bad('prevResult', 'must be a CNI result object');
  // The entries are read (ips[].address, interfaces[].name): a null or a number there is the
  // previous plugin's mistake, reported as such rather than as our internal error.
  for (const list of ['ips', 'interfaces'] as const) {
    const items = prev?.[list];
    if (items === undefined) continue;
    if (!Array.isArray(items)) throw bad('prevResult', `must have ${list} as a list, got ${list} ${JSON.stringify(items)}`);
    const i = items.findIndex((x) => !isObject(x));
    if (i >= 0) throw bad('prevResult', `must have objects in ${list}, got ${list}[${i}] ${JSON.stringify(items[i])}`);
  }
  const conf: PluginConfig = {
    cniVersion: version,
    name: o.name,
    agentSocket,
    timeoutMs: Math.round(timeout * 1000),
    excludeNamespaces: excl as string[],
    logLevel: logLevel as LogLevel,
  };
  if (typeof o.storeDir === 'string') conf.storeDir = o.storeDir;
  if (typeof o.kubeconfig === 'string') conf.kubeconfig = o.kubeconfig;
  if (prev) conf.prevResult = prev;
  return conf;
}

/** Code 1 for versions we do not speak, and for commands the config's version does not have. */
export function checkVersion(version: string, command: Command): void {
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new PluginError(Code.IncompatibleVersion, `CNI version ${version} is not supported`, `supported: ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  const since: Partial<Record<Command, string>> = { CHECK: '0.4.0', STATUS: '1.1.0', GC: '1.1.0' };
  const min = since[command];
  if (min && compareVersions(version, min) < 0) {
    throw new PluginError(Code.IncompatibleVersion, `${command} needs cniVersion ${min} or later, the config says ${version}`);
  }
}

interface ResultIp {
  address?: unknown;
  gateway?: unknown;
  interface?: unknown;
  version?: unknown;
}

/**
 * The previous result in the config's version. Results from 0.3.x/0.4.0 carry `ips[].version`,
 * 1.x ones do not; everything else passes through untouched.
 */
export function convertResult(prev: Record<string, unknown>, toVersion: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...prev, cniVersion: toVersion };
  if (Array.isArray(prev.ips)) {
    const old = compareVersions(toVersion, '1.0.0') < 0;
    out.ips = (prev.ips as ResultIp[]).map((ip) => {
      const copy: ResultIp = { ...ip };
      if (old) copy.version = typeof ip.address === 'string' && ip.address.includes(':') ? '6' : '4';
      else delete copy.version;
      return copy;
    });
  }
  return out;
}

/** The pod's addresses from prevResult, with the interface name when the result says which. */
export function resultIps(prev: Record<string, unknown> | undefined): { address: string; gateway?: string; interface?: string }[] {
  const ifaces = Array.isArray(prev?.interfaces) ? (prev.interfaces as { name?: unknown }[]) : [];
  const ips = Array.isArray(prev?.ips) ? (prev.ips as ResultIp[]) : [];
  return ips.flatMap((ip) => {
    if (typeof ip.address !== 'string') return [];
    const out: { address: string; gateway?: string; interface?: string } = { address: ip.address };
    if (typeof ip.gateway === 'string') out.gateway = ip.gateway;
    const name = typeof ip.interface === 'number' ? ifaces[ip.interface]?.name : undefined;
    if (typeof name === 'string') out.interface = name;
    return [out];
  });
}

export function errorJson(version: string, e: PluginError): string {
  const v = (SUPPORTED_VERSIONS as readonly string[]).includes(version) ? version : LATEST_VERSION;
  return JSON.stringify({ cniVersion: v, code: e.code, msg: e.message, ...(e.details ? { details: e.details } : {}) });
}

export function versionJson(version: string): string {
  return JSON.stringify({ cniVersion: version || LATEST_VERSION, supportedVersions: SUPPORTED_VERSIONS });
}
