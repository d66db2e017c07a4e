import { Command } from 'commander';
import t from 'tap';
import { ztunnelCommand } from './main.js';

/** Runs `ztunnel <args>` with `env` added to the environment; returns what it wrote and the exit code. */
async function run(args: string[], env: Record<string, string> = {}): Promise<{ err: string; code: number; thrown?: string }> {
  let err = '';
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const cmd = ztunnelCommand({ err: (s) => (err += s) }).exitOverride().configureOutput({ writeErr: () => undefined });
  process.exitCode = 0;
  try {
    await new Command('ambit').addCommand(cmd).exitOverride().parseAsync(['ztunnel', ...args], { from: 'user' });
    return { err, code: Number(process.exitCode ?? 0) };
  } catch (e) {
    return { err, code: Number(process.exitCode ?? 0), thrown: (e as Error).message };
  } finally {
    process.exitCode = 0;
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

t.test('a bad duration flag is refused while parsing, naming the flag', async (t) => {
  const r = await run(['--drain', '5']);
  t.match(r.thrown, /--drain: "5" is not a duration; add a unit, e.g\. 5s/);
  t.notMatch(r.thrown, /CONNECTION_TERMINATION_DEADLINE/);
});

t.test('a bad environment variable exits 2, naming the variable', async (t) => {
  const r = await run([], { CONNECTION_TERMINATION_DEADLINE: '5' });
  t.equal(r.code, 2);
  t.match(r.err, /environment CONNECTION_TERMINATION_DEADLINE: "5" is not a duration; add a unit, e.g\. 5s/);
  t.notMatch(r.err, /--drain/);
});

t.test('a bad log level names the flag or the variable it came from', async (t) => {
  const flag = await run(['--log-level', 'loud']);
  t.equal(flag.code, 2);
  t.match(flag.err, /--log-level: "loud" is not a log level/);
  const env = await run([], { AMBIT_LOG_LEVEL: 'loud' });
  t.equal(env.code, 2);
  t.match(env.err, /environment AMBIT_LOG_LEVEL: "loud" is not a log level/);
});
