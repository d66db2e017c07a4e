import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_STATE_DIR, layout, type ClusterInfo } from '../local/layout.js';
import { openStore } from '../../lib/store/index.js';
import type { ClusterStore } from '../../lib/store/types.js';

export function addStateDir(cmd: Command): Command {
  return cmd.option('--state-dir <dir>', 'the cluster state directory', process.env.AMBIT_STATE_DIR ?? DEFAULT_STATE_DIR);
}

export function stateDirOf(opts: { stateDir?: string }): string {
  return opts.stateDir ?? process.env.AMBIT_STATE_DIR ?? DEFAULT_STATE_DIR;
}

export function readClusterInfo(stateDir: string): ClusterInfo | undefined {
  const f = layout(stateDir).cluster;
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as ClusterInfo;
  } catch {
    // Only a file from before atomic writes could be torn; treat it as absent.
    return undefined;
  }
}

/** The admin kubeconfig a `--kubernetes` cluster writes (host loopback). */
export function kubeconfigOf(stateDir: string): string {
  return path.join(layout(stateDir).root, 'kube', 'kubeconfig');
}

/**
 * Opens the store of an existing cluster (its API server in Kubernetes mode), with a clear error
 * when there is none.
 */
export async function clusterStore(stateDir: string): Promise<ClusterStore> {
  const l = layout(stateDir);
  const kc = kubeconfigOf(stateDir);
  if (existsSync(kc)) return openStore({ kube: true, kubeconfig: kc });
  if (!existsSync(l.store)) throw new Error(`no cluster in ${l.root}: run \`ambit up --state-dir ${stateDir}\` first`);
  return openStore(l.store);
}

/** Splits `NS/NAME` (or `NAME` with -n NS) of `ambit exec` and `ambit logs`. */
export function podRef(arg: string, namespace: string | undefined): { namespace: string; name: string } {
  const i = arg.indexOf('/');
  if (i >= 0) return { namespace: arg.slice(0, i), name: arg.slice(i + 1) };
  return { namespace: namespace ?? 'default', name: arg };
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
