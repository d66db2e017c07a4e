// Helpers for end-to-end tests: run the real `ambit` command against a cluster in its own state
// directory, and always take the cluster down afterwards.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pod } from '../../lib/k8s/types.js';
import { inNetns } from '../../lib/sys/netns.js';
import { ownScratch } from '../../lib/sys/testkit.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (manifests in test/fixtures are read from the source tree). */
export const ROOT = path.resolve(here, '..', '..', '..');
/** The product build that users run (dist/cli/main.js), not the test build this file is part of. */
export const AMBIT = path.join(ROOT, 'dist', 'cli', 'main.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AMBIT, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ambit ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export class TestCluster {
  readonly stateDir: string;

  constructor(name: string) {
    this.stateDir = mkdtempSync(path.join(os.tmpdir(), `ambit-e2e-${name}-`));
    // `ambit up --detach` outlives this process: if the test is killed before its teardown's
    // down(), the exit handler (or the next test process's sweep) brings the cluster down.
    ownScratch(`e2e-${path.basename(this.stateDir)}`, this.stateDir, [
      [process.execPath, AMBIT, 'down', '--state-dir', this.stateDir],
      ['rm', '-rf', this.stateDir],
    ]);
  }

  /** Runs `ambit ARGS --state-dir DIR`, failing on a non-zero exit. */
  async ambit(...args: string[]): Promise<string> {
    const r = await this.try(...args);
    if (r.code !== 0) throw new Error(`ambit ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** Environment for `up` (its components inherit it), e.g. SECRET_TTL for ztunnel. */
  env: NodeJS.ProcessEnv = {};

  try(...args: string[]): Promise<RunResult> {
    const dd = args.indexOf('--');
    const withDir = dd >= 0 ? [...args.slice(0, dd), '--state-dir', this.stateDir, ...args.slice(dd)] : [...args, '--state-dir', this.stateDir];
    return run(withDir, { timeoutMs: 240_000, env: this.env });
  }

  /** `ambit apply -f` of a YAML text. */
  async applyYaml(yaml: string): Promise<string> {
    const f = path.join(this.stateDir, `apply-${Date.now()}-${Math.random().toString(16).slice(2)}.yaml`);
    writeFileSync(f, yaml);
    return this.ambit('apply', '-f', f);
  }

  async deleteYaml(yaml: string): Promise<string> {
    const f = path.join(this.stateDir, `delete-${Date.now()}-${Math.random().toString(16).slice(2)}.yaml`);
    writeFileSync(f, yaml);
    return this.ambit('delete', '-f', f);
  }

  async json<T>(...args: string[]): Promise<T> {
    return JSON.parse(await this.ambit(...args, '-o', 'json')) as T;
  }

  async up(nodes = 2, files: string[] = []): Promise<void> {
    await this.ambit('up', '--detach', '--nodes', String(nodes), ...files.flatMap((f) => ['-f', f]));
  }

  down(): Promise<RunResult> {
    return this.try('down');
  }
}

/** Polls `fn` until it returns a truthy value, or fails with the last value after `ms`. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000, every = 250): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

/** Parses the echo app's `Key=value` lines. */
export function echoFields(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of body.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0 && !(line.slice(0, i) in out)) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Sums the series of `name` whose labels include `labels`, in Prometheus text. */
export function metricSum(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const got: Record<string, string> = {};
    for (const m of line.slice(name.length + 1, close).matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) got[m[1]!] = m[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(line.slice(close + 1).trim());
  }
  return sum;
}

/** A pod's metrics on 15020 (a waypoint's), read from its node's namespace of the cluster `prefix`. */
export async function podMetrics(prefix: string, pod: Pod): Promise<string> {
  const script = `fetch('http://${pod.status!.podIP}:15020/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))`;
  return (await inNetns(`${prefix}-${pod.spec.nodeName}`, process.execPath, ['-e', script])).stdout;
}
