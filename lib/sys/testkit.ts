// Test helpers (not tests). runSubcommand: for tests of the components' command lines
// (control/main.test.ts, ztunnel/…, cni/…): runs one subcommand as `ambit` would, with extra
// environment variables, and reports what it wrote to stderr, the exit code it set and the error
// commander threw, restoring the environment afterwards. ownScratch / addTestNetns: below.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { addNetns, delNetns, netnsPath } from './netns.js';

export interface CommandRun {
  err: string;
  code: number;
  /** The message of what parsing or the action threw (flag errors surface here). */
  thrown?: string;
}

/** `build` makes the subcommand with an `err` sink; `argv` starts with the subcommand's name. */
export async function runSubcommand(build: (err: (s: string) => void) => Command, argv: string[], env: Record<string, string> = {}): Promise<CommandRun> {
  let err = '';
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const cmd = build((s) => (err += s)).exitOverride().configureOutput({ writeErr: () => undefined });
  process.exitCode = 0;
  try {
    await new Command('ambit').addCommand(cmd).exitOverride().parseAsync(argv, { from: 'user' });
    return { err, code: Number(process.exitCode ?? 0) };
  } catch (e) {
    return { err, code: Number(process.exitCode ?? 0), thrown: (e as Error).message };
  } finally {
    process.exitCode = 0;
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

/** mulberry32: a small deterministic PRNG, uniform in [0, 1), for tests of random choices. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- Scratch that outlives a killed test ---------------------------------------------------------
// A test removes its namespaces and clusters in t.teardown, but teardown never runs when the test
// process is killed: tap's timeout sends SIGTERM, a developer presses Ctrl-C, a machine kills with
// SIGKILL. So every such resource is also *owned*: a record under OWNERS_DIR names the owning
// process (pid + start time, so a reused pid is not mistaken for it) and the commands that remove
// the resource. The owner runs them synchronously when it exits or is signalled; any later test
// process sweeps the records of owners that are gone (SIGKILL, or a hang past every handler).

const OWNERS_DIR = '/run/ambit-test-scratch';

interface ScratchRecord {
  pid: number;
  start: string;
  /** Cleanup runs only while this path exists (the resource is still there). */
  ifExists: string;
  commands: string[][];
}

/** The start time of a process (field 22 of /proc/PID/stat), or undefined when it is gone. */
function startTimeOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[19];
  } catch {
    return undefined;
  }
}

function runCleanup(r: ScratchRecord): void {
  if (!existsSync(r.ifExists)) return;
  for (const [file, ...args] of r.commands) spawnSync(file!, args, { stdio: 'ignore', timeout: 120_000 });
}

const owned = new Map<string, ScratchRecord>();
let hooked = false;

function cleanUpOwned(): void {
  for (const [file, r] of [...owned].reverse()) {
    owned.delete(file);
    runCleanup(r);
    rmSync(file, { force: true });
  }
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', cleanUpOwned);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanUpOwned();
      process.exit(128 + (osConstants.signals[sig] ?? 15));
    });
  }
}

/** Runs the cleanup of every record whose owner is gone, and drops the records. */
export function sweepScratch(): void {
  let files: string[];
  try {
    files = readdirSync(OWNERS_DIR);
  } catch {
    return;
  }
  for (const name of files) {
    const file = path.join(OWNERS_DIR, name);
    let r: ScratchRecord;
    try {
      r = JSON.parse(readFileSync(file, 'utf8')) as ScratchRecord;
    } catch {
      continue; // being written by its owner
    }
    if (startTimeOf(r.pid) === r.start) continue;
    runCleanup(r);
    rmSync(file, { force: true });
  }
}

/**
 * Makes this process the owner of a resource: `commands` remove it (run only while `ifExists`
 * exists), at this process's exit or on SIGTERM/SIGINT/SIGHUP, or by the next test process's sweep
 * if this one dies without either. Sweeps stale records first.
 */
export function ownScratch(id: string, ifExists: string, commands: string[][]): void {
  sweepScratch();
  hookExit();
  mkdirSync(OWNERS_DIR, { recursive: true });
  const record: ScratchRecord = { pid: process.pid, start: startTimeOf(process.pid) ?? '', ifExists, commands };
  const file = path.join(OWNERS_DIR, `${process.pid}-${id.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  writeFileSync(file, JSON.stringify(record));
  owned.set(file, record);
}

/** `ip netns add NAME` (after removing a leftover of that name), owned by this test process. */
export async function addTestNetns(name: string): Promise<void> {
  await delNetns(name);
  ownScratch(`netns-${name}`, netnsPath(name), [['ip', 'netns', 'del', name]]);
  await addNetns(name);
}
