// Tables for the pure CNI halves: environment, config, versions, results, errors, pod events.
import t from 'tap';
import {
  Code, PluginError, checkVersion, compareVersions, convertResult, errorJson, parseArgs, parseConfig, parseEnv, resultIps, versionJson,
} from './spec.js';
import { parsePodEvent } from './protocol.js';
import { renderWrapper } from '../../lib/cni-plugin/install.js';

const codeOf = (f: () => unknown): number | string => {
  try {
    f();
    return 'no error';
  } catch (e) {
    return e instanceof PluginError ? e.code : `other: ${(e as Error).message}`;
  }
};

t.test('environment', async (t) => {
  const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/p', CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=web-1' };
  t.same(parseEnv(env), { command: 'ADD', containerId: 'c1', netns: '/var/run/netns/p', ifname: 'eth0', args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'demo', K8S_POD_NAME: 'web-1' } });
  const cases: [Record<string, string>, number | string][] = [
    [{ CNI_COMMAND: 'FROB' }, Code.InvalidEnv],
    [{}, Code.InvalidEnv],
    [{ ...env, CNI_NETNS: '' }, Code.InvalidEnv],
    [{ ...env, CNI_COMMAND: 'CHECK', CNI_IFNAME: '' }, Code.InvalidEnv],
    [{ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0' }, 'no error'],
    [{ CNI_COMMAND: 'VERSION' }, 'no error'],
    [{ CNI_COMMAND: 'STATUS' }, 'no error'],
    [{ ...env, CNI_ARGS: 'novalue' }, Code.InvalidEnv],
  ];
  for (const [e, want] of cases) t.equal(codeOf(() => parseEnv(e)), want, JSON.stringify(e));
  t.same(parseArgs('A=1;B=x=y;'), { A: '1', B: 'x=y' });
  t.throws(() => parseEnv({ ...env, CNI_NETNS: '' }), /ADD needs CNI_NETNS in the environment/);
});

t.test('network config', async (t) => {
  const base = { cniVersion: '1.0.0', name: 'ambit', type: 'ambit-cni' };
  const c = parseConfig(JSON.stringify(base), 'ADD');
  t.same(c, { cniVersion: '1.0.0', name: 'ambit', agentSocket: '/var/run/ambit/cni.sock', timeoutMs: 10_000, excludeNamespaces: ['kube-system'], logLevel: 'warn' }, 'defaults');
  const full = parseConfig(JSON.stringify({ ...base, agentSocket: '/run/a.sock', timeoutSeconds: 2.5, excludeNamespaces: [], logLevel: 'debug', prevResult: { ips: [] } }), 'ADD');
  t.same([full.agentSocket, full.timeoutMs, full.excludeNamespaces, full.logLevel, full.prevResult], ['/run/a.sock', 2500, [], 'debug', { ips: [] }]);
  const cases: [string, number | string][] = [
    ['not json', Code.Decoding],
    ['[1]', Code.Decoding],
    [JSON.stringify({ name: 'x' }), Code.InvalidConfig],
    [JSON.stringify({ ...base, cniVersion: '0.2.0' }), Code.IncompatibleVersion],
    [JSON.stringify({ ...base, cniVersion: '9.9.9' }), Code.IncompatibleVersion],
    [JSON.stringify({ ...base, name: '' }), Code.InvalidConfig],
    [JSON.stringify({ ...base, agentSocket: 'rel.sock' }), Code.InvalidConfig],
    [JSON.stringify({ ...base, timeoutSeconds: 0 }), Code.InvalidConfig],
    [JSON.stringify({ ...base, timeoutSeconds: '5' }), Code.InvalidConfig],
    [JSON.stringify({ ...base, excludeNamespaces: 'kube-system' }), Code.InvalidConfig],
    [JSON.stringify({ ...base, logLevel: 'loud' }), Code.InvalidConfig],
    [JSON.stringify({ ...base, prevResult: 'x' }), Code.InvalidConfig],
    // Found by the fuzz tier: a null entry was read as an object and came out as internal error 103.
    [JSON.stringify({ ...base, prevResult: { ips: [null] } }), Code.InvalidConfig],
    [JSON.stringify({ ...base, prevResult: { ips: [1] } }), Code.InvalidConfig],
    [JSON.stringify({ ...base, prevResult: { ips: {} } }), Code.InvalidConfig],
    [JSON.stringify({ ...base, prevResult: { interfaces: [null], ips: [] } }), Code.InvalidConfig],
  ];
  for (const [stdin, want] of cases) t.equal(codeOf(() => parseConfig(stdin, 'ADD')), want, stdin);
  t.throws(() => parseConfig(JSON.stringify({ ...base, timeoutSeconds: -1 }), 'ADD'), /field timeoutSeconds must be a number of seconds/);
  t.throws(() => parseConfig(JSON.stringify({ ...base, prevResult: { ips: [{}, null] } }), 'ADD'), /field prevResult must have objects in ips, got ips\[1\] null/);
  t.same(parseConfig(JSON.stringify({ ...base, storeDir: '/var/lib/ambit/store' }), 'ADD').storeDir, '/var/lib/ambit/store', 'storeDir');
  t.same(parseConfig(JSON.stringify({ ...base, kubeconfig: '/etc/ambit/kubeconfig' }), 'ADD').kubeconfig, '/etc/ambit/kubeconfig', 'kubeconfig');
  t.throws(() => parseConfig(JSON.stringify({ ...base, storeDir: 'store' }), 'ADD'), /network "ambit": field storeDir must be an absolute path, got "store"/);
  t.throws(() => parseConfig(JSON.stringify({ ...base, kubeconfig: 3 }), 'ADD'), /field kubeconfig must be an absolute path, got 3/);
  t.throws(() => parseConfig(JSON.stringify({ ...base, storeDir: '/s', kubeconfig: '/k' }), 'ADD'), /field kubeconfig cannot be given with storeDir/);
});

t.test('versions per command', async (t) => {
  t.equal(compareVersions('0.3.1', '0.4.0'), -1);
  t.equal(compareVersions('1.1.0', '1.0.0'), 1);
  t.equal(compareVersions('1.0.0', '1.0.0'), 0);
  t.equal(codeOf(() => checkVersion('0.3.1', 'CHECK')), Code.IncompatibleVersion, 'CHECK needs 0.4.0');
  t.equal(codeOf(() => checkVersion('0.4.0', 'CHECK')), 'no error');
  t.equal(codeOf(() => checkVersion('1.0.0', 'STATUS')), Code.IncompatibleVersion, 'STATUS needs 1.1.0');
  t.equal(codeOf(() => checkVersion('1.1.0', 'GC')), 'no error');
  t.same(JSON.parse(versionJson('0.4.0')), { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
});

t.test('results convert between 0.x and 1.x; pod IPs are read from them', async (t) => {
  const v1 = { cniVersion: '1.0.0', interfaces: [{ name: 'cni0' }, { name: 'eth0', sandbox: '/x' }], ips: [{ address: '10.244.1.5/24', gateway: '10.244.1.1', interface: 1 }, { address: 'fd00::5/64' }], dns: {} };
  t.same(convertResult(v1, '0.4.0').ips, [
    { address: '10.244.1.5/24', gateway: '10.244.1.1', interface: 1, version: '4' }, { address: 'fd00::5/64', version: '6' },
  ], 'down to 0.4.0: ips get a version');
  const v04 = convertResult(v1, '0.4.0');
  t.equal(v04.cniVersion, '0.4.0');
  t.same(convertResult(v04, '1.1.0').ips, v1.ips, 'up to 1.x: version dropped');
  t.same(convertResult({ cniVersion: '1.0.0' }, '1.0.0'), { cniVersion: '1.0.0' }, 'a result without ips passes as is');
  t.same(resultIps(v1), [{ address: '10.244.1.5/24', gateway: '10.244.1.1', interface: 'eth0' }, { address: 'fd00::5/64' }]);
  t.same(resultIps(undefined), []);
});

t.test('error objects', async (t) => {
  t.same(JSON.parse(errorJson('0.4.0', new PluginError(11, 'later', 'why'))), { cniVersion: '0.4.0', code: 11, msg: 'later', details: 'why' });
  t.same(JSON.parse(errorJson('0.2.0', new PluginError(1, 'old'))), { cniVersion: '1.1.0', code: 1, msg: 'old' }, 'an unsupported version answers in ours');
});

t.test('pod events (agent side) name the bad field', async (t) => {
  const ev = { podName: 'web-1', podNamespace: 'demo', netns: '/var/run/netns/p', containerId: 'c', ifname: 'eth0', ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 'eth0' }], podUid: 'u1' };
  t.same(parsePodEvent(ev), ev);
  const { podUid: _uid, ...noUid } = ev;
  t.same(parsePodEvent({ ...ev, ips: undefined, podUid: '' }), { ...noUid, ips: [] }, 'no ips and an empty uid');
  t.throws(() => parsePodEvent({ ...ev, podName: 3 }), /field podName/);
  t.throws(() => parsePodEvent({ ...ev, ips: [{}] }), /ips\[0\]\.address/);
  t.throws(() => parsePodEvent([]), /JSON object/);
  t.same(parsePodEvent({ ...ev, netns: '' }).netns, '', 'DEL after the sandbox is gone: empty netns accepted');
});

t.test('shell wrapper', async (t) => {
  t.equal(renderWrapper('/opt/ambit/node', "/opt/it's/main.js"),
    "#!/bin/sh\n# ambit-cni: the Ambit CNI plugin (chained after the node's main CNI plugin)\nexec '/opt/ambit/node' '/opt/it'\\''s/main.js' \"$@\"\n");
});
