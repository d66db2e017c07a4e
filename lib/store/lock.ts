/**
 * An exclusive lock between processes on one machine, without native code.
 *
 * Each holder first writes a token file (pid, process start time, random token), then takes the
 * lock with link(2) of that file to the lock path: link fails with EEXIST while the lock is held,
 * and the lock is never seen half-written. A lock whose owner is dead (pid gone, a zombie, or a
 * different process start time, i.e. the pid was reused) is taken over by renaming a link of our
 * token over it, while holding a second "break" lock so that two recoverers cannot both take it.
 * The taker is told it recovered, so it can repair what the dead writer may have left half done.
 */
import { linkSync, lstatSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LockOwner {
  pid: number;
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22); '' if unknown. */
  start: string;
  /**
   * The kernel's boot id, else the host name: pids are only comparable on one running kernel
   * (network, UTS and mount namespaces share it; another machine or a reboot does not).
   */
  host: string;
  token: string;
}

let machineId: string | undefined;

/** Identifies the running kernel: equal across namespaces, different after a reboot. */
export function machine(): string {
  if (machineId === undefined) {
    try {
      machineId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      machineId = hostname();
    }
  }
  return machineId;
}

/** The start time of a process, or undefined if it does not exist or is a zombie. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19] ?? '';
}

function hasProc(): boolean {
  try {
    statSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}

export function ownerAlive(o: LockOwner): boolean {
  if (o.host !== machine()) return true; // cannot tell; never steal another machine's lock
  if (hasProc()) {
    const start = processStartTime(o.pid);
    return start !== undefined && (o.start === '' || start === o.start);
  }
  try {
    process.kill(o.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    if (typeof o.pid === 'number' && typeof o.token === 'string') return { pid: o.pid, start: o.start ?? '', host: o.host ?? '', token: o.token };
  } catch {
    // missing, or not ours: treated by callers
  }
  return undefined;
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** The longest a waiting holder sleeps between attempts. */
export const LOCK_RETRY_MAX_MS = 4;

export interface LockOptions {
  /** Give up waiting after this long (default 30 s). */
  timeoutMs?: number;
}

export class DirLock {
  readonly owner: LockOwner;
  private readonly tokenPath: string;
  private readonly breakPath: string;
  private tokenIno = 0;
  private held = false;

  constructor(
    readonly path: string,
    private readonly opts: LockOptions = {},
  ) {
    this.owner = { pid: process.pid, start: processStartTime(process.pid) ?? '', host: machine(), token: randomBytes(8).toString('hex') };
    this.tokenPath = `${path}.${process.pid}.${this.owner.token}`;
    this.breakPath = `${path}.break`;
  }

  get isHeld(): boolean {
    return this.held;
  }

  private ensureToken(): void {
    if (this.tokenIno) return;
    writeFileSync(this.tokenPath, JSON.stringify(this.owner), { flag: 'wx' });
    this.tokenIno = lstatSync(this.tokenPath).ino;
  }

  /** Takes the lock; `recovered` says it was taken from a dead owner. */
  async acquire(): Promise<{ recovered: boolean }> {
    if (this.held) throw new Error(`lock ${this.path} is already held by this holder`);
    this.ensureToken();
    const deadline = Date.now() + (this.opts.timeoutMs ?? 30_000);
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(this.tokenPath, this.path);
        this.held = true;
        return { recovered: false };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const cur = readOwner(this.path);
      if (cur && !ownerAlive(cur) && this.takeOver(cur)) {
        this.held = true;
        return { recovered: true };
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for lock ${this.path}${cur ? ` held by pid ${cur.pid}` : ''}; if that process is stuck, stop it`);
      }
      // Holders keep the lock for well under a millisecond: yield first, then back off a little.
      if (attempt < 4) await new Promise((r) => setImmediate(r));
      else await sleep(Math.min(2 ** (attempt - 4), LOCK_RETRY_MAX_MS));
    }
  }

  private takeOver(dead: LockOwner): boolean {
    try {
      linkSync(this.tokenPath, this.breakPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const breaker = readOwner(this.breakPath);
      // A recoverer that died while recovering: clear its break lock so the next try can proceed.
      if (breaker && !ownerAlive(breaker)) unlinkQuiet(this.breakPath);
      return false;
    }
    try {
      const cur = readOwner(this.path);
      if (!cur || cur.token !== dead.token) return false; // someone else already dealt with it
      const tmp = `${this.path}.take.${this.owner.token}`;
      unlinkQuiet(tmp);
      linkSync(this.tokenPath, tmp);
      renameSync(tmp, this.path); // atomic replace: the lock path never disappears
      return true;
    } finally {
      unlinkQuiet(this.breakPath);
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    let ino = 0;
    try {
      ino = lstatSync(this.path).ino;
    } catch {
      // fall through: reported below
    }
    if (ino !== this.tokenIno) throw new Error(`lock ${this.path} was taken from this process while held; the state directory may be shared with a process on another PID namespace`);
    unlinkSync(this.path);
  }

  /** Removes the token file; call when the holder will not lock again. */
  dispose(): void {
    if (this.held) this.release();
    if (this.tokenIno) unlinkQuiet(this.tokenPath);
    this.tokenIno = 0;
  }
}

/** Removes token files left behind by dead processes (they are harmless, only clutter). */
export function cleanStaleTokens(lockPath: string): void {
  const dir = dirname(lockPath);
  const prefix = `${basename(lockPath)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix) || !/^\d+\.[0-9a-f]+$/.test(n.slice(prefix.length))) continue;
    const o = readOwner(join(dir, n));
    if (o && !ownerAlive(o)) unlinkQuiet(join(dir, n));
  }
}
