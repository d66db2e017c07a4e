// The security matrix rows that other tests leave out, against the real control plane over gRPC +
// TLS: the certificate service refuses CSRs whose SANs are not one SPIFFE id, node credentials of
// nodes without the pod, workload credentials asking for another identity, expired workload
// credentials; xDS refuses a stream whose node differs from its credential, a workload credential
// that is no waypoint, and an expired node credential. (Cross-node impersonation, forged, tampered,
// missing and expired node credentials and a foreign trust domain: control-ca.test.ts; xDS without
// a credential: control.test.ts.)
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { FileAuthenticator } from '../../control/ca/authn.js';
import { buildCsr } from '../../lib/identity/csr.js';
import { IstioCertificateService } from '../../lib/proto/gen/istio/v1/auth/ca_pb.js';
import { createGrpcClient, type ClientOf } from '../../lib/proto/grpc.js';
import type { ClusterStore, KubeObject } from '../../lib/store/types.js';
import { startCluster, TestClient, type Cluster } from './testkit/control.js';

const id = (ns: string, sa: string): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

function pod(name: string, sa: string, node: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop' },
    spec: { nodeName: node, serviceAccountName: sa, containers: [{ name: 'app', image: 'echo' }] },
    status: { phase: 'Running', podIP: '10.244.1.40', podIPs: [{ ip: '10.244.1.40' }] },
  };
}

async function populate(store: ClusterStore): Promise<void> {
  await store.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient' } } });
  await store.apply(pod('cart-1', 'cart', 'node-1'));
  await store.apply(pod('pay-1', 'pay', 'node-2'));
}

let cluster: Cluster;
let ca: ClientOf<typeof IstioCertificateService>;
let issuer: FileAuthenticator;
let expiredIssuer: FileAuthenticator;

t.before(async () => {
  cluster = await startCluster(t, 'secmx', populate);
  issuer = await FileAuthenticator.open({ dir: cluster.config.caDir });
  expiredIssuer = await FileAuthenticator.open({ dir: cluster.config.caDir, now: () => new Date(Date.now() - 3600_000) });
  ca = createGrpcClient(IstioCertificateService, cluster.plane.addresses.grpc, grpc.credentials.createSsl(Buffer.from(cluster.plane.rootCertPem)), {
    'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
  });
  t.teardown(() => ca.$client.close());
});

interface Refusal {
  code: number;
  details: string;
  errorCode: unknown;
}

async function createCertificate(token: string, csrPem: string, impersonate?: string): Promise<Refusal | 'issued'> {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  try {
    await ca.createCertificate({ csr: csrPem, validityDuration: 3600n, ...(impersonate ? { metadata: { ImpersonatedIdentity: impersonate } } : {}) }, md);
    return 'issued';
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { code: err.code, details: err.details, errorCode: err.metadata?.get('ambit-error-code')[0] };
  }
}

t.test('the CA refuses every certificate it must not issue, saying why', async (t) => {
  const node1 = cluster.plane.issueNodeCredential('node-1');
  const csr = async (o: { uris?: string[]; dnsNames?: string[] }) => (await buildCsr(o)).csrPem;
  const cases: Array<[string, string, string, string | undefined, number, string, RegExp]> = [
    ['a DNS SAN next to the SPIFFE id', node1, await csr({ uris: [id('shop', 'cart')], dnsNames: ['cart.shop.svc'] }), undefined, grpc.status.INVALID_ARGUMENT, 'CSR_SANS', /non-URI SANs \(DNS:cart\.shop\.svc\)/],
    ['a non-SPIFFE URI', node1, await csr({ uris: ['https://cart.shop.example/'] }), undefined, grpc.status.INVALID_ARGUMENT, 'CSR_SANS', /not a usable identity/],
    ['two SPIFFE ids', node1, await csr({ uris: [id('shop', 'cart'), id('shop', 'pay')] }), undefined, grpc.status.INVALID_ARGUMENT, 'CSR_SANS', /2 URI SANs/],
    ['no SAN at all', node1, await csr({}), undefined, grpc.status.INVALID_ARGUMENT, 'CSR_SANS', /no URI SAN/],
    ['a node that runs no pod (unknown node)', cluster.plane.issueNodeCredential('node-9'), await csr({ uris: [id('shop', 'cart')] }), id('shop', 'cart'), grpc.status.PERMISSION_DENIED, 'NODE_NOT_AUTHORIZED', /node node-9 has no pod running as/],
    ['a workload credential asking for another identity', issuer.issueWorkloadCredential(id('shop', 'cart')), await csr({ uris: [id('shop', 'pay')] }), undefined, grpc.status.PERMISSION_DENIED, 'WORKLOAD_NOT_AUTHORIZED', /may only get a certificate for itself/],
    ['an expired workload credential', expiredIssuer.issueWorkloadCredential(id('shop', 'cart'), 60), await csr({ uris: [id('shop', 'cart')] }), undefined, grpc.status.UNAUTHENTICATED, 'CREDENTIAL_EXPIRED', /expired/],
    ['a workload credential of another trust domain', issuer.issueWorkloadCredential('spiffe://evil.example/ns/shop/sa/cart'), await csr({ uris: ['spiffe://evil.example/ns/shop/sa/cart'] }), undefined, grpc.status.INVALID_ARGUMENT, 'TRUST_DOMAIN_MISMATCH', /trust domain/],
  ];
  for (const [what, token, csrPem, impersonate, code, errorCode, why] of cases) {
    const r = await createCertificate(token, csrPem, impersonate);
    if (r === 'issued') {
      t.fail(`${what}: a certificate was issued`);
      continue;
    }
    t.equal(r.code, code, `${what}: ${grpc.status[code]}`);
    t.equal(r.errorCode, errorCode, `${what}: ${String(r.errorCode)}`);
    t.match(r.details, why, `${what}: ${r.details}`);
  }
  const good = await createCertificate(issuer.issueWorkloadCredential(id('shop', 'cart')), await csr({ uris: [id('shop', 'cart')] }));
  t.equal(good, 'issued', 'a workload credential gets its own identity (the matrix can pass)');
});

t.test('xDS refuses streams that do not fit their credential', async (t) => {
  const backoffDetail = (c: TestClient): Promise<string> => new Promise((resolve) => c.client.on('state', (s, d) => s === 'backoff' && resolve(d ?? '')));
  const cases: Array<[string, string, string, RegExp]> = [
    ["node-1's credential, node-2's node id", cluster.plane.issueNodeCredential('node-1'), 'node-2', /PERMISSION_DENIED/],
    ['a workload credential that is no waypoint', issuer.issueWorkloadCredential(id('shop', 'cart')), 'node-1', /PERMISSION_DENIED/],
    ['an expired node credential', expiredIssuer.issueNodeCredential('node-1', 60), 'node-1', /UNAUTHENTICATED: .*expired/],
  ];
  for (const [what, token, nodeName, why] of cases) {
    const c = new TestClient(t, cluster.plane.addresses.grpc, cluster.plane.rootCertPem, token, `ztunnel-${nodeName}`, nodeName);
    const detail = await backoffDetail(c);
    t.match(detail, why, `${what}: ${detail}`);
    t.equal(c.names().length, 0, `${what}: nothing was served`);
    c.client.close();
  }
  // The same TestClient with a fitting credential is served: the refusals above are the credential's.
  const ok = new TestClient(t, cluster.plane.addresses.grpc, cluster.plane.rootCertPem, cluster.plane.issueNodeCredential('node-2'), 'ztunnel-node-2', 'node-2');
  await new Promise<void>((resolve) => ok.client.once('synced', () => resolve()));
  t.ok(ok.names().length > 0, `a fitting stream is served (${ok.names().length} addresses)`);
  ok.client.close();
});
