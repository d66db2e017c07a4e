/**
 * The cluster state API (ARCHITECTURE.md §4). Components depend on `ClusterStore`; only a composition
 * root calls `openStore`.
 */
import { FileStore, type FileStoreOptions } from './file.js';
import type { ClusterStore } from './types.js';

export * from './types.js';
export { FileStore, type FileStoreOptions } from './file.js';
export { KINDS, findKind, kindInfo, kindRef, resolveResource, resourceName, splitApiVersion, apiVersionOf, type KindInfo, type NameRule } from './kinds.js';
export { parseManifests, parseManifestText, loadManifests, formatManifestIssue, ManifestError, type ManifestIssue } from './manifest.js';
export { validateObject, describeObject, type Issue } from './schema.js';
export { mergePatch, matchesSelector, parseLabelSelector } from './objects.js';
export { replaceWith } from './patch.js';

/**
 * Where cluster state lives. Today a state directory (the File back end); the Kubernetes back end
 * will add `{ kubeconfig?: string; context?: string }` here, and `openStore` will pick by shape.
 */
export type StoreTarget = string | { dir: string };

export function openStore(target: StoreTarget, opts: FileStoreOptions = {}): ClusterStore {
  const dir = typeof target === 'string' ? target : target.dir;
  return new FileStore(dir, opts);
}
