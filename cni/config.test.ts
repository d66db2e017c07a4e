import t from 'tap';
import { parseListenAddress } from '../lib/config/address.js';
import { parseDuration } from '../lib/config/duration.js';
import { ConfigError, resolveConfig } from './config.js';

t.test('defaults', async (t) => {
  const c = resolveConfig({ node: 'node-1' });
  t.same(c, {
    node: 'node-1',
    stateDir: '/var/lib/ambit',
    storeDir: '/var/lib/ambit/store',
    cniSocket: '/var/run/ambit/cni.sock',
    zdsSocket: '/var/run/ztunnel/ztunnel.sock',
    metrics: { host: '0.0.0.0', port: 15014 },
    excludeNamespaces: ['kube-system', 'istio-system'],
    dnsCapture: true,
    redirectBackend: 'auto',
    probeBackend: 'auto',
    probeIpv6: false,
    zdsAckTimeoutMs: 5000,
    logLevel: 'info',
  });
});

t.test('flags and environment', async (t) => {
  const c = resolveConfig({
    stateDir: '/tmp/s', cniSocket: '/tmp/s/cni.sock', zdsSocket: '/tmp/s/zds.sock', metricsAddress: '127.0.0.1:0',
    excludeNamespaces: 'kube-system, ambit-system,', dnsCapture: false, redirectBackend: 'nft', probeBackend: 'ipset', probeIpv6: true,
    nodeNetns: 'tnode', zdsAckTimeout: '2s',
  }, { NODE_NAME: 'node-2', AMBIENT_DNS_CAPTURE: 'true' });
  t.match(c, {
    node: 'node-2', storeDir: '/tmp/s/store', metrics: { host: '127.0.0.1', port: 0 }, excludeNamespaces: ['kube-system', 'ambit-system'],
    dnsCapture: false, redirectBackend: 'nft', probeBackend: 'ipset', probeIpv6: true, nodeNetns: 'tnode', zdsAckTimeoutMs: 2000,
  });
  t.equal(resolveConfig({ node: 'n' }, { AMBIENT_DNS_CAPTURE: 'false' }).dnsCapture, false, 'environment when no flag');
  t.same(resolveConfig({ node: 'n', excludeNamespaces: '' }).excludeNamespaces, [], 'an empty list excludes nothing');
  t.equal(resolveConfig({ node: 'n', storeDir: '/x' }).storeDir, '/x');
});

t.test('bad input names the flag', async (t) => {
  const bad: Array<[Parameters<typeof resolveConfig>[0], RegExp, NodeJS.ProcessEnv?]> = [
    [{}, /--node is required/],
    [{ node: 'Node_1' }, /--node: must be a lowercase DNS name/],
    [{ node: 'n', cniSocket: 'relative.sock' }, /--cni-socket: must be an absolute path/],
    [{ node: 'n', zdsSocket: `/${'x'.repeat(120)}` }, /--zds-socket: is longer than the 107 bytes/],
    [{ node: 'n', metricsAddress: 'localhost:99999' }, /--metrics-address: "localhost:99999" is not a listen address/],
    [{ node: 'n', redirectBackend: 'ebpf' }, /--redirect-backend: /],
    [{ node: 'n', excludeNamespaces: 'ok,Not OK' }, /--exclude-namespaces\[1\]: must be a lowercase DNS name/],
    [{ node: 'n', zdsAckTimeout: '5' }, /--zds-ack-timeout: "5" is not a duration/],
    [{ node: 'n', zdsAckTimeout: '10ms' }, /--zds-ack-timeout: /],
    [{ node: 'n' }, /AMBIENT_DNS_CAPTURE: "maybe" is not a boolean/, { AMBIENT_DNS_CAPTURE: 'maybe' }],
  ];
  for (const [flags, re, env] of bad) t.throws(() => resolveConfig(flags, env), re, re.source);
  t.throws(() => resolveConfig({}), ConfigError);
});

t.test('address and duration parsing', async (t) => {
  t.same(parseListenAddress(':15014', 'x'), { host: '0.0.0.0', port: 15014 });
  t.same(parseListenAddress('15014', 'x'), { host: '0.0.0.0', port: 15014 });
  t.same(parseListenAddress('[::1]:0', 'x'), { host: '::1', port: 0 });
  t.equal(parseDuration('500ms', 'x'), 500);
  t.equal(parseDuration('1.5s', 'x'), 1500);
  t.equal(parseDuration('1m', 'x'), 60_000);
});

t.test('a bad flag and a bad environment variable are each named as the user typed them', async (t) => {
  const flag = t.throws(() => resolveConfig({ node: 'n', zdsAckTimeout: '5' }, {})) as ConfigError;
  t.same(flag.problems, ['--zds-ack-timeout: "5" is not a duration; add a unit, e.g. 5s']);
  const env = t.throws(() => resolveConfig({}, { NODE_NAME: 'Node_1' })) as ConfigError;
  t.match(env.problems, [/^environment NODE_NAME: must be a lowercase DNS name/]);
  t.match((t.throws(() => resolveConfig({ node: 'n' }, { AMBIT_LOG_LEVEL: 'loud' })) as ConfigError).problems, [/^environment AMBIT_LOG_LEVEL: "loud" is not a log level/]);
  t.match((t.throws(() => resolveConfig({ node: 'n', logLevel: 'loud' }, {})) as ConfigError).problems, [/^--log-level: "loud" is not a log level/]);
  t.match((t.throws(() => resolveConfig({ node: 'n' }, { AMBIT_CNI_EXCLUDE_NAMESPACES: 'ok,Not OK' })) as ConfigError).problems, [/^environment AMBIT_CNI_EXCLUDE_NAMESPACES\[1\]: /]);
  t.equal(resolveConfig({ node: 'n' }, { AMBIT_LOG_LEVEL: 'debug' }).logLevel, 'debug');
});

t.test('Kubernetes mode: --kubeconfig, or KUBECONFIG / a pod when no File store is named', async (t) => {
  t.equal(resolveConfig({ node: 'n' }, {}).kube, undefined);
  t.same(resolveConfig({ node: 'n', kubeconfig: '/k' }, {}).kube, { kubeconfig: '/k' });
  t.same(resolveConfig({ node: 'n' }, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }).kube, {}, 'in a pod: its service account');
  t.same(resolveConfig({ node: 'n' }, { KUBECONFIG: '/a:/b' }).kube, {}, 'KUBECONFIG is resolved by the store');
  t.equal(resolveConfig({ node: 'n', stateDir: '/s' }, { KUBECONFIG: '/k' }).kube, undefined, 'ambit up names its state dir and stays on the File store');
});

t.test('its own pod, from the Downward API', async (t) => {
  t.same(resolveConfig({ node: 'n' }, { POD_NAMESPACE: 'ambit-system', POD_NAME: 'ambit-cni-node-x' }).pod, { namespace: 'ambit-system', name: 'ambit-cni-node-x' });
  t.equal(resolveConfig({ node: 'n' }, { POD_NAMESPACE: 'ambit-system' }).pod, undefined, 'both or nothing');
  t.throws(() => resolveConfig({ node: 'n' }, { POD_NAMESPACE: 'ambit-system', POD_NAME: 'Bad_Name' }), /pod\.name/);
});
