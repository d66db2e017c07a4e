import t from 'tap';
import { CniError, parsePluginOutput, pluginEnv, pluginStdin, podAddress, renderConflist } from './cni-conf.js';

const conf = { podCIDR: '10.244.2.0/24', gateway: '10.244.2.1', ipamDataDir: '/state/cni/node-2/ipam' };

t.test('renderConflist: bridge + host-local, extra plugins chained after', async (t) => {
  const l = renderConflist(conf);
  t.equal(l.cniVersion, '1.0.0');
  t.equal(l.name, 'ambit');
  t.same(l.plugins, [
    {
      type: 'bridge',
      bridge: 'cni0',
      isGateway: true,
      ipMasq: false,
      hairpinMode: true,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.244.2.0/24', gateway: '10.244.2.1' }]],
        routes: [{ dst: '0.0.0.0/0' }],
        dataDir: '/state/cni/node-2/ipam',
      },
    },
  ]);
  const chained = renderConflist({ ...conf, extraPlugins: [{ type: 'ambit-cni', agentSocket: '/run/x.sock' }] });
  t.same(chained.plugins.map((p) => p.type), ['bridge', 'ambit-cni']);
  t.throws(() => renderConflist({ ...conf, extraPlugins: [{ type: '../evil' }] }), /extraPlugins\[0\].type/);
});

t.test('pluginEnv: what a runtime sets', async (t) => {
  const env = pluginEnv('ADD', { containerId: 'c1', netnsPath: '/var/run/netns/p', ifname: 'eth0', args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'web' } }, ['/usr/lib/cni', '/opt/cni/bin']);
  t.same(env, {
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'c1',
    CNI_NETNS: '/var/run/netns/p',
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/usr/lib/cni:/opt/cni/bin',
    CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web',
  });
  t.throws(() => pluginEnv('DEL', { containerId: 'c', netnsPath: '', ifname: 'eth0', args: { A: 'x;y' } }, []), /CNI_ARGS A=x;y/);
});

t.test('pluginStdin injects name, version and prevResult', async (t) => {
  const l = renderConflist({ ...conf, extraPlugins: [{ type: 'ambit-cni' }] });
  const first = JSON.parse(pluginStdin(l, l.plugins[0]!)) as Record<string, unknown>;
  t.equal(first.name, 'ambit');
  t.equal(first.cniVersion, '1.0.0');
  t.notOk('prevResult' in first);
  const prev = { cniVersion: '1.0.0', ips: [{ address: '10.244.2.5/24' }] };
  const second = JSON.parse(pluginStdin(l, l.plugins[1]!, prev)) as Record<string, unknown>;
  t.same(second, { type: 'ambit-cni', cniVersion: '1.0.0', name: 'ambit', prevResult: prev });
});

t.test('parsePluginOutput: errors name plugin, pod and message', async (t) => {
  const ctx = { plugin: 'bridge', command: 'ADD' as const, pod: 'default/web' };
  const err = t.throws(() => parsePluginOutput(ctx, 1, '{"code":4,"msg":"failed to open netns","details":"no such file"}', '')) as unknown;
  t.ok(err instanceof CniError);
  const e = err as CniError;
  t.equal(e.message, 'CNI ADD of pod default/web failed in plugin bridge (code 4): failed to open netns: no such file');
  t.same(e.info, { ...ctx, code: 4, msg: 'failed to open netns', details: 'no such file' });
  t.throws(() => parsePluginOutput(ctx, 2, 'not json', 'panic: boom\n'), /plugin bridge: panic: boom/);
  t.throws(() => parsePluginOutput(ctx, 0, 'garbage', ''), /printed no JSON result/);
  t.throws(() => parsePluginOutput(ctx, 0, '{"ips":[]}', ''), /not a CNI result/);
  t.equal(parsePluginOutput({ ...ctx, command: 'DEL' }, 0, '', ''), undefined);
  const r = parsePluginOutput(ctx, 0, '{"cniVersion":"1.0.0","ips":[],"extra":1}', '');
  t.same(r, { cniVersion: '1.0.0', ips: [], extra: 1 }, 'unknown fields kept for the next plugin');
});

t.test('podAddress picks the sandbox interface', async (t) => {
  const result = {
    cniVersion: '1.0.0',
    interfaces: [
      { name: 'cni0', mac: '11:11:11:11:11:11' },
      { name: 'veth1', mac: '22:22:22:22:22:22' },
      { name: 'eth0', mac: '33:33:33:33:33:33', sandbox: '/var/run/netns/p' },
    ],
    ips: [{ address: '10.244.1.7/24', gateway: '10.244.1.1', interface: 2 }],
  };
  t.same(podAddress(result, 'eth0'), { ip: '10.244.1.7', prefixLength: 24, gateway: '10.244.1.1', mac: '33:33:33:33:33:33', ifname: 'eth0' });
  t.throws(() => podAddress({ cniVersion: '1.0.0' }, 'eth0'), /no IPv4 address/);
});
