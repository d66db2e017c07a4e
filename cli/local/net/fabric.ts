// Applies the address plan (plan.ts) to real namespaces, and removes everything a prefix owns.
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { exec } from '../../../lib/sys/exec.js';
import { delNetns, inNetns, ipBatch, listNetns } from '../../../lib/sys/netns.js';
import { silentLogger, type Logger } from '../../../lib/telemetry/log.js';
import { fabricBatches, nodeSysctls, planCluster, validatePrefix, type ClusterNetwork, type PlanOptions } from './plan.js';

export * from './plan.js';

export interface CreateOptions extends PlanOptions {
  /** Remove what an earlier cluster with this prefix left behind (after a crash) instead of failing. */
  replace?: boolean;
  log?: Logger;
}

/** br_netfilter makes bridged frames visit iptables; per namespace once the module is loaded. */
async function ensureBridgeNetfilter(log: Logger): Promise<boolean> {
  const probe = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  if (existsSync(probe)) return true;
  await exec('modprobe', ['br_netfilter'], { allowFail: true }).catch(() => undefined);
  if (existsSync(probe)) return true;
  log.warn('br_netfilter is not available: a pod reaching a Service whose endpoint is on its own node will time out (load the br_netfilter module)');
  return false;
}

export async function createCluster(opts: CreateOptions): Promise<ClusterNetwork> {
  const log = opts.log ?? silentLogger();
  const plan = planCluster(opts);
  const left = listNetns(`${plan.prefix}-`);
  if (left.length > 0) {
    if (!opts.replace) {
      throw new Error(`namespaces of cluster ${plan.prefix} already exist (${left.slice(0, 3).join(', ')}${left.length > 3 ? ', …' : ''}); run "ambit down" first`);
    }
    await teardown(plan.prefix, { log });
  }
  try {
    const names = [plan.fabric.netns, plan.control.netns, ...plan.nodes.map((n) => n.netns)];
    // Sequential on purpose: concurrent `ip netns add` race on the first mount of /var/run/netns.
    for (const name of names) await exec('ip', ['netns', 'add', name]);
    const [fabric, ...rest] = fabricBatches(plan);
    await ipBatch(fabric!.lines, fabric!.netns);
    await Promise.all(rest.map((b) => ipBatch(b.lines, b.netns)));
    const brnf = await ensureBridgeNetfilter(log);
    const sysctls = nodeSysctls(brnf);
    await Promise.all(plan.nodes.map((n) => inNetns(n.netns, 'sysctl', ['-q', '-w', ...sysctls])));
    // The fabric is a plain wire: keep its bridged frames out of netfilter.
    if (brnf) await inNetns(plan.fabric.netns, 'sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=0']);
    log.info({ prefix: plan.prefix, nodes: plan.nodes.length }, 'cluster network created');
    return plan;
  } catch (e) {
    await teardown(plan.prefix, { log }).catch(() => undefined);
    throw new Error(`creating the network of cluster ${plan.prefix} failed: ${(e as Error).message}`, { cause: e });
  }
}

export interface TeardownOptions {
  log?: Logger;
  /** Also remove `<stateDir>/cni` (IPAM leases and cached CNI results die with the namespaces). */
  stateDir?: string;
}

export interface TeardownReport {
  namespaces: string[];
  etcDirs: string[];
  links: string[];
}

/** Links named `${prefix}-…` in the host namespace; none are created, but a crash mid-way in older versions or by hand could leave some. */
async function hostLinks(prefix: string): Promise<string[]> {
  const r = await exec('ip', ['-o', 'link', 'show'], { allowFail: true });
  const names: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m?.[1]?.startsWith(`${prefix}-`)) names.push(m[1]);
  }
  return names;
}

/** Removes every namespace, /etc/netns entry and link a prefix owns. Idempotent; safe after a crash. */
export async function teardown(prefix: string, opts: TeardownOptions = {}): Promise<TeardownReport> {
  validatePrefix(prefix);
  const log = opts.log ?? silentLogger();
  const namespaces = listNetns(`${prefix}-`);
  // Pods first so their veths go before the node namespaces they hang off (cosmetic; the kernel copes either way).
  namespaces.sort((a, b) => Number(b.startsWith(`${prefix}-pod-`)) - Number(a.startsWith(`${prefix}-pod-`)));
  for (const ns of namespaces) await delNetns(ns);
  const still = listNetns(`${prefix}-`);
  if (still.length > 0) throw new Error(`could not delete namespaces ${still.join(', ')}; is something holding /var/run/netns busy?`);

  const etcDirs: string[] = [];
  if (existsSync('/etc/netns')) {
    for (const d of await readdir('/etc/netns')) {
      if (!d.startsWith(`${prefix}-`)) continue;
      await rm(`/etc/netns/${d}`, { recursive: true, force: true });
      etcDirs.push(d);
    }
  }
  const links = await hostLinks(prefix);
  for (const l of links) await exec('ip', ['link', 'del', l], { allowFail: true });
  if (opts.stateDir) await rm(`${opts.stateDir}/cni`, { recursive: true, force: true });
  if (namespaces.length + etcDirs.length + links.length > 0) log.info({ prefix, namespaces: namespaces.length, etcDirs, links }, 'cluster network removed');
  return { namespaces, etcDirs, links };
}
