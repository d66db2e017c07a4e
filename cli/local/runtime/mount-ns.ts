// Pure: the argv that runs a container in a private mount namespace of its own, where each of its
// volumes is bind-mounted at its mountPath. `unshare` (without --fork) and `sh -c ... exec` both
// exec in place, so the child's PID stays the program's PID.
import type { MountPlan } from './volumes.js';

export type BindMount = Pick<MountPlan, 'source' | 'target' | 'readOnly'>;

function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The target is created on demand (a directory, or an empty file when the source is a file);
 * a read-only mount is remounted read-only, as bind mounts cannot be made so in one step.
 */
export function mountNamespaceArgv(mounts: BindMount[], argv: string[]): string[] {
  if (mounts.length === 0) return argv;
  const steps = mounts.map((m) => {
    const src = quote(m.source);
    const dst = quote(m.target);
    // A source that is missing (e.g. hidden by an earlier mount over one of its parents) fails
    // the start rather than mounting nothing.
    const missing = quote(`ambit-mounts: volume source ${m.source} (for ${m.target}) does not exist`);
    const make = `if [ -d ${src} ]; then mkdir -p ${dst}; elif [ -e ${src} ]; then mkdir -p "$(dirname ${dst})"; [ -e ${dst} ] || : > ${dst}; else echo ${missing} >&2; exit 1; fi`;
    const ro = m.readOnly ? ` && mount -o remount,bind,ro ${dst}` : '';
    return `${make} && mount --bind ${src} ${dst}${ro}`;
  });
  const script = ['set -e', ...steps, 'exec "$@"'].join('\n');
  return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'ambit-mounts', ...argv];
}
