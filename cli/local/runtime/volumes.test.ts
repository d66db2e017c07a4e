import t from 'tap';
import { planPodVolumes } from './volumes.js';

const S = '/state/ns/p';

function plan(volumes: unknown, volumeMounts: unknown, hostPath?: (p: string) => string) {
  return planPodVolumes('ns/p', { volumes, containers: [{ name: 'c', volumeMounts }] }, S, hostPath);
}

t.test('volumes map to a mount plan', async (t) => {
  const token = { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } };
  const root = { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } };
  const got = plan(
    [token, root, { name: 'cni', hostPath: { path: '/etc/cni/net.d', type: 'DirectoryOrCreate' } }, { name: 'tmp', emptyDir: {} }, { name: 'certs', secret: { secretName: 'cacerts', items: [{ key: 'ca.pem', path: 'ca/ca.pem' }] } }],
    [
      { name: 'istio-token', mountPath: '/var/run/secrets/tokens' },
      { name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio/' },
      { name: 'cni', mountPath: '/host/etc/cni/net.d', mountPropagation: 'HostToContainer' },
      { name: 'tmp', mountPath: '/tmp', readOnly: true },
      { name: 'certs', mountPath: '/etc/cacerts/ca.pem', subPath: 'ca/ca.pem' },
    ],
  );
  t.same(got, {
    ok: true,
    plan: {
      volumes: [
        { name: 'istio-token', kind: 'files', dir: `${S}/volumes/istio-token`, sources: [{ kind: 'serviceAccountToken', path: 'istio-token', expirationSeconds: 43200, audience: 'istio-ca' }] },
        { name: 'istiod-ca-cert', kind: 'files', dir: `${S}/volumes/istiod-ca-cert`, sources: [{ kind: 'configMap', name: 'istio-ca-root-cert', optional: false }] },
        { name: 'cni', kind: 'hostPath', dir: '/etc/cni/net.d', type: 'DirectoryOrCreate' },
        { name: 'tmp', kind: 'emptyDir', dir: `${S}/volumes/tmp` },
        { name: 'certs', kind: 'files', dir: `${S}/volumes/certs`, sources: [{ kind: 'secret', name: 'cacerts', items: [{ key: 'ca.pem', path: 'ca/ca.pem' }], optional: false }] },
      ],
      mounts: [
        { container: 'c', source: `${S}/volumes/istio-token`, target: '/var/run/secrets/tokens', readOnly: true, propagation: 'None' },
        { container: 'c', source: `${S}/volumes/istiod-ca-cert`, target: '/var/run/secrets/istio', readOnly: true, propagation: 'None' },
        { container: 'c', source: '/etc/cni/net.d', target: '/host/etc/cni/net.d', readOnly: false, propagation: 'HostToContainer' },
        { container: 'c', source: `${S}/volumes/tmp`, target: '/tmp', readOnly: true, propagation: 'None' },
        { container: 'c', source: `${S}/volumes/certs/ca/ca.pem`, target: '/etc/cacerts/ca.pem', readOnly: true, propagation: 'None' },
      ],
    },
  });
});

t.test('hostPath volumes go where the node keeps its host paths', async (t) => {
  const node = (p: string) => (p.startsWith('/var/run/netns') ? p : `/state/nodes/node-1/root${p}`);
  const got = plan([{ name: 'cni', hostPath: { path: '/etc/cni/net.d/', type: 'DirectoryOrCreate' } }, { name: 'netns', hostPath: { path: '/var/run/netns' } }], [{ name: 'cni', mountPath: '/host/etc/cni/net.d' }], node);
  t.same(got.ok && got.plan.volumes, [
    { name: 'cni', kind: 'hostPath', dir: '/state/nodes/node-1/root/etc/cni/net.d', type: 'DirectoryOrCreate' },
    { name: 'netns', kind: 'hostPath', dir: '/var/run/netns', type: '' },
  ]);
  t.same(got.ok && got.plan.mounts[0]?.source, '/state/nodes/node-1/root/etc/cni/net.d', 'the mount binds the node\'s directory');
});

t.test('projected sources and defaults', async (t) => {
  const got = plan([{ name: 'v', projected: { sources: [{ serviceAccountToken: { path: 't' } }, { configMap: { name: 'cm', items: [{ key: 'k', path: 'k.txt' }] } }, { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } }] } }], []);
  t.same(got.ok && got.plan.volumes[0], {
    name: 'v',
    kind: 'files',
    dir: `${S}/volumes/v`,
    sources: [
      { kind: 'serviceAccountToken', path: 't', expirationSeconds: 3600 },
      { kind: 'configMap', name: 'cm', items: [{ key: 'k', path: 'k.txt' }], optional: false },
      { kind: 'downwardAPI', items: [{ path: 'labels', fieldPath: 'metadata.labels' }] },
    ],
  });
});

t.test('bad input names the pod and the field', async (t) => {
  const cases: Array<[string, unknown, unknown, RegExp]> = [
    ['unknown volume type', [{ name: 'v', nfs: { server: 'x' } }], [], /^pod ns\/p: spec\.volumes\[0\]\.nfs \(v\): volume type "nfs" is not supported/],
    ['two sources', [{ name: 'v', emptyDir: {}, hostPath: { path: '/x' } }], [], /spec\.volumes\[0\] \(v\): exactly one volume source is required, got emptyDir, hostPath/],
    ['no source', [{ name: 'v' }], [], /spec\.volumes\[0\] \(v\): exactly one volume source is required, got none/],
    ['bad name', [{ name: 'V_1', emptyDir: {} }], [], /spec\.volumes\[0\]\.name: must be a DNS label, got "V_1"/],
    ['duplicate', [{ name: 'v', emptyDir: {} }, { name: 'v', emptyDir: {} }], [], /spec\.volumes\[1\]\.name: duplicate volume "v"/],
    ['relative hostPath', [{ name: 'v', hostPath: { path: 'etc' } }], [], /spec\.volumes\[0\]\.hostPath\.path \(v\): must be an absolute path/],
    ['hostPath type', [{ name: 'v', hostPath: { path: '/etc', type: 'Dir' } }], [], /hostPath\.type \(v\): unknown type "Dir"/],
    ['secret without secretName', [{ name: 'v', secret: {} }], [], /spec\.volumes\[0\]\.secret\.secretName: required/],
    ['item escaping', [{ name: 'v', configMap: { name: 'cm', items: [{ key: 'k', path: '../x' }] } }], [], /spec\.volumes\[0\]\.configMap\.items\[0\]\.path: "\.\.\/x" must be relative/],
    ['short token', [{ name: 'v', projected: { sources: [{ serviceAccountToken: { path: 't', expirationSeconds: 60 } }] } }], [], /projected\.sources\[0\]\.serviceAccountToken\.expirationSeconds: must be an integer of at least 600, got 60/],
    ['token without path', [{ name: 'v', projected: { sources: [{ serviceAccountToken: {} }] } }], [], /serviceAccountToken\.path: must be a non-empty relative path/],
    ['clusterTrustBundle', [{ name: 'v', projected: { sources: [{ clusterTrustBundle: {} }] } }], [], /sources\[0\]\.clusterTrustBundle: not supported/],
    ['resourceFieldRef', [{ name: 'v', downwardAPI: { items: [{ path: 'cpu', resourceFieldRef: { resource: 'limits.cpu' } }] } }], [], /downwardAPI\.items\[0\]\.fieldRef\.fieldPath: required/],
    ['mount of unknown volume', [], [{ name: 'x', mountPath: '/x' }], /spec\.containers\[0\]\.volumeMounts\[0\]\.name: no volume named "x"/],
    ['relative mountPath', [{ name: 'v', emptyDir: {} }], [{ name: 'v', mountPath: 'x' }], /volumeMounts\[0\]\.mountPath: must be an absolute path, got "x"/],
    ['same path twice', [{ name: 'v', emptyDir: {} }], [{ name: 'v', mountPath: '/x' }, { name: 'v', mountPath: '/x/' }], /volumeMounts\[1\]\.mountPath: "\/x\/" is mounted twice in container "c"/],
    ['Bidirectional', [{ name: 'v', emptyDir: {} }], [{ name: 'v', mountPath: '/x', mountPropagation: 'Bidirectional' }], /volumeMounts\[0\]\.mountPropagation: Bidirectional is not supported by the local runtime/],
    ['unknown propagation', [{ name: 'v', emptyDir: {} }], [{ name: 'v', mountPath: '/x', mountPropagation: 'Both' }], /volumeMounts\[0\]\.mountPropagation: must be None, HostToContainer or Bidirectional, got "Both"/],
    ['subPath escaping', [{ name: 'v', emptyDir: {} }], [{ name: 'v', mountPath: '/x', subPath: '/etc' }], /volumeMounts\[0\]\.subPath: "\/etc" must be relative/],
  ];
  for (const [name, volumes, mounts, want] of cases) {
    const got = plan(volumes, mounts);
    t.match(got.ok ? 'planned' : got.message, want, name);
  }
});
