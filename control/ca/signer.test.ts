import t, { type Test } from 'tap';
import { parseCertificate, verifyChain } from '../../lib/identity/chain.js';
import { buildCsr, generateCsr } from '../../lib/identity/csr.js';
import { tamperPem } from '../../lib/identity/testkit.js';
import { x509 } from '../../lib/identity/x509.js';
import { CertificateAuthority } from './authority.js';
import { CaError } from './errors.js';
import { resolveTtl, Signer } from './signer.js';
import { makeTempDir, removeDir } from './testkit.js';

const ID = 'spiffe://cluster.local/ns/demo/sa/backend';
const DAY = 86_400;

async function openCa(t: Test): Promise<CertificateAuthority> {
  const dir = await makeTempDir('ambit-signer');
  t.teardown(() => removeDir(dir));
  return CertificateAuthority.open({ dir });
}

t.test('a good CSR becomes a workload leaf chained to the root', async (t) => {
  const ca = await openCa(t);
  const signer = new Signer(ca);
  const csr = await generateCsr(ID);
  const before = Date.now();
  const s = await signer.sign({ csrPem: csr.csrPem });
  t.equal(s.certChain.length, 2, 'leaf and root');
  t.equal(s.certChain[1], ca.rootPem());
  t.equal(s.identity, ID);
  const leaf = parseCertificate(s.certChain[0]!);
  t.same(leaf.uris, [ID]);
  t.same(leaf.dnsNames, []);
  t.equal(leaf.subject, '', 'no subject: the identity is the SAN');
  t.equal(leaf.isCa, false);
  t.equal(leaf.x509cert.getExtension(x509.SubjectAlternativeNameExtension)?.critical, true, 'SAN critical');
  const ku = leaf.x509cert.getExtension(x509.KeyUsagesExtension)!;
  t.equal(ku.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
  t.same(leaf.x509cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages, [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]);
  const backdate = before - leaf.notBefore.getTime();
  t.ok(backdate >= 59_000 && backdate <= 62_000, `backdated about 60 s (${backdate} ms)`);
  const ttl = (leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 1000 - 60;
  t.ok(Math.abs(ttl - DAY) <= 2, `default TTL 24 h (${ttl} s)`);
  t.equal(Buffer.from(leaf.x509cert.publicKey.rawData).toString('hex'), Buffer.from(await crypto.subtle.exportKey('spki', csr.keys.publicKey)).toString('hex'), 'key from the CSR');
  await verifyChain(leaf, { roots: s.certChain[1]! });
});

t.test('refusals are typed and say why', async (t) => {
  const ca = await openCa(t);
  const signer = new Signer(ca);
  const good = await generateCsr(ID);
  const cases: Array<[string, () => Promise<{ csrPem: string; identity?: string; ttlSeconds?: number }>, string, RegExp?]> = [
    ['ECDSA P-256', async () => ({ csrPem: good.csrPem }), 'ok'],
    ['RSA 2048', async () => ({ csrPem: (await buildCsr({ uris: [ID], key: 'rsa-2048' })).csrPem }), 'ok'],
    ['RSA 1024', async () => ({ csrPem: (await buildCsr({ uris: [ID], key: { rsaBits: 1024 } })).csrPem }), 'CSR_KEY_UNSUPPORTED', /RSA 1024 bits/],
    ['two URI SANs', async () => ({ csrPem: (await buildCsr({ uris: [ID, `${ID}2`] })).csrPem }), 'CSR_SANS', /^CSR has 2 URI SANs; exactly one SPIFFE identity is required$/],
    ['wrong trust domain', async () => ({ csrPem: (await generateCsr('spiffe://other.td/ns/demo/sa/backend')).csrPem }), 'TRUST_DOMAIN_MISMATCH', /"other.td"/],
    ['bad signature', async () => ({ csrPem: tamperPem(good.csrPem, 3) }), 'CSR_BAD_SIGNATURE'],
    ['not a CSR', async () => ({ csrPem: 'hello' }), 'CSR_INVALID'],
    ['identity differs from the SAN', async () => ({ csrPem: good.csrPem, identity: 'spiffe://cluster.local/ns/demo/sa/frontend' }), 'IDENTITY_MISMATCH', /CSR asks for .*backend but the request is for .*frontend/],
    ['identity in another trust domain', async () => ({ csrPem: good.csrPem, identity: 'spiffe://x.td/ns/demo/sa/backend' }), 'TRUST_DOMAIN_MISMATCH'],
    ['identity equal to the SAN', async () => ({ csrPem: good.csrPem, identity: ID }), 'ok'],
    ['negative TTL', async () => ({ csrPem: good.csrPem, ttlSeconds: -5 }), 'TTL_INVALID'],
  ];
  for (const [name, make, code, re] of cases) {
    try {
      const s = await signer.sign(await make());
      t.equal('ok', code, `${name}: signed`);
      t.equal(s.identity, ID);
    } catch (e) {
      t.ok(e instanceof CaError, `${name}: CaError`);
      t.equal((e as CaError).code, code, `${name}: ${(e as Error).message}`);
      t.equal((e as CaError).kind, 'invalid-argument', `${name}: kind`);
      if (re) t.match((e as Error).message, re, `${name}: message`);
    }
  }
});

t.test('TTL default, request and cap', async (t) => {
  const limits = { defaultTtlSeconds: DAY, maxTtlSeconds: 90 * DAY };
  const table: Array<[number | undefined, number, boolean]> = [
    [undefined, DAY, false],
    [0, DAY, false],
    [3600, 3600, false],
    [90 * DAY, 90 * DAY, false],
    [200 * DAY, 90 * DAY, true],
  ];
  for (const [req, ttl, capped] of table) t.same(resolveTtl(req, limits), { ttlSeconds: ttl, capped }, `request ${req}`);
  t.throws(() => resolveTtl(1.5, limits), /not a non-negative whole number/);
  t.throws(() => resolveTtl(Number.NaN, limits), /not a non-negative whole number/);

  const ca = await openCa(t);
  const csr = (await generateCsr(ID)).csrPem;
  const life = async (signer: Signer, ttlSeconds?: number): Promise<number> => {
    const s = await signer.sign({ csrPem: csr, ...(ttlSeconds !== undefined ? { ttlSeconds } : {}) });
    return Math.round((s.notAfter.getTime() - s.notBefore.getTime()) / 1000) - 60;
  };
  const signer = new Signer(ca);
  t.equal(await life(signer), DAY, 'default 24 h');
  t.equal(await life(signer, 3600), 3600, 'requested 1 h');
  t.equal(await life(signer, 365 * DAY), 90 * DAY, 'capped at 90 days');
  const tight = new Signer(ca, { maxTtlSeconds: 7200, defaultTtlSeconds: 3600 });
  t.equal(await life(tight), 3600, 'configured default');
  t.equal(await life(tight, DAY), 7200, 'configured cap');
  // A leaf never outlives its issuer.
  const soon = new Date(Date.now() + 3600_000);
  const shortIssuer = new Signer({ material: () => ({ ...ca.material(), issuerNotAfter: soon }) });
  const s = await shortIssuer.sign({ csrPem: csr });
  t.equal(s.notAfter.getTime(), soon.getTime(), 'clamped to the issuer');
});

t.test('50 concurrent CSRs are all signed correctly; throughput', async (t) => {
  const ca = await openCa(t);
  const signer = new Signer(ca);
  const ids = Array.from({ length: 50 }, (_, i) => `spiffe://cluster.local/ns/ns${i % 7}/sa/sa-${i}`);
  const csrs = await Promise.all(ids.map((id) => generateCsr(id)));
  const started = performance.now();
  const results = await Promise.all(csrs.map((c, i) => signer.sign({ csrPem: c.csrPem, identity: ids[i]! })));
  const ms = performance.now() - started;
  const serials = new Set<string>();
  for (const [i, r] of results.entries()) {
    const leaf = parseCertificate(r.certChain[0]!);
    t.same(leaf.uris, [ids[i]], `leaf ${i} carries its own identity`);
    serials.add(leaf.serialNumber);
    await verifyChain(leaf, { roots: ca.rootPem() });
  }
  t.equal(serials.size, 50, 'unique serial numbers');
  t.comment(`50 concurrent signings (cold): ${ms.toFixed(0)} ms = ${((50 * 1000) / ms).toFixed(0)} CSRs/s`);
  // Wall time depends on what else runs on the machine; CPU time per signing is the steadier figure.
  const seqStart = performance.now();
  const cpu = process.cpuUsage();
  for (const c of csrs) await signer.sign({ csrPem: c.csrPem });
  const seqMs = performance.now() - seqStart;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000 / 50;
  t.comment(`50 sequential signings (warm): ${seqMs.toFixed(0)} ms = ${((50 * 1000) / seqMs).toFixed(0)} CSRs/s; ${cpuMs.toFixed(2)} ms CPU each = ${(1000 / cpuMs).toFixed(0)} CSRs/s per core`);
  const warmStart = performance.now();
  await Promise.all(csrs.map((c) => signer.sign({ csrPem: c.csrPem })));
  const warmMs = performance.now() - warmStart;
  t.comment(`50 concurrent signings (warm): ${warmMs.toFixed(0)} ms = ${((50 * 1000) / warmMs).toFixed(0)} CSRs/s`);
});
