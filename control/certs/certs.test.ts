import t from 'tap';
import { create } from '@bufbuild/protobuf';
import { IstioCertificateRequestSchema } from '../../lib/proto/gen/istio/v1/auth/ca_pb.js';
import type { KubeObject } from '../../lib/store/types.js';
import { toServiceRequest } from './grpc.js';
import { placementOf } from './pod-index.js';
import { holdsRoot, rootConfigMap } from './root-cert.js';
import { servingDnsNames, servingIpAddresses } from './serving.js';

const pod = (spec: Record<string, unknown>, phase = 'Running', ns = 'shop'): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: ns }, spec, status: { phase } });

t.test('placementOf', async (t) => {
  const table: Array<[string, KubeObject, unknown]> = [
    ['scheduled', pod({ nodeName: 'n1', serviceAccountName: 'cart' }), { nodeName: 'n1', namespace: 'shop', serviceAccount: 'cart' }],
    ['no service account: default', pod({ nodeName: 'n1' }), { nodeName: 'n1', namespace: 'shop', serviceAccount: 'default' }],
    ['deprecated serviceAccount field', pod({ nodeName: 'n1', serviceAccount: 'old' }), { nodeName: 'n1', namespace: 'shop', serviceAccount: 'old' }],
    ['not scheduled', pod({ serviceAccountName: 'cart' }), undefined],
    ['succeeded', pod({ nodeName: 'n1' }, 'Succeeded'), undefined],
    ['failed', pod({ nodeName: 'n1' }, 'Failed'), undefined],
    ['pending still counts', pod({ nodeName: 'n1' }, 'Pending'), { nodeName: 'n1', namespace: 'shop', serviceAccount: 'default' }],
  ];
  for (const [what, p, want] of table) t.same(placementOf(p), want, what);
});

t.test('toServiceRequest', async (t) => {
  const req = (init: Record<string, unknown>) => create(IstioCertificateRequestSchema, { csr: 'PEM', ...init });
  t.same(toServiceRequest(req({ validityDuration: 3600n, metadata: { ImpersonatedIdentity: 'spiffe://td/ns/a/sa/b' } }), 'Bearer x', 'peer'), {
    credential: 'Bearer x', csrPem: 'PEM', validitySeconds: 3600, impersonatedIdentity: 'spiffe://td/ns/a/sa/b', peer: { address: 'peer' },
  });
  t.same(toServiceRequest(req({}), '', 'p'), { credential: '', csrPem: 'PEM', peer: { address: 'p' } }, '0 = the default lifetime; no impersonation');
  t.throws(() => toServiceRequest(req({ metadata: { ImpersonatedIdentity: 7 } }), '', 'p'), { code: 'IDENTITY_INVALID' });
  t.throws(() => toServiceRequest(req({ validityDuration: -5n }), '', 'p'), { code: 'TTL_INVALID' });
});

t.test('serving names', async (t) => {
  t.same(servingDnsNames('istio-system').slice(0, 3), ['istiod.istio-system.svc', 'istiod.istio-system.svc.cluster.local', 'ambit-control']);
  const ifs = { lo: [{ address: '127.0.0.1' }], eth0: [{ address: '10.0.0.5' }, { address: 'fe80::1%eth0' }] } as unknown as Parameters<typeof servingIpAddresses>[1];
  t.same(servingIpAddresses('0.0.0.0', ifs).sort(), ['10.0.0.5', '127.0.0.1', '::1', 'fe80::1'].sort(), 'wildcard: every interface');
  t.same(servingIpAddresses('10.9.9.9', ifs).sort(), ['10.9.9.9', '127.0.0.1', '::1'].sort());
  t.same(servingIpAddresses('istiod.local', ifs).sort(), ['127.0.0.1', '::1'].sort(), 'a host name adds no IP');
});

t.test('root ConfigMap', async (t) => {
  const cm = rootConfigMap('shop', 'ROOT');
  t.match(cm, { kind: 'ConfigMap', metadata: { name: 'istio-ca-root-cert', namespace: 'shop' }, data: { 'root-cert.pem': 'ROOT' } });
  t.ok(holdsRoot(cm, 'ROOT'));
  t.notOk(holdsRoot(cm, 'OTHER'));
  t.notOk(holdsRoot(undefined, 'ROOT'));
});
