import t from 'tap';
import { parseListenAddress } from '../lib/config/address.js';
import { parseDuration } from '../lib/config/duration.js';
import { ConfigError, resolveConfig } from './config.js';

t.test('durations', async (t) => {
  const table: Array<[string, number]> = [['50ms', 50], ['1.5s', 1500], ['10m', 600_000], ['24h', 86_400_000], ['90d', 7_776_000_000], ['0', 0]];
  for (const [text, ms] of table) t.equal(parseDuration(text, '--x'), ms, text);
  for (const bad of ['', '5', 'ten s', '-1s', '1y']) t.throws(() => parseDuration(bad, '--debounce-quiet'), { message: /--debounce-quiet: .* is not a duration/ }, JSON.stringify(bad));
});

t.test('listen addresses', async (t) => {
  const table: Array<[string, string, number]> = [['127.0.0.1:0', '127.0.0.1', 0], [':15012', '0.0.0.0', 15012], ['15014', '0.0.0.0', 15014], ['[::1]:9', '::1', 9], ['localhost:80', 'localhost', 80]];
  for (const [text, host, port] of table) t.same(parseListenAddress(text, '--a'), { host, port }, text);
  for (const bad of ['host:', 'a:b', ':70000', '1.2.3.4:-1']) t.throws(() => parseListenAddress(bad, '--grpc-address'), { message: /--grpc-address/ }, bad);
});

t.test('defaults follow the state directory and Istio', async (t) => {
  const c = resolveConfig({ stateDir: '/s' }, {});
  t.match(c, {
    stateDir: '/s', storeDir: '/s/store', caDir: '/s/ca', credentialsDir: '/s/credentials', trustDomain: 'cluster.local', clusterId: 'Kubernetes',
    namespace: 'istio-system', rootNamespace: 'istio-system', grpc: { host: '0.0.0.0', port: 15012 }, monitoring: { port: 15014 }, readiness: { port: 15021 },
    debounce: { quietMs: 50, maxMs: 500 }, defaultCertTtlSeconds: 86_400, maxCertTtlSeconds: 7_776_000, writeStatus: true,
  });
});

t.test('flags win over the environment, which wins over defaults', async (t) => {
  const env = { AMBIT_STATE_DIR: '/e', TRUST_DOMAIN: 'env.example', CLUSTER_ID: 'c-env', PILOT_DEBOUNCE_AFTER: '10ms', POD_NAMESPACE: 'ambit', AMBIENT_ENABLE_STATUS: 'false', POD_NAME: 'control-0' };
  const c = resolveConfig({ trustDomain: 'flag.example' }, env);
  t.match(c, { stateDir: '/e', trustDomain: 'flag.example', clusterId: 'c-env', namespace: 'ambit', rootNamespace: 'ambit', debounce: { quietMs: 10 }, writeStatus: false, controlPlaneId: 'control-0' });
  t.equal(resolveConfig({ stateDir: '/s', status: true }, env).writeStatus, true);
});

t.test('every problem is reported at once, naming the flag and its source', async (t) => {
  const err = t.throws(() => resolveConfig({ stateDir: '/s', grpcAddress: 'nope:x', trustDomain: 'Bad Domain', debounceQuiet: '2s', defaultCertTtl: '100d' }, { PILOT_DEBOUNCE_MAX: 'soon' })) as ConfigError;
  t.ok(err instanceof ConfigError);
  t.match(err.message, /--grpc-address: "nope:x"/);
  t.match(err.message, /environment PILOT_DEBOUNCE_MAX: "soon" is not a duration/);
  t.match(err.message, /--trust-domain: /);
  t.match(err.message, /--default-cert-ttl: must not exceed/);
});

t.test('a bad flag and a bad environment variable are each named as the user typed them', async (t) => {
  const flag = t.throws(() => resolveConfig({ stateDir: '/s', debounceQuiet: '5' }, {})) as ConfigError;
  t.same(flag.problems, ['--debounce-quiet: "5" is not a duration; add a unit, e.g. 5s']);
  const env = t.throws(() => resolveConfig({ stateDir: '/s' }, { PILOT_DEBOUNCE_AFTER: '5' })) as ConfigError;
  t.same(env.problems, ['environment PILOT_DEBOUNCE_AFTER: "5" is not a duration; add a unit, e.g. 5s']);
  const level = t.throws(() => resolveConfig({ stateDir: '/s' }, { AMBIT_LOG_LEVEL: 'loud' })) as ConfigError;
  t.match(level.problems, [/^environment AMBIT_LOG_LEVEL: "loud" is not a log level/]);
  t.match((t.throws(() => resolveConfig({ stateDir: '/s', logLevel: 'loud' }, {})) as ConfigError).problems, [/^--log-level: "loud"/]);
  t.match((t.throws(() => resolveConfig({ stateDir: '/s' }, { AMBIT_GRPC_ADDRESS: 'x:y' })) as ConfigError).problems, [/^environment AMBIT_GRPC_ADDRESS: "x:y" is not a listen address/]);
  t.match((t.throws(() => resolveConfig({ stateDir: '/s' }, { PILOT_PUSH_THROTTLE: 'many' })) as ConfigError).problems, [/^environment PILOT_PUSH_THROTTLE: "many" is not a whole number/]);
  t.match((t.throws(() => resolveConfig({ stateDir: '/s' }, { TRUST_DOMAIN: 'Bad Domain' })) as ConfigError).problems, [/^environment TRUST_DOMAIN: /], 'zod issues too');
  t.equal(resolveConfig({ stateDir: '/s' }, { AMBIT_LOG_LEVEL: 'debug' }).logLevel, 'debug');
  t.equal(resolveConfig({ stateDir: '/s', logLevel: 'warn' }, { AMBIT_LOG_LEVEL: 'debug' }).logLevel, 'warn');
});

t.test('Kubernetes mode: --kubeconfig, KUBECONFIG or a pod; a File store named on the command line wins over the environment', async (t) => {
  t.equal(resolveConfig({ stateDir: '/s' }, {}).kube, undefined, 'File mode by default');
  t.equal(resolveConfig({ stateDir: '/s' }, { KUBECONFIG: '/k' }).kube, undefined, 'ambit up names its state dir: a KUBECONFIG in the shell does not change the mode');
  t.same(resolveConfig({ kubeconfig: '/k' }, {}).kube, { kubeconfig: '/k', tokenAudience: 'ambit-control', nodeAccounts: ['istio-system/ztunnel'] });
  t.same(resolveConfig({}, { KUBECONFIG: '/a:/b', POD_NAMESPACE: 'ambit' }).kube, { tokenAudience: 'ambit-control', nodeAccounts: ['ambit/ztunnel'] }, 'KUBECONFIG is left to the store to resolve');
  const pod = resolveConfig({ tokenAudience: 'mesh' }, { KUBERNETES_SERVICE_HOST: '10.96.0.1', CA_TRUSTED_NODE_ACCOUNTS: 'istio-system/ztunnel, kube-system/agent' });
  t.same(pod.kube, { tokenAudience: 'mesh', nodeAccounts: ['istio-system/ztunnel', 'kube-system/agent'] });
  t.equal(pod.leaderElection.enabled, true, 'replicas elect a leader in Kubernetes mode');
  t.equal(resolveConfig({ stateDir: '/s' }, {}).leaderElection.enabled, false, 'one control plane in File mode leads alone');
  t.match((t.throws(() => resolveConfig({ kubeconfig: '/k' }, { CA_TRUSTED_NODE_ACCOUNTS: 'ztunnel' })) as ConfigError).problems, [/^environment CA_TRUSTED_NODE_ACCOUNTS.*must be namespace\/serviceAccount/]);
});

t.test('waypoint pods are given the xDS address: the listen host, else the Service name, else what is set', async (t) => {
  const table: Array<[string, Record<string, string>, Record<string, string>, string]> = [
    ['all interfaces', {}, {}, 'istiod.istio-system.svc:15012'],
    ['all interfaces, own namespace', { namespace: 'ambit' }, {}, 'istiod.ambit.svc:15012'],
    ['one host', { grpcAddress: '10.0.0.2:15012' }, {}, '10.0.0.2:15012'],
    ['an IPv6 host', { grpcAddress: '[fd00::2]:15012' }, {}, '[fd00::2]:15012'],
    ['the environment', {}, { AMBIT_WAYPOINT_XDS_ADDRESS: 'cp.example:443' }, 'cp.example:443'],
    ['the flag over the environment', { waypointXdsAddress: 'flag:1' }, { AMBIT_WAYPOINT_XDS_ADDRESS: 'env:2' }, 'flag:1'],
  ];
  for (const [name, flags, env, want] of table) t.equal(resolveConfig({ stateDir: '/s', ...flags }, env).waypointXdsAddress, want, name);
  t.equal(resolveConfig({ stateDir: '/s' }, {}).deploymentController, true, 'the deployment controller runs by default');
  t.equal(resolveConfig({ stateDir: '/s', deploymentController: false }, {}).deploymentController, false, '--no-deployment-controller');
  t.equal(resolveConfig({ stateDir: '/s' }, { PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER: 'false' }).deploymentController, false, 'Istio\'s variable');
  const err = t.throws(() => resolveConfig({ stateDir: '/s' }, { PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER: 'maybe' })) as Error;
  t.match(err.message, /environment PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER: "maybe" is not a boolean/);
});

t.test('dashboard: loopback by default, a remote address only when allowed, scrape interval, Prometheus URL', async (t) => {
  const c = resolveConfig({ stateDir: '/s' }, {});
  t.same(c.dashboard, { host: '127.0.0.1', port: 20001 });
  t.equal(c.dashboardAllowRemote, false);
  t.equal(c.scrapeIntervalMs, 5000);
  t.equal(c.prometheusUrl, undefined);
  const good: Array<[string, { host: string; port: number }]> = [['127.0.0.1:0', { host: '127.0.0.1', port: 0 }], ['[::1]:20001', { host: '::1', port: 20001 }], ['localhost:9', { host: 'localhost', port: 9 }]];
  for (const [addr, want] of good) t.same(resolveConfig({ stateDir: '/s', dashboardAddress: addr }, {}).dashboard, want, addr);
  for (const addr of [':20001', '10.0.0.1:20001', '0.0.0.0:1']) {
    const err = t.throws(() => resolveConfig({ stateDir: '/s', dashboardAddress: addr }, {})) as ConfigError;
    t.match(err.problems, [/^--dashboard-address: .* is not a loopback address; .* pass --dashboard-allow-remote/], addr);
  }
  t.same(resolveConfig({ stateDir: '/s', dashboardAddress: ':20001', dashboardAllowRemote: true }, {}).dashboard, { host: '0.0.0.0', port: 20001 });
  t.equal(resolveConfig({ stateDir: '/s', scrapeInterval: '2s', prometheusUrl: 'http://127.0.0.1:9090' }, {}).scrapeIntervalMs, 2000);
  t.equal(resolveConfig({ stateDir: '/s' }, { AMBIT_PROMETHEUS_URL: 'http://prom:9090/' }).prometheusUrl, 'http://prom:9090/');
  t.match((t.throws(() => resolveConfig({ stateDir: '/s', prometheusUrl: 'ftp://x' }, {})) as ConfigError).problems, [/^--prometheus-url: .*http/]);
  t.match((t.throws(() => resolveConfig({ stateDir: '/s', scrapeInterval: '10ms' }, {})) as ConfigError).problems, [/^--scrape-interval: /]);
});
