// Pure: the argv that runs a container in a mount namespace of its own, where each of its volumes
// is bind-mounted at its mountPath. `unshare` (without --fork) and `bash -c ... exec` both exec in
// place, so the child's PID stays the program's PID.
//
// Every source is opened before anything is mounted and mounted through its descriptor
// (/proc/self/fd/N): a volume at /tmp (an emptyDir) must not hide the sources of the others, which
// live in the state directory, often under /tmp too. The namespace is a slave of the host's, so
// mounts made on the host later (a new network namespace under /var/run/netns) reach the mounts that
// ask for HostToContainer propagation; the others are made private, as kubelet's default None is.
import path from 'node:path';
import type { MountPlan } from './volumes.js';

export type BindMount = Pick<MountPlan, 'source' | 'target' | 'readOnly'> & { propagation?: MountPlan['propagation'] };

/** The first descriptor a source is opened on (bash takes multi-digit descriptors; 0-2 are stdio). */
const FIRST_FD = 10;

function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}

/** Parents before children, so a volume nested in another one is mounted inside it. */
export function mountOrder<T extends { target: string }>(mounts: readonly T[]): T[] {
  return [...mounts].sort((a, b) => depth(a.target) - depth(b.target));
}

/**
 * The script's steps: open every source (a missing one fails the start, naming source and target,
 * before anything is mounted); then for each mount, parents first, create the target (a directory,
 * or an empty file when the source is a file), bind it recursively through the open descriptor,
 * remount it read-only if asked (bind mounts cannot be made so in one step), set its propagation,
 * and close the descriptor so that the program inherits none.
 */
export function mountScript(mounts: BindMount[]): string {
  const ordered = mountOrder(mounts);
  const open = ordered.map((m, i) => {
    const missing = quote(`ambit-mounts: volume source ${m.source} (for ${m.target}) does not exist`);
    return `[ -e ${quote(m.source)} ] || { echo ${missing} >&2; exit 1; }\nexec ${FIRST_FD + i}<${quote(m.source)}`;
  });
  const steps = ordered.map((m, i) => {
    const fd = `/proc/self/fd/${FIRST_FD + i}`;
    const dst = quote(m.target);
    const make = `if [ -d ${fd} ]; then mkdir -p ${dst}; else mkdir -p ${quote(path.dirname(m.target))}; [ -e ${dst} ] || : > ${dst}; fi`;
    // -c: mount must not canonicalise /proc/self/fd/N into the (maybe hidden) path it names.
    const bind = `mount -c --rbind ${fd} ${dst}`;
    const ro = m.readOnly ? ` && mount -c -o remount,bind,ro ${dst}` : '';
    const prop = m.propagation === 'HostToContainer' ? '' : ` && mount -c --make-rprivate ${dst}`;
    return `${make} && ${bind}${ro}${prop}\nexec ${FIRST_FD + i}<&-`;
  });
  return ['set -e', ...open, ...steps, 'exec "$@"'].join('\n');
}

export function mountNamespaceArgv(mounts: BindMount[], argv: string[]): string[] {
  if (mounts.length === 0) return argv;
  return ['unshare', '--mount', '--propagation', 'slave', '--', 'bash', '--noprofile', '--norc', '-c', mountScript(mounts), 'ambit-mounts', ...argv];
}

/**
 * The paths that creating these mounts' targets makes on the host's filesystem (deepest last):
 * the missing ancestors of each target and the target itself, unless they fall inside another
 * mount's target, where they are made in that volume. `exists` asks the host.
 */
export function hostMountPoints(mounts: readonly BindMount[], exists: (p: string) => boolean): string[] {
  const targets = mounts.map((m) => path.normalize(m.target));
  // Inside another mount's target: made in that volume, not on the host.
  const covered = (p: string, own: string): boolean => targets.some((t) => t !== own && (p === t || p.startsWith(`${t}/`)));
  const out = new Set<string>();
  for (const t of targets) {
    const parts = t.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = `/${parts.slice(0, i).join('/')}`;
      if (covered(p, t)) break;
      if (!exists(p)) out.add(p);
    }
  }
  return [...out].sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
}
