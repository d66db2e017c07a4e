// Runs the cluster's own processes (cluster DNS now; control plane, ztunnel and CNI agents as
// they land) inside a namespace, restarts them when they die, and records their PIDs so that an
// `up` after a crash can kill what a dead runner left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../lib/telemetry/log.js';

export interface ComponentSpec {
  name: string;
  /** Network namespace to run in (`ip netns exec`); none = the runner's own. */
  netns?: string;
  argv: string[];
  env?: Record<string, string>;
  dir: string;
  log: Logger;
  restartDelayMs?: number;
}

export class Component {
  private child?: ChildProcess;
  private stopping = false;
  private restarts = 0;
  private timer?: NodeJS.Timeout;
  private exited?: Promise<void>;

  constructor(private readonly spec: ComponentSpec) {}

  get logFile(): string {
    return path.join(this.spec.dir, `${this.spec.name}.log`);
  }

  private get pidFile(): string {
    return path.join(this.spec.dir, `${this.spec.name}.pid`);
  }

  start(): this {
    mkdirSync(this.spec.dir, { recursive: true });
    const out = createWriteStream(this.logFile, { flags: 'a' });
    const [file, ...args] = this.spec.netns ? ['ip', 'netns', 'exec', this.spec.netns, ...this.spec.argv] : this.spec.argv;
    const child = spawn(file!, args, { env: { ...process.env, ...this.spec.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    // The subcommand goes with the PID, so a leftover check can tell ours from a recycled PID.
    if (child.pid) writeFileSync(this.pidFile, `${child.pid} ${this.spec.argv[2] ?? this.spec.name}\n`);
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        this.spec.log.error({ component: this.spec.name, err: err.message }, 'component failed to start');
      });
      child.on('close', (code, signal) => {
        out.end();
        resolve();
        if (this.stopping) return;
        this.restarts++;
        const delay = Math.min((this.spec.restartDelayMs ?? 500) * 2 ** Math.min(this.restarts - 1, 5), 15_000);
        this.spec.log.warn({ component: this.spec.name, code, signal, restartInMs: delay, log: this.logFile }, `${this.spec.name} exited; restarting`);
        this.timer = setTimeout(() => this.start(), delay);
      });
    });
    return this;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const killer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, graceMs);
      await this.exited;
      clearTimeout(killer);
    }
    rmSync(this.pidFile, { force: true });
  }
}

/** Kills the process groups recorded in `dir/*.pid` (left by a runner that died). */
export function killComponentLeftovers(dir: string): number[] {
  const killed: number[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.pid'));
  } catch {
    return killed;
  }
  for (const n of names) {
    const [pidText, match = n.slice(0, -4)] = readFileSync(path.join(dir, n), 'utf8').trim().split(' ');
    const pid = Number(pidText);
    // Only a process that is still ours: a recycled PID runs something else.
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      /* gone */
    }
    if (Number.isInteger(pid) && pid > 1 && cmdline.includes(match)) {
      try {
        process.kill(-pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        /* not running */
      }
    }
    rmSync(path.join(dir, n), { force: true });
  }
  return killed;
}
