import t from 'tap';
import { parseCertificate, verifyChain } from '../../lib/identity/chain.js';
import { buildCsr, generateCsr } from '../../lib/identity/csr.js';
import { CertificateAuthority } from './authority.js';
import { FileAuthenticator } from './authn.js';
import { GRPC_STATUS } from './errors.js';
import { NodeAuthorizer, StaticPodIndex } from './node-auth.js';
import { CertificateService, type CreateCertificateResult } from './service.js';
import { Signer } from './signer.js';
import { makeTempDir, removeDir } from './testkit.js';

const BACKEND = 'spiffe://cluster.local/ns/demo/sa/backend';
const FRONTEND = 'spiffe://cluster.local/ns/demo/sa/frontend';

t.test('CreateCertificate: authn → authz → sign', async (t) => {
  const dir = await makeTempDir('ambit-casvc');
  t.teardown(() => removeDir(dir));
  const ca = await CertificateAuthority.open({ dir });
  const authenticator = await FileAuthenticator.open({ dir });
  const podIndex = new StaticPodIndex([
    { nodeName: 'ambit-node-1', namespace: 'demo', serviceAccount: 'backend' },
    { nodeName: 'ambit-node-2', namespace: 'demo', serviceAccount: 'frontend' },
  ]);
  const signer = new Signer(ca);
  const svc = new CertificateService({ authenticator, authorizer: new NodeAuthorizer({ podIndex, trustDomain: ca.trustDomain }), signer });
  const node1 = authenticator.issueNodeCredential('ambit-node-1');
  const node2 = authenticator.issueNodeCredential('ambit-node-2');
  const backendWl = authenticator.issueWorkloadCredential(BACKEND);
  const otherCa = await FileAuthenticator.open({ dir: `${dir}/other` });
  const backendCsr = (await generateCsr(BACKEND)).csrPem;
  const frontendCsr = (await generateCsr(FRONTEND)).csrPem;
  const twoSans = (await buildCsr({ uris: [BACKEND, FRONTEND] })).csrPem;

  type Case = [string, Parameters<CertificateService['handleCreateCertificate']>[0], string, RegExp?];
  const cases: Case[] = [
    ['node impersonates a pod on its node', { credential: `Bearer ${node1}`, csrPem: backendCsr, impersonatedIdentity: BACKEND, validitySeconds: 86400 }, 'ok'],
    ['node without impersonation: the CSR SAN is checked', { credential: node1, csrPem: backendCsr }, 'ok'],
    ['node asks for a pod on another node', { credential: node2, csrPem: backendCsr, impersonatedIdentity: BACKEND }, 'NODE_NOT_AUTHORIZED', /^node ambit-node-2 has no pod running as spiffe:\/\/cluster.local\/ns\/demo\/sa\/backend$/],
    ['node, CSR SAN of a pod elsewhere', { credential: node1, csrPem: frontendCsr }, 'NODE_NOT_AUTHORIZED', /ambit-node-1 has no pod running as .*frontend/],
    ['workload asks for itself', { credential: backendWl, csrPem: backendCsr }, 'ok'],
    ['workload impersonates another', { credential: backendWl, csrPem: frontendCsr, impersonatedIdentity: FRONTEND }, 'WORKLOAD_NOT_AUTHORIZED', /may only get a certificate for itself/],
    ['no credential', { credential: '', csrPem: backendCsr }, 'CREDENTIAL_MISSING'],
    ['credential of another installation', { credential: otherCa.issueNodeCredential('ambit-node-1'), csrPem: backendCsr }, 'CREDENTIAL_FORGED'],
    ['CSR with two SANs', { credential: node1, csrPem: twoSans }, 'CSR_SANS', /CSR has 2 URI SANs; exactly one SPIFFE identity is required/],
    ['impersonated identity differs from the CSR', { credential: node1, csrPem: frontendCsr, impersonatedIdentity: BACKEND }, 'IDENTITY_MISMATCH'],
    ['negative validity', { credential: node1, csrPem: backendCsr, validitySeconds: -1 }, 'TTL_INVALID'],
  ];
  const statusOf: Record<string, number> = {
    NODE_NOT_AUTHORIZED: 7, WORKLOAD_NOT_AUTHORIZED: 7, CREDENTIAL_MISSING: 16, CREDENTIAL_FORGED: 16,
    CSR_SANS: 3, IDENTITY_MISMATCH: 3, TTL_INVALID: 3,
  };
  for (const [name, req, code, re] of cases) {
    const r: CreateCertificateResult = await svc.handleCreateCertificate(req);
    if (r.ok) {
      t.equal('ok', code, name);
      const leaf = parseCertificate(r.certChain[0]!);
      t.same(leaf.uris, [r.identity], `${name}: SAN`);
      await verifyChain(leaf, { roots: r.certChain[r.certChain.length - 1]! });
    } else {
      t.equal(r.error.code, code, `${name}: ${r.error.message}`);
      t.equal(r.error.grpcStatus, statusOf[code], `${name}: gRPC status`);
      if (re) t.match(r.error.message, re, `${name}: reason`);
    }
  }
  t.same(GRPC_STATUS, { 'invalid-argument': 3, 'permission-denied': 7, internal: 13, unauthenticated: 16 });

  const broken = new CertificateService({
    authenticator,
    authorizer: { authorize: async () => { throw new Error('index unavailable'); } },
    signer,
  });
  const r = await broken.handleCreateCertificate({ credential: node1, csrPem: backendCsr });
  t.ok(!r.ok && r.error.code === 'SIGNING_FAILED' && r.error.grpcStatus === 13 && /index unavailable/.test(r.error.message), 'unexpected errors become internal');
});
