// The certificate service of the control plane over real gRPC + TLS: who may get which identity,
// and every refusal's status code and reason.
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { FileAuthenticator } from '../../control/ca/authn.js';
import { generateCsr } from '../../lib/identity/csr.js';
import { parseCertificateChain, spiffeIdOf, verifyChain } from '../../lib/identity/chain.js';
import { IstioCertificateService } from '../../lib/proto/gen/istio/v1/auth/ca_pb.js';
import { createGrpcClient, type ClientOf } from '../../lib/proto/grpc.js';
import type { ClusterStore, KubeObject } from '../../lib/store/types.js';
import { httpGet, startCluster, waitFor, type Cluster } from './testkit/control.js';

const TD = 'cluster.local';
const id = (ns: string, sa: string, td = TD): string => `spiffe://${td}/ns/${ns}/sa/${sa}`;

function pod(ns: string, name: string, sa: string | undefined, node: string, phase = 'Running'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: { nodeName: node, ...(sa ? { serviceAccountName: sa } : {}), containers: [{ name: 'app', image: 'echo' }] },
    status: { phase, podIP: '10.244.1.30', podIPs: [{ ip: '10.244.1.30' }] },
  };
}

async function populate(store: ClusterStore): Promise<void> {
  await store.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  await store.apply(pod('shop', 'cart-1', 'cart', 'node-1'));
  await store.apply(pod('shop', 'legacy-1', undefined, 'node-1'));
  await store.apply(pod('shop', 'pay-1', 'pay', 'node-2'));
  await store.apply(pod('shop', 'batch-1', 'batch', 'node-1', 'Succeeded'));
}

let cluster: Cluster;
let ca: ClientOf<typeof IstioCertificateService>;
let node1: string;

t.before(async () => {
  cluster = await startCluster(t, 'ctlca', populate);
  node1 = cluster.plane.issueNodeCredential('node-1');
  // Dial by address but verify the DNS name clients use, as ztunnel does with istiod.istio-system.svc.
  ca = createGrpcClient(IstioCertificateService, cluster.plane.addresses.grpc, grpc.credentials.createSsl(Buffer.from(cluster.plane.rootCertPem)), {
    'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
  });
  t.teardown(() => ca.$client.close());
});

interface Ask {
  identity: string;
  token?: string;
  impersonate?: boolean;
  ttl?: number;
}

async function ask(a: Ask): Promise<{ chain: string[]; privateKeyPem: string }> {
  const csr = await generateCsr(a.identity);
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${a.token ?? node1}`);
  const res = await ca.createCertificate(
    { csr: csr.csrPem, validityDuration: BigInt(a.ttl ?? 3600), ...(a.impersonate === false ? {} : { metadata: { ImpersonatedIdentity: a.identity } }) },
    md,
  );
  return { chain: res.certChain, privateKeyPem: csr.privateKeyPem };
}

async function refusal(a: Ask): Promise<{ code: number; details: string; errorCode: unknown }> {
  try {
    await ask(a);
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { code: err.code, details: err.details, errorCode: err.metadata?.get('ambit-error-code')[0] };
  }
  throw new Error(`${a.identity} was issued, expected a refusal`);
}

t.test('a good CSR: the chain verifies to the published root and carries the SPIFFE id', async (t) => {
  const { chain } = await ask({ identity: id('shop', 'cart'), ttl: 7200 });
  const [leaf, ...rest] = parseCertificateChain(chain);
  const roots = parseCertificateChain(cluster.plane.rootCertPem);
  await verifyChain(leaf!, { roots, intermediates: rest.filter((c) => !roots.some((r) => r.der.equals(c.der))) });
  t.equal(spiffeIdOf(leaf!).uri, id('shop', 'cart'));
  const ttl = (leaf!.notAfter.getTime() - Date.now()) / 1000;
  t.ok(ttl > 7000 && ttl <= 7200, `the requested lifetime (${Math.round(ttl)} s)`);
  t.equal(chain[chain.length - 1]?.trim(), cluster.plane.rootCertPem.trim(), 'the chain ends with the published root');
  const legacy = await ask({ identity: id('shop', 'default') });
  t.equal(spiffeIdOf(parseCertificateChain(legacy.chain)[0]!).uri, id('shop', 'default'), 'a pod without serviceAccountName runs as default');
});

t.test('a service account with no pod on the caller node is refused: PERMISSION_DENIED, saying why', async (t) => {
  for (const [what, identity] of [['on another node', id('shop', 'pay')], ['finished pod', id('shop', 'batch')], ['unknown', id('other', 'x')]] as const) {
    const r = await refusal({ identity });
    t.equal(r.code, grpc.status.PERMISSION_DENIED, what);
    t.match(r.details, new RegExp(`node node-1 has no pod running as ${identity.replace(/[/.]/g, '\\$&')}`), r.details);
    t.equal(r.errorCode, 'NODE_NOT_AUTHORIZED');
  }
});

t.test('the pod index follows the store', async (t) => {
  await cluster.store.apply(pod('shop', 'pay-2', 'pay', 'node-1'));
  await waitFor(async () => (await ask({ identity: id('shop', 'pay') }).then(() => true, () => false)), 'pay on node-1 to be allowed');
  await cluster.store.delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'pay-2' });
  await waitFor(async () => (await refusal({ identity: id('shop', 'pay') }).then(() => true, () => false)), 'pay on node-1 to be refused again');
  t.pass();
});

t.test('forged and expired credentials: UNAUTHENTICATED', async (t) => {
  const other = await FileAuthenticator.open({ dir: `${cluster.stateDir}/other-ca` });
  const expiredIssuer = await FileAuthenticator.open({ dir: cluster.config.caDir, now: () => new Date(Date.now() - 3600_000) });
  const cases: Array<[string, string, RegExp]> = [
    ['forged (another key)', other.issueNodeCredential('node-1'), /another installation|not by this CA/],
    ['tampered', `${node1.slice(0, -3)}AAA`, /does not verify|forged/],
    ['expired', expiredIssuer.issueNodeCredential('node-1', 60), /expired/],
    ['missing', '', /no credential/],
  ];
  for (const [what, token, why] of cases) {
    const r = await refusal({ identity: id('shop', 'cart'), token });
    t.equal(r.code, grpc.status.UNAUTHENTICATED, what);
    t.match(r.details, why, `${what}: ${r.details}`);
  }
});

t.test('a CSR for another trust domain: INVALID_ARGUMENT', async (t) => {
  const r = await refusal({ identity: id('shop', 'cart', 'evil.example'), impersonate: false });
  t.equal(r.code, grpc.status.INVALID_ARGUMENT);
  t.match(r.details, /trust domain/);
  t.equal(r.errorCode, 'TRUST_DOMAIN_MISMATCH');
});

t.test('20 concurrent CSRs', async (t) => {
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: 20 }, () => ask({ identity: id('shop', 'cart') })));
  const serials = new Set(results.map((r) => parseCertificateChain(r.chain)[0]!.x509cert.serialNumber));
  t.equal(serials.size, 20, `20 distinct certificates in ${Math.round(performance.now() - started)} ms`);
  const metrics = (await httpGet(cluster.plane.addresses.monitoring, '/metrics')).body;
  t.match(metrics, /citadel_server_success_cert_issuance_count [2-9]\d/);
  t.match(metrics, /citadel_server_csr_refused_count\{reason="NODE_NOT_AUTHORIZED"\} [1-9]/);
  t.match(metrics, /citadel_server_authentication_failure_count [1-9]/);
});
