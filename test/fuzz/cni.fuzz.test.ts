// The CNI plugin's stdin and environment as a container runtime hands them over, arbitrary and
// almost-valid. The plugin answers with a CNI result or a CNI error whose code says what was
// wrong — never code 103 (its own internal error), and never output that is not JSON.
import fc from 'fast-check';
import t from 'tap';
import { runPlugin, type AgentCall } from '../../cni/plugin/plugin.js';
import { Code, PluginError, parseArgs } from '../../cni/plugin/spec.js';
import { fuzz, fuzzAsync, refusesOnly } from './harness.js';

// An agent that enrols everything: the property is about the plugin's own handling of its input.
const agent: AgentCall = async (_s, _m, path) => ({ status: 200, body: path.includes('status') ? { ready: true } : { status: 'enrolled' } });

const anyJson = fc.jsonValue({ maxDepth: 3 });
/** Mostly the valid value, sometimes anything: deep paths are only reached when the rest is right. */
const mostly = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: fc.constant(null), weight: 1 }, { arbitrary: anyJson, weight: 1 });
const ip = fc.record({ address: mostly(fc.constantFrom('10.244.1.5/24', 'fd00::5/64')), gateway: mostly(fc.constant('10.244.1.1')), interface: mostly(fc.nat(3)), version: mostly(fc.constantFrom('4', '6')) }, { requiredKeys: [] });
const prevResult = mostly(
  fc.record({ cniVersion: fc.constantFrom('1.0.0', '0.4.0'), interfaces: mostly(fc.array(mostly(fc.record({ name: mostly(fc.constant('eth0')) })), { maxLength: 3 })), ips: mostly(fc.array(mostly(ip), { maxLength: 3 })) }, { requiredKeys: [] }),
);
const config = fc.record(
  {
    cniVersion: mostly(fc.constantFrom('0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0', '2.0.0', '')),
    name: mostly(fc.constant('ambit')),
    type: fc.constant('ambit-cni'),
    agentSocket: mostly(fc.constant('/run/ambit/cni.sock')),
    timeoutSeconds: mostly(fc.double({ min: 0, max: 1000, noNaN: true })),
    excludeNamespaces: mostly(fc.array(fc.string(), { maxLength: 3 })),
    logLevel: mostly(fc.constantFrom('debug', 'info', 'warn', 'error', 'silent')),
    prevResult,
  },
  { requiredKeys: ['cniVersion', 'name', 'prevResult'] },
);
const stdin = fc.oneof(config.map((c) => JSON.stringify(c)), fc.string({ maxLength: 60 }), anyJson.map((j) => JSON.stringify(j)));
const command = fc.oneof({ arbitrary: fc.constantFrom('ADD', 'CHECK', 'DEL'), weight: 4 }, { arbitrary: fc.constantFrom('STATUS', 'VERSION', 'GC', 'add', ''), weight: 1 });
const cniArgs = fc.oneof(fc.constant('IgnoreUnknown=1;K8S_POD_NAMESPACE=mesh;K8S_POD_NAME=web-1;K8S_POD_UID=u1'), fc.string({ maxLength: 40 }));

t.test('runPlugin', async (t) => {
  await fuzzAsync(t, 'cni plugin stdin', [stdin, command, cniArgs], async (input, cmd, args) => {
    const env = { CNI_COMMAND: cmd, CNI_CONTAINERID: 'c0ffee', CNI_NETNS: '/var/run/netns/p1', CNI_IFNAME: 'eth0', CNI_ARGS: args };
    const out = await runPlugin({ env, stdin: input, agent, write: () => {} });
    const parsed = out.stdout === '' ? undefined : (JSON.parse(out.stdout) as { code?: number; msg?: string });
    if (out.exitCode === 0) return;
    if (!parsed || typeof parsed.msg !== 'string' || parsed.msg === '') throw new Error(`error output without a message: ${out.stdout}`);
    if (parsed.code === Code.Internal) throw new Error(`internal error: ${parsed.msg}`);
  }, { weight: 3 });
  fuzz(t, 'cni CNI_ARGS', [fc.string({ maxLength: 80 })], (s) => void refusesOnly(() => parseArgs(s), PluginError), { weight: 2 });
});
