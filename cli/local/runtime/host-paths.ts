// The local cluster's nodes share one machine, so each node keeps its host paths (a pod's hostPath
// volumes, e.g. /etc/cni/net.d or /var/run/ambit) under a root directory of its own; only what is
// one per machine anyway (network namespaces, the xtables lock, /proc, /sys, /dev) stays shared.
// Also here: the mount points that containers' mounts make on the host's filesystem, recorded
// before they are made and removed again when the cluster goes.
import { appendFileSync, existsSync, lstatSync, readFileSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import path from 'node:path';

/** Paths every node sees as the machine's own. */
export const SHARED_HOST_PATHS = ['/proc', '/sys', '/dev', '/run/netns', '/var/run/netns', '/run/xtables.lock', '/lib/modules'];

function under(p: string, dir: string): boolean {
  return p === dir || p.startsWith(`${dir}/`);
}

/** Pure: where a node whose root is `nodeRoot` keeps host path `p`. */
export function nodeHostPath(nodeRoot: string, p: string): string {
  const n = path.normalize(p).replace(/(.)\/+$/, '$1');
  if (!path.isAbsolute(n)) throw new Error(`host path "${p}" must be absolute`);
  return SHARED_HOST_PATHS.some((s) => under(n, s)) ? n : path.join(nodeRoot, n);
}

/** Appends paths to the record (one a line) before they are created. */
export function recordMountPoints(file: string, paths: readonly string[]): void {
  if (paths.length === 0) return;
  appendFileSync(file, paths.map((p) => `${p}\n`).join(''));
}

/**
 * Removes the recorded mount points, deepest first: directories only if empty, files only if
 * empty (what creating a mount point leaves), then the record. Returns what it removed.
 */
export function removeMountPoints(file: string): string[] {
  if (!existsSync(file)) return [];
  const paths = [...new Set(readFileSync(file, 'utf8').split('\n').filter((p) => path.isAbsolute(p)))];
  paths.sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
  const removed: string[] = [];
  for (const p of paths) {
    try {
      const st = lstatSync(p);
      if (st.isDirectory()) rmdirSync(p);
      else if (st.isFile() && st.size === 0) unlinkSync(p);
      else continue;
      removed.push(p);
    } catch {
      // Gone already, not empty, or still a mount point elsewhere: left alone.
    }
  }
  rmSync(file, { force: true });
  return removed;
}
