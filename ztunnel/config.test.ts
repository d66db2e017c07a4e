import t from 'tap';
import { parseListenAddress } from '../lib/config/address.js';
import { parseDuration } from '../lib/config/duration.js';
import { ConfigError, resolveConfig } from './config.js';

t.test('defaults follow Istio', async (t) => {
  const c = resolveConfig({}, { NODE_NAME: 'node-1' });
  t.match(c, {
    nodeName: 'node-1',
    podName: 'ztunnel-node-1',
    podNamespace: 'istio-system',
    xdsAddress: 'istiod.istio-system.svc:15012',
    caAddress: 'istiod.istio-system.svc:15012',
    caRootPath: '/var/run/secrets/istio/root-cert.pem',
    credentialPath: '/var/run/secrets/tokens/istio-token',
    zdsSocket: '/var/run/ztunnel/ztunnel.sock',
    trustDomain: 'cluster.local',
    clusterId: 'Kubernetes',
    admin: { host: '127.0.0.1', port: 15000 },
    metrics: { host: '0.0.0.0', port: 15020 },
    readiness: { host: '0.0.0.0', port: 15021 },
    certTtlSeconds: 86_400,
    drainMs: 5000,
    connectTimeoutMs: 10_000,
    sameNodeHandoff: true,
    logLevel: 'info',
  });
});

t.test('same-node handoff: on by default, off by flag or environment, bad values named', async (t) => {
  const cases: Array<[Parameters<typeof resolveConfig>[0], Record<string, string>, boolean]> = [
    [{}, {}, true],
    [{ sameNodeHandoff: false }, {}, false],
    [{}, { AMBIT_SAME_NODE_HANDOFF: 'false' }, false],
    [{}, { AMBIT_SAME_NODE_HANDOFF: '1' }, true],
    [{ sameNodeHandoff: false }, { AMBIT_SAME_NODE_HANDOFF: 'true' }, false],
  ];
  for (const [flags, env, want] of cases) t.equal(resolveConfig(flags, env).sameNodeHandoff, want, `${JSON.stringify(flags)} ${JSON.stringify(env)}`);
  t.match((t.throws(() => resolveConfig({}, { AMBIT_SAME_NODE_HANDOFF: 'sometimes' })) as ConfigError).problems, [/^environment AMBIT_SAME_NODE_HANDOFF: "sometimes" is not a boolean/]);
});

t.test('flags win over the environment, which wins over defaults', async (t) => {
  const env = { XDS_ADDRESS: '10.0.0.1:15012', CA_ADDRESS: '10.0.0.2:15012', TRUST_DOMAIN: 'env.example', SECRET_TTL: '1h', AMBIT_NODE_CREDENTIAL: 'tok' };
  const c = resolveConfig({ trustDomain: 'flag.example', adminAddress: '0', metricsAddress: '127.0.0.1:0', drain: '250ms' }, env);
  t.equal(c.xdsAddress, '10.0.0.1:15012');
  t.equal(c.caAddress, '10.0.0.2:15012');
  t.equal(c.trustDomain, 'flag.example');
  t.equal(c.certTtlSeconds, 3600);
  t.same(c.admin, { host: '127.0.0.1', port: 0 }, 'admin stays on localhost');
  t.same(c.metrics, { host: '127.0.0.1', port: 0 });
  t.equal(c.drainMs, 250);
  t.equal(c.credential, 'tok');
  t.equal(c.credentialPath, undefined, 'no default file when the credential is given');
  t.equal(resolveConfig({ xdsAddress: '[fd00::1]:15012' }, {}).caAddress, '[fd00::1]:15012', 'CA defaults to the xDS address');
});

t.test('bad input names the flag or field', async (t) => {
  const bad: Array<[Parameters<typeof resolveConfig>[0], RegExp]> = [
    [{ xdsAddress: 'no-port' }, /--xds-address: must be host:port/],
    [{ trustDomain: 'Bad Domain!' }, /--trust-domain: /],
    [{ metricsAddress: 'x:y' }, /--metrics-address: "x:y" is not a listen address/],
    [{ certTtl: 'soon' }, /--cert-ttl: "soon" is not a duration/],
    [{ logLevel: 'loud' }, /--log-level: "loud" is not a log level/],
  ];
  for (const [flags, msg] of bad) t.throws(() => resolveConfig(flags, {}), { name: 'ConfigError', message: msg }, JSON.stringify(flags));
  t.throws(() => parseDuration('-1s', 'x'), ConfigError);
  t.same(parseListenAddress('[::1]:15000', 'x'), { host: '::1', port: 15000 });
});

t.test('a bad flag and a bad environment variable are each named as the user typed them', async (t) => {
  const flag = t.throws(() => resolveConfig({ drain: '5' }, {})) as ConfigError;
  t.same(flag.problems, ['--drain: "5" is not a duration; add a unit, e.g. 5s'], 'a bare number is no longer seconds');
  const env = t.throws(() => resolveConfig({}, { SECRET_TTL: '3600' })) as ConfigError;
  t.same(env.problems, ['environment SECRET_TTL: "3600" is not a duration; add a unit, e.g. 3600s']);
  t.match((t.throws(() => resolveConfig({}, { CA_ADDRESS: 'no-port' })) as ConfigError).problems, [/^environment CA_ADDRESS: must be host:port/]);
  t.match((t.throws(() => resolveConfig({}, { XDS_ADDRESS: 'no-port' })) as ConfigError).problems, [/^environment XDS_ADDRESS: must be host:port/, /^environment XDS_ADDRESS: must be host:port/], 'the CA address defaults to the xDS one, and says so');
  t.match((t.throws(() => resolveConfig({}, { AMBIT_LOG_LEVEL: 'loud' })) as ConfigError).problems, [/^environment AMBIT_LOG_LEVEL: "loud" is not a log level/]);
  t.match((t.throws(() => resolveConfig({ drain: '-1s', connectTimeout: 'soon' }, {})) as ConfigError).problems, [/^--drain: /, /^--connect-timeout: /], 'every problem at once');
  t.equal(resolveConfig({}, { AMBIT_LOG_LEVEL: 'debug' }).logLevel, 'debug');
  t.equal(resolveConfig({}, { CONNECTION_TERMINATION_DEADLINE: '1m30s' }).drainMs, 90_000);
});
