/**
 * The cluster state API (ARCHITECTURE.md §4). Components depend on `ClusterStore`; only a composition
 * root calls `openStore`.
 */
import { FileStore, type FileStoreOptions } from './file.js';
import { kubeConfigSource, loadKubeConfig, type KubeTarget } from './kube-config.js';
import { KubeStore, type KubeStoreOptions } from './kube.js';
import type { ClusterStore } from './types.js';

export * from './types.js';
export { FileStore, type FileStoreOptions } from './file.js';
export { KINDS, findKind, kindInfo, kindRef, resolveResource, resourceName, splitApiVersion, apiVersionOf, type KindInfo, type NameRule } from './kinds.js';
export { parseManifests, parseManifestText, loadManifests, formatManifestIssue, ManifestError, type ManifestIssue } from './manifest.js';
export { validateObject, describeObject, type Issue } from './schema.js';
export { mergePatch, matchesSelector, parseLabelSelector } from './objects.js';
export { replaceWith } from './patch.js';
export { KubeStore, type KubeStoreOptions, type ApplyOptions } from './kube.js';
export { KubeWatch, type KubeWatchStats } from './kube-watch.js';
export { KubeClient } from './kube-client.js';
export { KubeApiError } from './kube-status.js';
export { loadKubeConfig, kubeConfigSource, type KubeTarget } from './kube-config.js';
export { requestToken, reviewToken, type TokenRequestSpec, type IssuedToken, type TokenIdentity } from './kube-tokens.js';

/**
 * Where cluster state lives: a state directory (the File back end), or an API server (the
 * Kubernetes back end) named by a kubeconfig — `{}` resolves it as kubectl does (`$KUBECONFIG`,
 * the in-cluster service account, `~/.kube/config`).
 */
export type StoreTarget = string | { dir: string } | ({ kube: true } & KubeTarget);

export function openStore(target: StoreTarget, opts: FileStoreOptions & KubeStoreOptions = {}): ClusterStore {
  if (typeof target === 'string') return new FileStore(target, opts);
  if ('dir' in target) return new FileStore(target.dir, opts);
  // Missing files fail here; the kubeconfig (and the Kubernetes client library) load in the background.
  kubeConfigSource(target);
  return new KubeStore(loadKubeConfig(target), opts);
}
