import t from 'tap';
import { ConfigError, parseDuration, parseListenAddress, resolveConfig } from './config.js';

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
    logLevel: 'info',
  });
});

t.test('flags win over the environment, which wins over defaults', async (t) => {
  const env = { XDS_ADDRESS: '10.0.0.1:15012', CA_ADDRESS: '10.0.0.2:15012', TRUST_DOMAIN: 'env.example', SECRET_TTL: '3600', AMBIT_NODE_CREDENTIAL: 'tok' };
  const c = resolveConfig({ trustDomain: 'flag.example', adminAddress: '0', metricsAddress: '127.0.0.1:0', drain: '250ms' }, env);
  t.equal(c.xdsAddress, '10.0.0.1:15012');
  t.equal(c.caAddress, '10.0.0.2:15012');
  t.equal(c.trustDomain, 'flag.example');
  t.equal(c.certTtlSeconds, 3600, 'a bare number is seconds, as Istio');
  t.same(c.admin, { host: '127.0.0.1', port: 0 }, 'admin stays on localhost');
  t.same(c.metrics, { host: '127.0.0.1', port: 0 });
  t.equal(c.drainMs, 250);
  t.equal(c.credential, 'tok');
  t.equal(c.credentialPath, undefined, 'no default file when the credential is given');
  t.equal(resolveConfig({ xdsAddress: '[fd00::1]:15012' }, {}).caAddress, '[fd00::1]:15012', 'CA defaults to the xDS address');
});

t.test('bad input names the flag or field', async (t) => {
  const bad: Array<[Parameters<typeof resolveConfig>[0], RegExp]> = [
    [{ xdsAddress: 'no-port' }, /xdsAddress: must be host:port/],
    [{ trustDomain: 'Bad Domain!' }, /trustDomain/],
    [{ metricsAddress: 'x:y' }, /--metrics-address: "x:y" is not a listen address/],
    [{ certTtl: 'soon' }, /--cert-ttl: "soon" is not a duration/],
    [{ logLevel: 'loud' }, /logLevel/],
  ];
  for (const [flags, msg] of bad) t.throws(() => resolveConfig(flags, {}), { name: 'ConfigError', message: msg }, JSON.stringify(flags));
  t.throws(() => parseDuration('-1s', 'x'), ConfigError);
  t.same(parseListenAddress('[::1]:15000', 'x'), { host: '::1', port: 15000 });
});
