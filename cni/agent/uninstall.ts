// Telling an uninstall from a restart when the agent is stopped, as Istio's CNI agent does: a pod
// of a DaemonSet that is still there (a rolling update, a node drain) leaves every pod's
// redirection in place for the next agent; when the DaemonSet is gone or being deleted
// (`helm uninstall`), the agent takes the node out of the mesh: it unchains ambit-cni from the
// node's CNI configuration, removes the plugin binary and unenrols every pod, which keeps running
// outside the mesh.
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KubeStore } from '../../lib/store/kube.js';
import { KubeApiError } from '../../lib/store/kube-status.js';
import { primaryConfig, unchainFrom, type Conflist } from './chain.js';

type Meta = { metadata: { deletionTimestamp?: string; ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }> } };

/** Pure: the DaemonSet that owns the agent's pod, if any. */
export function owningDaemonSet(pod: Meta | undefined): string | undefined {
  return pod?.metadata.ownerReferences?.find((r) => r.kind === 'DaemonSet' && r.controller !== false)?.name;
}

/** Pure: an uninstall when the owning DaemonSet is gone or being deleted. */
export function isUninstall(daemonSet: Meta | undefined): boolean {
  return daemonSet === undefined || daemonSet.metadata.deletionTimestamp !== undefined;
}

/** Pure: refused credentials (401) or rights (403) on the agent's own objects. */
export function credentialsRevoked(err: unknown): boolean {
  return err instanceof KubeApiError && (err.statusCode === 401 || err.statusCode === 403);
}

/**
 * Whether the agent's pod `namespace/name` is stopping for good. `helm uninstall` deletes the
 * DaemonSet and, right after it, the agent's ServiceAccount and RBAC, before the pod is stopped:
 * a token or rights refused on reading its own pod and DaemonSet (which it could read while it
 * ran) are an uninstall too. A pod that is not a DaemonSet's is never taken for one.
 */
export async function detectUninstall(store: KubeStore, namespace: string, name: string): Promise<boolean> {
  const ns = `/namespaces/${encodeURIComponent(namespace)}`;
  try {
    const pod = await store.getPath<Meta>(`/api/v1${ns}/pods/${encodeURIComponent(name)}`);
    const ds = owningDaemonSet(pod);
    if (!ds) return false;
    return isUninstall(await store.getPath<Meta>(`/apis/apps/v1${ns}/daemonsets/${encodeURIComponent(ds)}`));
  } catch (err) {
    if (credentialsRevoked(err)) return true;
    throw err;
  }
}

/** Removes the ambit-cni entry from the primary configuration of `netDir`; returns the file if it changed. */
export async function unchainCniConfig(netDir: string): Promise<string | undefined> {
  const primary = primaryConfig(await readdir(netDir));
  if (!primary) return undefined;
  const file = path.join(netDir, primary);
  const parsed = JSON.parse(await readFile(file, 'utf8')) as Conflist;
  if (!Array.isArray(parsed.plugins)) return undefined;
  const { conflist, changed } = unchainFrom(parsed);
  if (!changed) return undefined;
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(conflist, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, file);
  return file;
}
