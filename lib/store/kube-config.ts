/**
 * Which kubeconfig the Kubernetes back end uses, resolved as kubectl resolves it: an explicit file
 * (a `--kubeconfig` flag), else `$KUBECONFIG` (one or more files joined by ':'), else the pod's
 * service account when running in a cluster, else `~/.kube/config` if it exists.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { clientNode } from './kube-lib.js';

export interface KubeTarget {
  /** A kubeconfig file; without it `$KUBECONFIG`, the in-cluster service account, `~/.kube/config`. */
  kubeconfig?: string;
  /** A context of the kubeconfig other than its current-context. */
  context?: string;
}

/** Where a pod's service-account credentials are mounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type KubeConfigSource = { type: 'files'; paths: string[] } | { type: 'in-cluster' };

/** The decision alone, for tests: what `loadKubeConfig` will read. */
export function kubeConfigSource(target: KubeTarget, env: NodeJS.ProcessEnv = process.env, exists: (p: string) => boolean = existsSync): KubeConfigSource {
  if (target.kubeconfig) {
    if (!exists(target.kubeconfig)) throw new Error(`kubeconfig ${target.kubeconfig}: no such file; pass the path of an existing kubeconfig`);
    return { type: 'files', paths: [target.kubeconfig] };
  }
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (fromEnv.length) {
    const present = fromEnv.filter((p) => exists(p));
    if (!present.length) throw new Error(`KUBECONFIG=${env.KUBECONFIG}: none of these files exists; point KUBECONFIG at a kubeconfig`);
    return { type: 'files', paths: present };
  }
  if (env.KUBERNETES_SERVICE_HOST && exists(join(SERVICE_ACCOUNT_DIR, 'token'))) return { type: 'in-cluster' };
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (exists(home)) return { type: 'files', paths: [home] };
  throw new Error('no Kubernetes credentials: pass a kubeconfig file, set KUBECONFIG, or run in a pod with a service account');
}

export async function loadKubeConfig(target: KubeTarget = {}, env: NodeJS.ProcessEnv = process.env): Promise<KubeConfig> {
  const src = kubeConfigSource(target, env);
  const { KubeConfig } = await clientNode();
  const kc = new KubeConfig();
  if (src.type === 'in-cluster') {
    kc.loadFromCluster();
  } else {
    const [first, ...rest] = src.paths;
    if (first) kc.loadFromFile(first);
    // As kubectl merges: the first file that sets a value wins.
    for (const p of rest) {
      const more = new KubeConfig();
      more.loadFromFile(p);
      kc.mergeConfig(more, true);
    }
  }
  if (target.context) {
    if (!kc.getContextObject(target.context)) {
      throw new Error(`kubeconfig has no context "${target.context}"; known contexts: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'}`);
    }
    kc.setCurrentContext(target.context);
  }
  if (!kc.getCurrentCluster()) throw new Error(`kubeconfig ${src.type === 'files' ? src.paths.join(delimiter) : '(in-cluster)'}: the current context names no cluster; set current-context`);
  return kc;
}
