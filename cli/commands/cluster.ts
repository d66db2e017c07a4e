// `ambit up`, `ambit down` and the cluster's internal `cluster-dns` process.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { logLevelFromEnv } from '../../lib/config/settings.js';
import { createLogger } from '../../lib/telemetry/log.js';
import { loadManifests, openStore } from '../../lib/store/index.js';
import { DEPLOYMENT, POD, type Deployment, type Pod, isPodReady } from '../../lib/k8s/types.js';
import { LocalCluster, cleanupStale } from '../local/cluster.js';
import { layout, type ClusterInfo } from '../local/layout.js';
import { runClusterDns } from '../local/dns/main.js';
import { findBinaries } from '../local/kube/binaries.js';
import type { ClusterStore } from '../../lib/store/types.js';
import { applyObject } from './objects.js';
import { addStateDir, isAlive, kubeconfigOf, readClusterInfo, stateDirOf } from './common.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/cli/main.js: what pods and components run as `ambit`. */
export const AMBIT_BIN = path.resolve(here, '..', 'main.js');
/** The demo manifests ship as source (cli/local/demo), next to dist/. */
export const DEMO_DIR = path.resolve(here, '..', '..', '..', 'cli', 'local', 'demo');
/** The repository (test/k8s/versions.json pins the Kubernetes binaries). */
const REPO_ROOT = path.resolve(here, '..', '..', '..');

/** The store of a running cluster: its API server in Kubernetes mode, else its state directory. */
function clusterStore(stateDir: string): ClusterStore {
  const kc = kubeconfigOf(stateDir);
  return existsSync(kc) ? openStore({ kube: true, kubeconfig: kc }) : openStore(layout(stateDir).store);
}

interface UpOpts {
  stateDir?: string;
  nodes: string;
  demo?: boolean;
  detach?: boolean;
  file?: string[];
  timeout: string;
  mesh: boolean;
  kubernetes?: boolean;
}

/** Settled: every Deployment has its replicas, and every pod runs and is Ready. */
async function podsSettled(stateDir: string): Promise<{ done: boolean; summary: string }> {
  const store = clusterStore(stateDir);
  try {
    const pods = await store.list<Pod>(POD);
    const deps = await store.list<Deployment>(DEPLOYMENT);
    const notReady = pods.filter((p) => p.status?.phase !== 'Running' || !isPodReady(p));
    const short = deps.filter((d) => (d.status?.readyReplicas ?? 0) < (d.spec.replicas ?? 1) || d.status?.observedGeneration !== d.metadata.generation);
    const summary = [
      ...notReady.map((p) => `${p.metadata.namespace}/${p.metadata.name} ${p.status?.reason ?? p.status?.phase ?? 'Pending'}`),
      ...short.map((d) => `deployment ${d.metadata.namespace}/${d.metadata.name} ${d.status?.readyReplicas ?? 0}/${d.spec.replicas ?? 1} ready`),
    ].join(', ');
    return { done: notReady.length === 0 && short.length === 0, summary };
  } finally {
    await store.close();
  }
}

async function waitReady(stateDir: string, timeoutMs: number, alive: () => boolean, runnerPid: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`the cluster runner exited; see ${layout(stateDir).runnerLog}`);
    const info = readClusterInfo(stateDir) as (ClusterInfo & { ready?: boolean }) | undefined;
    // Only the record of this runner counts: a crashed one may have left a stale `ready`.
    if (info?.ready && info.runnerPid === runnerPid) {
      const s = await podsSettled(stateDir);
      last = s.summary;
      if (s.done) return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`pods not running and ready after ${timeoutMs / 1000}s: ${last || 'cluster not started'}; see ${layout(stateDir).runnerLog}`);
}

/** How the user ran us: `ambit` when it is on the PATH, else the node command line. */
function invocation(): string {
  const onPath = (process.env.PATH ?? '').split(':').some((d) => d && existsSync(path.join(d, 'ambit')));
  return onPath ? 'ambit' : `node ${path.relative(process.cwd(), AMBIT_BIN) || AMBIT_BIN}`;
}

function printSummary(stateDir: string, pods: Pod[], info: ClusterInfo): void {
  const sd = stateDir === '/var/lib/ambit' ? '' : ` --state-dir ${stateDir}`;
  const a = invocation();
  const front = pods.find((p) => p.metadata.namespace === 'shop')?.metadata.name ?? pods[0]?.metadata.name ?? 'POD';
  const frontNs = pods.find((p) => p.metadata.name === front)?.metadata.namespace ?? 'default';
  console.log(`\nAmbit local cluster "${info.prefix}" is up: ${info.nodes.length} node(s), state in ${stateDir}`);
  const byNode = new Map<string, string[]>();
  for (const p of pods) {
    const list = byNode.get(p.spec.nodeName ?? '<unscheduled>') ?? [];
    list.push(`${p.metadata.namespace}/${p.metadata.name} (${p.status?.podIP ?? 'no IP'})`);
    byNode.set(p.spec.nodeName ?? '<unscheduled>', list);
  }
  for (const [node, list] of [...byNode].sort()) console.log(`  ${node}: ${list.join(', ')}`);
  // The apiserver's forward carries TLS (its kubeconfig names it); the others serve plain HTTP.
  for (const [name, addr] of Object.entries(info.forwards)) console.log(`  ${name}: ${name === 'kube-apiserver' ? 'https' : 'http'}://${addr}/`);
  console.log(`  component logs: ${layout(stateDir).components}/`);
  if (existsSync(kubeconfigOf(stateDir))) {
    // Kubernetes mode: kubectl and helm are the tools; the kubeconfig reaches the apiserver.
    console.log(`  kubeconfig: ${kubeconfigOf(stateDir)}`);
    console.log(`\nTry: export KUBECONFIG=${kubeconfigOf(stateDir)}; kubectl get nodes,pods -A`);
    return;
  }
  console.log(`\nTry: ${a} get pods -A${sd}`);
  if (frontNs === 'shop') {
    console.log(`     ${a} exec ${frontNs}/${front}${sd} -- ambit echo request http://backend.catalog:8080/\n     ${a} logs ${frontNs}/${front}${sd} -c caller`);
  }
}

export function upCommand(): Command {
  return addStateDir(new Command('up'))
    .description('create a local cluster of network namespaces and run its pods')
    .option('--nodes <n>', 'number of nodes', '2')
    .option('--demo', 'apply the demo apps (a frontend calling a backend with two versions)')
    .option('-f, --file <path...>', 'manifests to apply once the cluster runs')
    .option('--detach', 'return once every pod runs; the cluster keeps running in the background')
    .option('--no-mesh', 'run the cluster without the mesh data plane (no ztunnel, no CNI agent)')
    .option('--kubernetes', 'the store is a real etcd + kube-apiserver + kube-controller-manager (built by test/k8s/setup); install the mesh with helm')
    .option('--timeout <seconds>', 'how long --detach waits for pods', '180')
    .action(async (opts: UpOpts) => {
      const stateDir = path.resolve(stateDirOf(opts));
      const l = layout(stateDir);
      const prev = readClusterInfo(stateDir);
      if (prev?.runnerPid && prev.runnerPid !== process.pid && isAlive(prev.runnerPid)) {
        throw new Error(`a cluster already runs in ${stateDir} (runner pid ${prev.runnerPid}); use it, or run \`ambit down --state-dir ${stateDir}\``);
      }
      const nodes = Number(opts.nodes);
      // Fails before anything is made, naming the missing binaries and the script that builds them.
      if (opts.kubernetes) findBinaries(REPO_ROOT);
      if (opts.detach) {
        mkdirSync(stateDir, { recursive: true });
        const fd = openSync(l.runnerLog, 'a');
        const args = [AMBIT_BIN, 'up', '--state-dir', stateDir, '--nodes', String(nodes), ...(opts.demo ? ['--demo'] : []), ...(opts.mesh ? [] : ['--no-mesh']), ...(opts.kubernetes ? ['--kubernetes'] : []), ...(opts.file ?? []).flatMap((f) => ['-f', path.resolve(f)])];
        const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, AMBIT_RUNNER_QUIET: '1' } });
        closeSync(fd);
        let exited = false;
        child.on('exit', () => (exited = true));
        child.unref();
        await waitReady(stateDir, Number(opts.timeout) * 1000, () => !exited, child.pid!);
        const store = clusterStore(stateDir);
        printSummary(stateDir, await store.list<Pod>(POD), readClusterInfo(stateDir)!);
        await store.close();
        console.log(`\nThe cluster runs in the background (pid ${child.pid}, log ${l.runnerLog}); \`ambit down${stateDir === '/var/lib/ambit' ? '' : ' --state-dir ' + stateDir}\` removes it.`);
        process.exit(0);
      }
      await runForeground(stateDir, nodes, opts);
    });
}

async function runForeground(stateDir: string, nodes: number, opts: UpOpts): Promise<void> {
  // Detached, stdout already is the runner log; in a terminal the log goes to its file and the
  // terminal shows the summary.
  const level = logLevelFromEnv('runner', process.env);
  const log = process.env.AMBIT_RUNNER_QUIET ? createLogger('runner', level) : createLogger('runner', level, layout(stateDir).runnerLog);
  if (!process.env.AMBIT_RUNNER_QUIET) console.log(`Starting a ${nodes}-node cluster (log: ${layout(stateDir).runnerLog}) …`);
  const cluster = new LocalCluster({ stateDir, nodes, log, ambitBin: AMBIT_BIN, mesh: opts.mesh, ...(opts.kubernetes ? { kubernetes: { bins: findBinaries(REPO_ROOT) } } : {}) });
  let stopping = false;
  const stop = async (purge: boolean) => {
    if (stopping) return;
    stopping = true;
    log.info('tearing the cluster down');
    if (!process.env.AMBIT_RUNNER_QUIET) console.log('\nStopping: removing pods, namespaces and rules …');
    await cluster.stop(purge);
    if (!process.env.AMBIT_RUNNER_QUIET) console.log('Cluster removed.');
    process.exit(0);
  };
  // Ctrl-C / SIGTERM from `ambit down` remove everything the run made.
  process.on('SIGINT', () => void stop(true));
  process.on('SIGTERM', () => void stop(true));
  try {
    await cluster.start();
    const files = [...(opts.demo ? [DEMO_DIR] : []), ...(opts.file ?? [])];
    for (const f of files) for (const o of await loadManifests(f)) await applyObject(cluster.store, o, undefined);
    if (opts.demo) await cluster.forward({ name: 'frontend', service: 'shop/frontend', port: 8080, hostPort: Number(process.env.AMBIT_DEMO_PORT ?? 18080) });
    cluster.writeInfo(true);
  } catch (e) {
    log.error({ err: e }, 'cluster start failed');
    await cluster.stop(false).catch(() => undefined);
    throw e;
  }
  if (!process.env.AMBIT_RUNNER_QUIET) {
    await waitReady(stateDir, 180_000, () => true, process.pid).catch((e: Error) => log.warn(e.message));
    printSummary(stateDir, await cluster.store.list<Pod>(POD), readClusterInfo(stateDir)!);
    console.log('\nPress Ctrl-C to stop and remove the cluster.');
  }
  await new Promise(() => undefined);
}

export function downCommand(): Command {
  return addStateDir(new Command('down'))
    .description('stop the local cluster and remove every namespace, rule, process and file it made')
    .action(async (opts: { stateDir?: string }) => {
      const stateDir = path.resolve(stateDirOf(opts));
      const info = readClusterInfo(stateDir);
      if (info?.runnerPid && isAlive(info.runnerPid)) {
        process.kill(info.runnerPid, 'SIGTERM');
        const deadline = Date.now() + 60_000;
        while (isAlive(info.runnerPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        if (isAlive(info.runnerPid)) process.kill(info.runnerPid, 'SIGKILL');
      }
      // Whatever a crashed or killed runner left behind.
      await cleanupStale(stateDir, createLogger('down', 'warn'));
      if (existsSync(stateDir)) rmSync(stateDir, { recursive: true, force: true });
      console.log(`cluster in ${stateDir} removed`);
    });
}

export function clusterDnsCommand(): Command {
  return addStateDir(new Command('cluster-dns'))
    .description('(internal) the cluster DNS server of the local cluster')
    .option('--listen <addr:port>', 'address to serve on', '0.0.0.0:53')
    .option('--kubeconfig <path>', 'read the cluster from this API server instead of the state directory')
    .action(async (opts: { stateDir?: string; listen: string; kubeconfig?: string }) => {
      const i = opts.listen.lastIndexOf(':');
      const address = opts.listen.slice(0, i);
      const port = Number(opts.listen.slice(i + 1));
      const log = createLogger('cluster-dns', logLevelFromEnv('cluster-dns', process.env));
      const store = opts.kubeconfig ? openStore({ kube: true, kubeconfig: opts.kubeconfig }) : undefined;
      const dns = await runClusterDns({ ...(store ? { store } : { storeDir: layout(stateDirOf(opts)).store }), listen: { address, port }, records: { nameserver: address }, log });
      log.info({ address: dns.address }, 'cluster DNS serving');
      const stop = () => void dns.close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
}
