import t from 'tap';
import { runSubcommand, type CommandRun } from '../lib/sys/testkit.js';
import { cniAgentCommand } from './main.js';

/** Runs `cni-agent --node node-1 <args>` with `env` added to the environment. */
const run = (args: string[], env: Record<string, string> = {}): Promise<CommandRun> => runSubcommand((err) => cniAgentCommand({ err }), ['cni-agent', '--node', 'node-1', ...args], env);

t.test('a bad duration flag is refused while parsing, naming the flag', async (t) => {
  const r = await run(['--zds-ack-timeout', '5']);
  t.match(r.thrown, /--zds-ack-timeout: "5" is not a duration; add a unit, e.g\. 5s/);
});

t.test('a bad environment variable exits 2, naming the variable', async (t) => {
  const r = await run([], { AMBIENT_DNS_CAPTURE: 'maybe' });
  t.equal(r.code, 2);
  t.match(r.err, /environment AMBIENT_DNS_CAPTURE: "maybe" is not a boolean/);
  t.notMatch(r.err, /--no-dns-capture/);
});

t.test('a bad log level names the flag or the variable it came from', async (t) => {
  const flag = await run(['--log-level', 'loud']);
  t.equal(flag.code, 2);
  t.match(flag.err, /--log-level: "loud" is not a log level/);
  const env = await run([], { AMBIT_LOG_LEVEL: 'loud' });
  t.equal(env.code, 2);
  t.match(env.err, /environment AMBIT_LOG_LEVEL: "loud" is not a log level/);
});
