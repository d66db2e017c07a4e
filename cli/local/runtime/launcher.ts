// Starting and signalling container processes. The real launcher enters the pod's network
// namespace with `ip netns exec`; tests inject `directLauncher` to run in their own namespace.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { netnsPath } from '../../../lib/sys/netns.js';
import { recordMountPoints } from './host-paths.js';
import { hostMountPoints, mountNamespaceArgv, type BindMount } from './mount-ns.js';

export type LaunchSpec = {
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
  netns: string;
  /** Volumes to bind-mount in a mount namespace of the process's own (none: the host's). */
  mounts?: BindMount[];
};

export interface Launcher {
  /**
   * Starts a process as the leader of a new process group with stdin closed and stdout/stderr
   * piped. Throws (or emits 'error') when it cannot start.
   */
  spawn(spec: LaunchSpec): ChildProcess;
}

function spawnGroup(file: string, args: string[], spec: LaunchSpec): ChildProcess {
  // detached = setsid(): the container gets its own process group, so signals reach its children.
  return spawn(file, args, { env: spec.env, cwd: spec.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface LauncherOptions {
  /** Records the mount points a container's mounts create on the host (see host-paths.ts). */
  mountPointsFile?: string;
}

/**
 * The argv inside the container's mount namespace. The program is named by its real path, found
 * on the host before any volume is mounted: a volume at /tmp must not hide it (or the symlink on
 * the pod's PATH that led to it).
 */
function containerArgv(spec: LaunchSpec, o: LauncherOptions): string[] {
  const mounts = spec.mounts ?? [];
  if (mounts.length === 0) return spec.argv;
  if (o.mountPointsFile) recordMountPoints(o.mountPointsFile, hostMountPoints(mounts, existsSync));
  const [file = '', ...args] = spec.argv;
  let real = file;
  try {
    if (path.isAbsolute(file)) real = realpathSync(file);
  } catch {
    // Left as it is: the exec reports it.
  }
  return mountNamespaceArgv(mounts, [real, ...args]);
}

export function netnsLauncher(o: LauncherOptions = {}): Launcher {
  return {
    spawn(spec) {
      if (!existsSync(netnsPath(spec.netns))) throw new Error(`network namespace "${spec.netns}" does not exist (${netnsPath(spec.netns)})`);
      // ip execs the program in place, so the child's PID is the program's PID.
      return spawnGroup('ip', ['netns', 'exec', spec.netns, ...containerArgv(spec, o)], spec);
    },
  };
}

/** Runs in the caller's own network namespace; for tests and for pods that share the host's. */
export function directLauncher(o: LauncherOptions = {}): Launcher {
  return {
    spawn(spec) {
      const [file, ...args] = containerArgv(spec, o);
      if (!file) throw new Error('empty argv');
      return spawnGroup(file, args, spec);
    },
  };
}

/**
 * Finds the program the way execvp would with the container's PATH, so that a typo is reported
 * as the container's StartError rather than as an exit code of `ip`.
 */
export function resolveExecutable(file: string, env: Record<string, string>, cwd?: string): { path: string } | { error: string } {
  const executable = (p: string): boolean => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (file.includes('/')) {
    const abs = path.resolve(cwd ?? process.cwd(), file);
    return executable(abs) ? { path: abs } : { error: `exec: "${file}": stat ${abs}: no such executable file` };
  }
  for (const dir of (env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const p = path.join(path.resolve(cwd ?? process.cwd(), dir), file);
    if (executable(p)) return { path: p };
  }
  return { error: `exec: "${file}": executable file not found in $PATH` };
}

/** Signals a whole process group; a group that is already gone is not an error. */
export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Field 22 of /proc/PID/stat: tells a process from a later one that reused its PID. */
export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
