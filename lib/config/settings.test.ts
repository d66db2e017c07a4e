import t from 'tap';
import { z } from 'zod';
import { ConfigError, describeSource } from './errors.js';
import { flagKey, logLevelFromEnv, pickSetting, SettingsReader } from './settings.js';

t.test('flag, then the first set environment variable, then the default; each with its source', async (t) => {
  const spec = { flag: '--xds-address', env: ['XDS_ADDRESS', 'AMBIT_CONTROL_ADDRESS'], default: 'istiod:15012' };
  t.same(pickSetting({ xdsAddress: 'f:1' }, { XDS_ADDRESS: 'e:1' }, spec), { value: 'f:1', source: { kind: 'flag', flag: '--xds-address' } });
  t.same(pickSetting({}, { XDS_ADDRESS: '', AMBIT_CONTROL_ADDRESS: 'e:2' }, spec), { value: 'e:2', source: { kind: 'env', env: 'AMBIT_CONTROL_ADDRESS' } }, 'an empty variable is unset');
  t.same(pickSetting({}, {}, spec), { value: 'istiod:15012', source: { kind: 'default', flag: '--xds-address', env: 'XDS_ADDRESS' } });
  t.equal(pickSetting({}, {}, { flag: '--network' }), undefined);
  t.same(pickSetting({ xdsAddress: '' }, { XDS_ADDRESS: 'e:1' }, spec)?.value, '', 'a flag given empty is still the flag');
  const inherited = { value: 'x:1', source: { kind: 'env', env: 'XDS_ADDRESS' } } as const;
  t.same(pickSetting({}, {}, { flag: '--ca-address', env: ['CA_ADDRESS'], default: inherited }), inherited, 'a default taken from another setting keeps its source');
});

t.test('flag keys are commander\'s', async (t) => {
  const table: Array<[string, string]> = [['--drain', 'drain'], ['--zds-ack-timeout', 'zdsAckTimeout'], ['--no-status', 'status'], ['--no-dns-capture', 'dnsCapture'], ['--probe-ipv6', 'probeIpv6']];
  for (const [flag, key] of table) t.equal(flagKey(flag), key, flag);
});

t.test('sources are described as the user typed them', async (t) => {
  t.equal(describeSource({ kind: 'flag', flag: '--drain' }), '--drain');
  t.equal(describeSource({ kind: 'env', env: 'CA_ADDRESS' }), 'environment CA_ADDRESS');
  t.equal(describeSource({ kind: 'default', flag: '--drain', env: 'X' }), '--drain (default)');
  t.equal(describeSource({ kind: 'default', env: 'X' }), 'environment X (default)');
});

const Schema = z.object({
  drainMs: z.number().int().min(0),
  admin: z.object({ host: z.string(), port: z.number() }),
  peers: z.array(z.string().regex(/^[a-z]+$/, 'must be lowercase letters')),
  limits: z.object({ max: z.number().max(10, 'must be at most 10') }),
  level: z.string(),
  on: z.boolean(),
});

function read(flags: Record<string, unknown>, env: Record<string, string>) {
  const r = new SettingsReader(flags, env);
  const peers = r.string('peers', { flag: '--peers', env: ['PEERS'], default: '' });
  const raw = {
    drainMs: r.duration('drainMs', { flag: '--drain', env: ['DRAIN'], default: '5s' }),
    admin: r.listenAddress('admin', { flag: '--admin-address', env: ['ADMIN'], default: ':15000' }, '127.0.0.1'),
    peers: peers === '' ? [] : peers.split(','),
    limits: { max: r.integer('limits.max', { flag: '--max', env: ['MAX'], default: '3' }) },
    level: r.logLevel(),
    on: r.boolean('on', { flag: '--no-on', env: ['ON'] }, true),
  };
  return r.validate('test', Schema, raw);
}

t.test('a reader returns the validated values', async (t) => {
  t.same(read({}, {}), { drainMs: 5000, admin: { host: '127.0.0.1', port: 15000 }, peers: [], limits: { max: 3 }, level: 'info', on: true });
  t.match(read({ drain: '250ms', on: false }, { DRAIN: '1s', ADMIN: '[::1]:0', PEERS: 'a,b', MAX: '7', AMBIT_LOG_LEVEL: 'debug', ON: 'true' }), {
    drainMs: 250, admin: { host: '::1', port: 0 }, peers: ['a', 'b'], limits: { max: 7 }, level: 'debug', on: false,
  });
  t.equal(read({}, { ON: 'no' }).on, false);
});

t.test('every problem at once, each named by its source, zod issues included', async (t) => {
  const table: Array<[Record<string, unknown>, Record<string, string>, string[]]> = [
    [{ drain: '5' }, {}, ['--drain: "5" is not a duration; add a unit, e.g. 5s']],
    [{}, { DRAIN: '5' }, ['environment DRAIN: "5" is not a duration; add a unit, e.g. 5s']],
    [{}, { ADMIN: 'x:y' }, ['environment ADMIN: "x:y" is not a listen address; write host:port, :port, [::1]:port or a port (0 picks a free one)']],
    [{ max: 'lots' }, {}, ['--max: "lots" is not a whole number']],
    [{ max: '11' }, {}, ['--max: must be at most 10']],
    [{}, { MAX: '11' }, ['environment MAX: must be at most 10']],
    [{}, { PEERS: 'a,B' }, ['environment PEERS[1]: must be lowercase letters']],
    [{}, { AMBIT_LOG_LEVEL: 'loud' }, ['environment AMBIT_LOG_LEVEL: "loud" is not a log level; use one of fatal, error, warn, info, debug, trace, silent']],
    [{ logLevel: 'loud' }, {}, ['--log-level: "loud" is not a log level; use one of fatal, error, warn, info, debug, trace, silent']],
    [{}, { ON: 'maybe' }, ['environment ON: "maybe" is not a boolean (true or false)']],
    [{ drain: 'soon' }, { MAX: '99', AMBIT_LOG_LEVEL: 'x' }, [
      '--drain: "soon" is not a duration; write e.g. 500ms, 5s, 10m, 24h, 90d or 1h30m',
      'environment AMBIT_LOG_LEVEL: "x" is not a log level; use one of fatal, error, warn, info, debug, trace, silent',
      'environment MAX: must be at most 10',
    ]],
  ];
  for (const [flags, env, problems] of table) {
    const e = t.throws(() => read(flags, env), { name: 'ConfigError' }, JSON.stringify([flags, env])) as ConfigError;
    t.same(e.problems, problems, JSON.stringify([flags, env]));
    t.equal(e.message, `invalid test configuration:\n  ${problems.join('\n  ')}`);
  }
});

t.test('a value that could not be read is not reported a second time by the schema', async (t) => {
  const r = new SettingsReader({ max: 'x' }, {});
  const e = t.throws(() => r.validate('test', z.object({ max: z.number() }), { max: r.integer('max', { flag: '--max', default: '1' }) })) as ConfigError;
  t.same(e.problems, ['--max: "x" is not a whole number']);
});

t.test('a default that does not fit names the flag to change', async (t) => {
  const r = new SettingsReader({}, {});
  const raw = { quiet: r.duration('quiet', { flag: '--quiet', default: '1s' }), max: r.duration('max', { flag: '--max', default: '500ms' }) };
  const s = z.object({ quiet: z.number(), max: z.number() }).refine((c) => c.max >= c.quiet, { path: ['max'], message: 'must be >= the quiet period' });
  t.same((t.throws(() => r.validate('test', s, raw)) as ConfigError).problems, ['--max (default): must be >= the quiet period']);
});

t.test('the level of a process without flags', async (t) => {
  t.equal(logLevelFromEnv('runner', {}), 'info');
  t.equal(logLevelFromEnv('runner', { AMBIT_LOG_LEVEL: 'WARN' }), 'warn');
  t.throws(() => logLevelFromEnv('runner', { AMBIT_LOG_LEVEL: 'loud' }), { name: 'ConfigError', message: /^invalid runner configuration:\n {2}environment AMBIT_LOG_LEVEL: "loud"/ });
});
