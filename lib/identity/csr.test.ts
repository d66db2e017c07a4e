import t from 'tap';
import { buildCsr, generateCsr, parseCsr, verifyCsr, verifyCsrSignature } from './csr.js';
import { IdentityError } from './errors.js';
import { patchPemBytes, tamperPem } from './testkit.js';

const ID = 'spiffe://cluster.local/ns/demo/sa/backend';

t.test('generateCsr makes what ztunnel sends', async (t) => {
  const g = await generateCsr(ID);
  t.match(g.csrPem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
  t.match(g.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  const p = parseCsr(g.csrPem);
  t.same(p.uris, [ID]);
  t.same(p.dnsNames, []);
  t.equal(p.subject, '', 'no subject');
  t.same(p.key, { type: 'ec', curve: 'P-256' });
  const san = p.request.getExtension('2.5.29.17');
  t.equal(san?.critical, true, 'SAN is critical when the subject is empty');
  t.equal(await verifyCsrSignature(p), true);
  const v = await verifyCsr(g.csrPem, { trustDomain: 'cluster.local' });
  t.equal(v.identity.uri, ID);
  t.equal(v.identity.serviceAccount, 'backend');
  await t.rejects(generateCsr('spiffe://cluster.local/ns/Bad/sa/x'), /namespace "Bad"/);
});

t.test('verifyCsr policy table', async (t) => {
  const good = await generateCsr(ID);
  const cases: Array<[string, () => Promise<string>, string | undefined, RegExp?]> = [
    ['ECDSA P-256', async () => good.csrPem, undefined],
    ['RSA 2048', async () => (await buildCsr({ uris: [ID], key: 'rsa-2048' })).csrPem, undefined],
    ['RSA 1024', async () => (await buildCsr({ uris: [ID], key: { rsaBits: 1024 } })).csrPem, 'CSR_KEY_UNSUPPORTED', /CSR key is RSA 1024 bits; allowed: ECDSA P-256 or RSA of at least 2048 bits/],
    ['ECDSA P-384', async () => (await buildCsr({ uris: [ID], key: 'ec-p384' })).csrPem, 'CSR_KEY_UNSUPPORTED', /ECDSA P-384/],
    ['two URI SANs', async () => (await buildCsr({ uris: [ID, 'spiffe://cluster.local/ns/demo/sa/other'] })).csrPem, 'CSR_SANS', /CSR has 2 URI SANs; exactly one SPIFFE identity is required/],
    ['no SAN', async () => (await buildCsr({ subject: 'CN=x' })).csrPem, 'CSR_SANS', /CSR has no URI SAN/],
    ['DNS SAN too', async () => (await buildCsr({ uris: [ID], dnsNames: ['backend.demo'] })).csrPem, 'CSR_SANS', /non-URI SANs \(DNS:backend.demo\)/],
    ['non-SPIFFE URI', async () => (await buildCsr({ uris: ['https://example.com/x'] })).csrPem, 'CSR_SANS', /not a usable identity.*scheme/],
    ['wrong trust domain', async () => (await generateCsr('spiffe://evil.example/ns/demo/sa/backend')).csrPem, 'CSR_TRUST_DOMAIN', /trust domain "evil.example"; this CA signs only for trust domain "cluster.local"/],
    ['bad signature', async () => tamperPem(good.csrPem, 2), 'CSR_BAD_SIGNATURE', /signature does not verify/],
    ['SAN altered after signing', async () => patchPemBytes(good.csrPem, 'sa/backend', 'sa/backenx'), 'CSR_BAD_SIGNATURE', /signature/],
    ['garbage', async () => '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', 'CSR_INVALID', /cannot be parsed/],
    ['empty', async () => '', 'CSR_INVALID', /CSR is empty/],
    ['a certificate, not a CSR', async () => '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'CSR_INVALID', /found 0/],
    ['huge', async () => 'x'.repeat(70_000), 'CSR_INVALID', /more than the 65536 allowed/],
  ];
  for (const [name, make, code, re] of cases) {
    const pem = await make();
    try {
      const v = await verifyCsr(pem, { trustDomain: 'cluster.local' });
      t.equal(code, undefined, `${name}: accepted`);
      t.equal(v.identity.uri, ID, `${name}: identity`);
    } catch (e) {
      t.ok(e instanceof IdentityError, `${name}: typed error`);
      t.equal((e as IdentityError).code, code, `${name}: code`);
      if (re) t.match((e as Error).message, re, `${name}: message`);
    }
  }
});
