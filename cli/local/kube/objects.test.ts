import t from 'tap';
import { NODE } from '../../../lib/k8s/types.js';
import { apiserverEndpoints, kubernetesServiceEnv, podEvent, withoutStartupTaints } from './objects.js';

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

t.test('the API server Service variables every container gets', async (t) => {
  t.same(kubernetesServiceEnv('10.96.0.1', 443), {
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    KUBERNETES_SERVICE_PORT: '443',
    KUBERNETES_SERVICE_PORT_HTTPS: '443',
    KUBERNETES_PORT: 'tcp://10.96.0.1:443',
    KUBERNETES_PORT_443_TCP: 'tcp://10.96.0.1:443',
    KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
    KUBERNETES_PORT_443_TCP_PORT: '443',
    KUBERNETES_PORT_443_TCP_ADDR: '10.96.0.1',
  });
});

t.test('a pod Event as kubelet reports it', async (t) => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ztunnel-x', namespace: 'ambit-system', uid: 'u1' }, spec: { containers: [] } };
  const ev = podEvent(pod as never, 'node-1', { type: 'Warning', reason: 'FailedMount', message: 'configmap "istio-ca-root-cert" not found' }, 'ztunnel-x.1', '2026-01-01T00:00:05Z', 3, '2026-01-01T00:00:00Z');
  t.match(ev, {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'ztunnel-x.1', namespace: 'ambit-system' },
    involvedObject: { kind: 'Pod', name: 'ztunnel-x', namespace: 'ambit-system', uid: 'u1' },
    type: 'Warning',
    reason: 'FailedMount',
    source: { component: 'kubelet', host: 'node-1' },
    count: 3,
    firstTimestamp: '2026-01-01T00:00:00Z',
    lastTimestamp: '2026-01-01T00:00:05Z',
  });
});
