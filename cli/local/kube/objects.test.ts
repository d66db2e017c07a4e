import t from 'tap';
import { NODE } from '../../../lib/k8s/types.js';
import { apiserverEndpoints, withoutStartupTaints } from './objects.js';

t.test('start-up taints', async (t) => {
  const node = (taints?: unknown[]) => ({ ...NODE, metadata: { name: 'n' }, spec: taints ? { taints } : {} });
  const notReady = { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' };
  const unreachable = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };
  const own = { key: 'dedicated', value: 'mesh', effect: 'NoSchedule' };
  t.equal(withoutStartupTaints(node()), undefined, 'no taints: nothing to do');
  t.equal(withoutStartupTaints(node([own])), undefined, "the user's taints stay");
  t.same(withoutStartupTaints(node([notReady])), [], 'not-ready goes');
  t.same(withoutStartupTaints(node([notReady, own, unreachable])), [own], 'only the start-up taints go');
});

t.test('the apiserver endpoints', async (t) => {
  const ep = apiserverEndpoints('10.240.0.2');
  t.same(ep.metadata, { name: 'kubernetes', namespace: 'default' });
  t.same(ep.subsets, [{ addresses: [{ ip: '10.240.0.2' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }]);
});
