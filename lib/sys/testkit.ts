// For tests of the components' command lines (control/main.test.ts, ztunnel/…, cni/…): runs one
// subcommand as `ambit` would, with extra environment variables, and reports what it wrote to
// stderr, the exit code it set and the error commander threw, restoring the environment afterwards.
import { Command } from 'commander';

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
