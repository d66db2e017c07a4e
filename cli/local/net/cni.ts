// A container runtime's CNI half, for the local cluster: it runs the real plugin binaries from
// inside the node's namespace (so cni0 and the host-side veths live there) and caches each ADD's
// config and result as libcni does, so DEL and CHECK see what ADD saw.
import { createHash } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exec } from '../../../lib/sys/exec.js';
import { delNetns, ipBatch, netnsPath } from '../../../lib/sys/netns.js';
import { silentLogger, type Logger } from '../../../lib/telemetry/log.js';
import {
  CONFLIST_FILE, CniError, DEFAULT_CNI_PATH, parsePluginOutput, pluginEnv, pluginStdin, podAddress, renderConflist,
  type CniCommand, type CniResult, type Conflist, type Invocation, type PluginConf,
} from './cni-conf.js';
import { podNetnsName, type NodeNetwork } from './plan.js';
import { mountNamespaceArgv, type BindMount } from '../runtime/mount-ns.js';

export * from './cni-conf.js';

/** Everything needed to run CNI on one node. */
export interface CniNode {
  prefix: string;
  node: NodeNetwork;
  /** `<stateDir>/cni/node-<i>`: the conflist, IPAM leases and cached results. */
  confDir: string;
  cniPath: string[];
  timeoutMs: number;
  log: Logger;
  /**
   * The node's own directories, bind-mounted at the paths the node's pods know them by when a
   * plugin runs (a chained plugin dials the socket its agent names by its in-pod path).
   */
  view?: () => BindMount[];
}

export interface NodeCniOptions {
  extraPlugins?: PluginConf[];
  cniPath?: string[];
  /** Where the conflist, leases and results go (default `<stateDir>/cni/node-<i>`). */
  confDir?: string;
  view?: () => BindMount[];
  timeoutMs?: number;
  log?: Logger;
}

export function conflistPath(n: CniNode): string {
  return path.join(n.confDir, CONFLIST_FILE);
}

/** Writes (or rewrites, e.g. to chain ambit-cni) a node's conflist. Pods added later use the new list. */
export async function setupNodeCni(prefix: string, node: NodeNetwork, stateDir: string, opts: NodeCniOptions = {}): Promise<CniNode> {
  const confDir = opts.confDir ?? path.join(path.resolve(stateDir), 'cni', `node-${node.index}`);
  const n: CniNode = {
    prefix,
    node,
    confDir,
    cniPath: opts.cniPath ?? DEFAULT_CNI_PATH,
    timeoutMs: opts.timeoutMs ?? 30_000,
    log: opts.log ?? silentLogger(),
    ...(opts.view ? { view: opts.view } : {}),
  };
  const list = renderConflist({
    podCIDR: node.podCIDR,
    gateway: node.podGateway,
    ipamDataDir: path.join(confDir, 'ipam'),
    extraPlugins: opts.extraPlugins ?? [],
  });
  await mkdir(path.join(confDir, 'results'), { recursive: true });
  await writeAtomic(conflistPath(n), JSON.stringify(list, null, 2) + '\n');
  return n;
}

export interface PodRef {
  namespace: string;
  name: string;
  uid?: string;
}

export interface PodNetwork {
  netns: string;
  netnsPath: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  mac: string;
  ifname: string;
  containerId: string;
  /** The final result of the chain, as a runtime would keep it. */
  result: CniResult;
  /** Wall time of the ADD chain alone. */
  addMs: number;
}

interface CacheEntry {
  containerId: string;
  ifname: string;
  netns: string;
  pod: string;
  config: Conflist;
  result: CniResult;
}

const IFNAME = 'eth0';

/** Stable per pod name, so a DEL after a crash (no cache) still names the same IPAM lease. */
export function containerIdFor(prefix: string, pod: PodRef): string {
  return createHash('sha256').update(`${prefix}/${pod.namespace}/${pod.name}`).digest('hex');
}

function cachePath(n: CniNode, containerId: string): string {
  return path.join(n.confDir, 'results', `${containerId}-${IFNAME}.json`);
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

async function findPlugin(n: CniNode, type: string, ctx: { command: CniCommand; pod: string }): Promise<string> {
  for (const dir of n.cniPath) {
    const file = path.join(dir, type);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // next directory
    }
  }
  throw new CniError({ plugin: type, ...ctx, msg: `no executable ${type} in CNI_PATH ${n.cniPath.join(':')} (install containernetworking-plugins)` });
}

async function readConflist(n: CniNode): Promise<Conflist> {
  const file = conflistPath(n);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Conflist;
  } catch (e) {
    throw new Error(`${n.node.name} has no usable CNI config at ${file} (${(e as Error).message}); call setupNodeCni first`);
  }
}

/** Runs one plugin as a runtime does: in the node's namespace, config on stdin, parameters in the environment. */
export async function invokePlugin(n: CniNode, cmd: CniCommand, list: Conflist, plugin: PluginConf, inv: Invocation, pod: string, prevResult?: unknown): Promise<CniResult | undefined> {
  const ctx = { plugin: plugin.type, command: cmd, pod };
  const bin = await findPlugin(n, plugin.type, ctx);
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...pluginEnv(cmd, inv, n.cniPath) };
  const r = await exec('ip', ['netns', 'exec', n.node.netns, ...mountNamespaceArgv(n.view?.() ?? [], [bin])], { input: pluginStdin(list, plugin, prevResult), env, allowFail: true, timeoutMs: n.timeoutMs });
  return parsePluginOutput(ctx, r.code, r.stdout, r.stderr);
}

/** ADD through the chain, each plugin getting the previous one's result. */
export async function addChain(n: CniNode, list: Conflist, inv: Invocation, pod: string): Promise<CniResult> {
  let prev: CniResult | undefined;
  for (const p of list.plugins) prev = await invokePlugin(n, 'ADD', list, p, inv, pod, prev);
  if (!prev) throw new Error(`CNI config ${list.name} has no plugins`);
  return prev;
}

/** DEL in reverse; every plugin is called even if an earlier one failed. Returns the failures. */
export async function delChain(n: CniNode, list: Conflist, inv: Invocation, pod: string, prevResult?: CniResult): Promise<CniError[]> {
  const errors: CniError[] = [];
  for (const p of [...list.plugins].reverse()) {
    try {
      await invokePlugin(n, 'DEL', list, p, inv, pod, prevResult);
    } catch (e) {
      errors.push(e instanceof CniError ? e : new CniError({ plugin: p.type, command: 'DEL', pod, msg: (e as Error).message }));
    }
  }
  return errors;
}

function invocation(n: CniNode, pod: PodRef, containerId: string, netns: string): Invocation {
  return {
    containerId,
    netnsPath: netnsPath(netns),
    ifname: IFNAME,
    args: {
      K8S_POD_NAMESPACE: pod.namespace,
      K8S_POD_NAME: pod.name,
      K8S_POD_INFRA_CONTAINER_ID: containerId,
      ...(pod.uid ? { K8S_POD_UID: pod.uid } : {}),
    },
  };
}

/** Creates the pod's namespace (lo up) and attaches it to its node through the CNI chain. */
export async function createPodNetwork(n: CniNode, pod: PodRef): Promise<PodNetwork> {
  const netns = podNetnsName(n.prefix, pod.namespace, pod.name);
  const id = `${pod.namespace}/${pod.name}`;
  if (existsSync(netnsPath(netns))) throw new Error(`pod ${id} already has a network (namespace ${netns}); delete it first`);
  const list = await readConflist(n);
  const containerId = containerIdFor(n.prefix, pod);
  const inv = invocation(n, pod, containerId, netns);
  await exec('ip', ['netns', 'add', netns]);
  try {
    await ipBatch(['link set lo up'], netns);
    const t0 = performance.now();
    const result = await addChain(n, list, inv, id);
    const addMs = performance.now() - t0;
    const entry: CacheEntry = { containerId, ifname: IFNAME, netns, pod: id, config: list, result };
    await writeAtomic(cachePath(n, containerId), JSON.stringify(entry));
    const a = podAddress(result, IFNAME);
    n.log.debug({ pod: id, ip: a.ip, node: n.node.name, addMs: Math.round(addMs) }, 'pod network added');
    return { netns, netnsPath: netnsPath(netns), ...a, containerId, result, addMs };
  } catch (e) {
    // As a runtime does after a failed ADD: undo whatever part of the chain ran.
    const errs = await delChain(n, list, inv, id);
    for (const d of errs) n.log.warn({ pod: id, err: d.message }, 'cleanup after failed CNI ADD');
    await delNetns(netns);
    throw e;
  }
}

async function loadCache(n: CniNode, containerId: string): Promise<CacheEntry | undefined> {
  try {
    return JSON.parse(await readFile(cachePath(n, containerId), 'utf8')) as CacheEntry;
  } catch {
    return undefined;
  }
}

/**
 * Detaches and removes a pod's network. Idempotent: a pod with nothing left is fine. Plugin errors
 * do not stop the cleanup; they are logged and returned.
 */
export async function deletePodNetwork(n: CniNode, pod: PodRef): Promise<CniError[]> {
  const netns = podNetnsName(n.prefix, pod.namespace, pod.name);
  const id = `${pod.namespace}/${pod.name}`;
  const containerId = containerIdFor(n.prefix, pod);
  const cached = await loadCache(n, containerId);
  const list = cached?.config ?? (await readConflist(n));
  const errors = await delChain(n, list, invocation(n, pod, containerId, netns), id, cached?.result);
  for (const e of errors) n.log.warn({ pod: id, err: e.message }, 'CNI DEL failed');
  await delNetns(netns);
  await rm(cachePath(n, containerId), { force: true });
  return errors;
}

/** CNI CHECK of a pod added earlier; throws a CniError when a plugin finds it broken. */
export async function checkPodNetwork(n: CniNode, pod: PodRef): Promise<void> {
  const netns = podNetnsName(n.prefix, pod.namespace, pod.name);
  const id = `${pod.namespace}/${pod.name}`;
  const containerId = containerIdFor(n.prefix, pod);
  const cached = await loadCache(n, containerId);
  if (!cached) throw new Error(`pod ${id} has no cached CNI result on ${n.node.name}; was it added?`);
  const inv = invocation(n, pod, containerId, netns);
  for (const p of cached.config.plugins) await invokePlugin(n, 'CHECK', cached.config, p, inv, id, cached.result);
}
