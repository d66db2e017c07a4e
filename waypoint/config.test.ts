import t from 'tap';
import { ConfigError, resolveConfig, waypointIdentity, waypointKey } from './config.js';

const env = { GATEWAY_NAME: 'waypoint', POD_NAMESPACE: 'app', POD_NAME: 'waypoint-abc', XDS_ADDRESS: 'ambit-control.ambit-system.svc:15012' };

t.test('the environment the control plane sets is enough', async (t) => {
  const c = resolveConfig({}, env);
  t.equal(c.gatewayName, 'waypoint');
  t.equal(c.serviceAccount, 'waypoint', 'the service account defaults to the Gateway name');
  t.equal(c.caAddress, 'ambit-control.ambit-system.svc:15012', 'the CA defaults to the xDS address');
  t.same(c.hbone, { host: '0.0.0.0', port: 15008 });
  t.same(c.admin, { host: '127.0.0.1', port: 15000 });
  t.same(c.metrics, { host: '0.0.0.0', port: 15020 });
  t.same(c.readiness, { host: '0.0.0.0', port: 15021 });
  t.equal(c.trustDomain, 'cluster.local');
  t.equal(c.clusterId, 'Kubernetes');
  t.equal(c.redisAddress, undefined);
  t.equal(c.otlpEndpoint, undefined, 'no tracing unless a collector is named');
  t.equal(c.traceSamplingPercent, 100);
  t.equal(resolveConfig({}, { ...env, AMBIT_OTLP_ENDPOINT: 'http://10.240.0.2:15014/v1/traces' }).otlpEndpoint, 'http://10.240.0.2:15014/v1/traces', 'the control plane passes it in the pod environment');
  t.equal(resolveConfig({ traceSampling: '5' }, env).traceSamplingPercent, 5);
  t.equal(waypointKey(c), 'app/waypoint');
  t.equal(waypointIdentity(c), 'spiffe://cluster.local/ns/app/sa/waypoint');
});

t.test('flags win over the environment', async (t) => {
  const c = resolveConfig({ name: 'wp2', serviceAccount: 'sa', redisAddress: 'redis:6379', hboneAddress: ':0', trustDomain: 'example.org' }, { ...env, AMBIT_REDIS_ADDRESS: 'other:1' });
  t.equal(c.gatewayName, 'wp2');
  t.equal(c.redisAddress, 'redis:6379');
  t.equal(c.hbone.port, 0);
  t.equal(waypointIdentity(c), 'spiffe://example.org/ns/app/sa/sa');
});

t.test('errors name what the user typed', async (t) => {
  const rows: Array<[Parameters<typeof resolveConfig>[0], Record<string, string>, RegExp]> = [
    [{}, { POD_NAMESPACE: 'app' }, /--name \(default\): not set; pass --name or set GATEWAY_NAME/],
    [{}, { GATEWAY_NAME: 'w' }, /POD_NAMESPACE/],
    [{ drain: '5' }, env, /--drain/],
    [{}, { ...env, AMBIT_REDIS_ADDRESS: 'nohost' }, /environment AMBIT_REDIS_ADDRESS: must be host:port/],
    [{ hboneAddress: 'x:y' }, env, /--hbone-address/],
    [{ logLevel: 'loud' }, env, /--log-level/],
    [{ name: 'Bad_Name' }, env, /--name: must be a Kubernetes name/],
    [{ otlpEndpoint: 'collector:4318' }, env, /--otlp-endpoint: must be an http:\/\/ or https:\/\/ URL/],
    [{}, { ...env, AMBIT_OTLP_ENDPOINT: 'ftp://x' }, /environment AMBIT_OTLP_ENDPOINT: must be an http/],
    [{ traceSampling: '101' }, env, /--trace-sampling/],
    [{ traceSampling: 'half' }, env, /--trace-sampling: "half" is not a whole number/],
  ];
  for (const [flags, e, want] of rows) {
    let err: unknown;
    try {
      resolveConfig(flags, e);
    } catch (x) {
      err = x;
    }
    t.ok(err instanceof ConfigError, `${want.source}: a ConfigError`);
    t.match((err as Error | undefined)?.message, want);
  }
});
