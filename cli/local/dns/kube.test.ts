import t from 'tap';
import { clusterDataFromKube } from './kube.js';

t.test('Kubernetes objects become record inputs', async (t) => {
  const { data, problems } = clusterDataFromKube(
    [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext', namespace: 'a' }, spec: { type: 'ExternalName', externalName: 'db.example.com' } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'noext', namespace: 'a' }, spec: { type: 'ExternalName' } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'nospec', namespace: 'a' } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'a' }, spec: { clusterIP: '10.96.0.5', ports: [{ name: 'http', port: 80 }] } },
    ],
    [
      {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: 'web', namespace: 'a' },
        subsets: [{ addresses: [{ ip: '10.244.1.2', targetRef: { name: 'web-x' } }, { hostname: 'no-ip' }], ports: [{ port: 8080 }] }],
      },
    ],
    [
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'a' }, status: { phase: 'Running', podIP: '10.244.1.2', podIPs: [{ ip: '10.244.1.2' }, { ip: 'fd00::2' }] } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'done', namespace: 'a' }, status: { phase: 'Succeeded', podIP: '10.244.1.3' } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pending', namespace: 'a' }, status: { phase: 'Pending' } },
    ],
  );
  t.same(problems, [
    'Service a/noext: spec.externalName is required for type ExternalName; no DNS records',
    'Service a/nospec: spec is missing; no DNS records',
  ]);
  t.match(data.services, [
    { name: 'ext', externalName: 'db.example.com' },
    { name: 'web', clusterIP: '10.96.0.5', endpoints: [{ ip: '10.244.1.2', podName: 'web-x', ports: [{ port: 8080 }] }] },
  ]);
  t.equal(data.services[1]?.endpoints?.length, 1, 'an address without ip is ignored');
  t.same(data.pods.map((p) => p.ip), ['10.244.1.2', 'fd00::2'], 'every pod IP; finished and pending pods have none');
});
