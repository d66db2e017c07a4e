import { spawn } from 'node:child_process';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: ExecResult,
  ) {
    const detail = result.stderr.trim() || result.stdout.trim() || `exit code ${result.code}`;
    super(`${command}: ${detail}`);
    this.name = 'CommandError';
  }
}

export interface ExecOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolve with the result instead of rejecting on a non-zero exit. */
  allowFail?: boolean;
  timeoutMs?: number;
}

/** Runs a program (never a shell) and collects its output. */
export function exec(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new Error(`${file} not found: install it (see README, "Set-up")`));
      else reject(e);
    });
    child.on('close', (code, signal) => {
      const result = {
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      };
      if (result.code !== 0 && !opts.allowFail) reject(new CommandError([file, ...args].join(' '), result));
      else resolve(result);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
