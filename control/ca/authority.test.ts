import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { parseCertificate, verifyChain } from '../../lib/identity/chain.js';
import { generateCsr } from '../../lib/identity/csr.js';
import { x509 } from '../../lib/identity/x509.js';
import { CertificateAuthority } from './authority.js';
import { CaError } from './errors.js';
import { Signer } from './signer.js';
import { makeTempDir, removeDir, writePlugInCerts } from './testkit.js';

const ID = 'spiffe://cluster.local/ns/demo/sa/backend';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof CaError ? `${e.code}: ${e.message}` : `unexpected: ${String(e)}`;
  }
}

t.test('self-signed root is generated, persisted and reloaded', async (t) => {
  const dir = await makeTempDir('ambit-ca');
  t.teardown(() => removeDir(dir));
  const started = performance.now();
  const ca = await CertificateAuthority.open({ dir });
  const ms = performance.now() - started;
  t.equal(ca.source, 'self-signed');
  t.ok(ca.rootGenerationMs !== undefined && ca.rootGenerationMs > 0, 'generated on first start');
  t.comment(`root generation: ${ca.rootGenerationMs!.toFixed(1)} ms (key + self-signed cert), open() total ${ms.toFixed(1)} ms`);
  t.equal((await stat(path.join(dir, 'ca-key.pem'))).mode & 0o777, 0o600, 'key is 0600');
  const root = parseCertificate(ca.rootPem());
  t.equal(root.subject, 'O=cluster.local');
  t.equal(root.isCa, true);
  t.equal(root.mayIssue, true);
  const ku = root.x509cert.getExtension(x509.KeyUsagesExtension);
  t.ok(ku && ku.critical && ku.usages & x509.KeyUsageFlags.keyCertSign, 'keyCertSign, critical');
  const years = (root.notAfter.getTime() - Date.now()) / (365.25 * 86_400_000);
  t.ok(years > 9.9 && years < 10.1, `about 10 years (${years.toFixed(2)})`);
  t.equal(await readFile(path.join(dir, 'ca-cert.pem'), 'utf8'), ca.rootPem());

  const again = await CertificateAuthority.open({ dir });
  t.equal(again.rootPem(), ca.rootPem(), 'same root after restart');
  t.equal(again.rootGenerationMs, undefined, 'not regenerated');
  // A certificate signed after the restart chains to the root published before it.
  const csr = await generateCsr(ID);
  const signed = await new Signer(again).sign({ csrPem: csr.csrPem });
  await verifyChain(signed.certChain[0]!, { roots: ca.rootPem() });
  t.pass('leaf from the reloaded CA verifies against the original root');

  await rm(path.join(dir, 'ca-cert.pem'));
  t.match(await codeOf(CertificateAuthority.open({ dir })), /^CA_CONFIG: .*found .*ca-key.pem but not .*ca-cert.pem/);
});

t.test('trust domain is validated and used for the root', async (t) => {
  const dir = await makeTempDir('ambit-ca');
  t.teardown(() => removeDir(dir));
  t.match(await codeOf(CertificateAuthority.open({ dir, trustDomain: 'Bad Domain' })), /^CA_CONFIG: .*trust domain "Bad Domain"/);
  const ca = await CertificateAuthority.open({ dir, trustDomain: 'mesh.example' });
  t.equal(parseCertificate(ca.rootPem()).subject, 'O=mesh.example');
  t.equal(ca.trustDomain, 'mesh.example');
});

t.test('plug-in cacerts: leaves chain to the intermediate, response is leaf → intermediate → root', async (t) => {
  const cases: Array<[string, Parameters<typeof writePlugInCerts>[1]]> = [
    ['ECDSA intermediate, PKCS#8 key', {}],
    ['ECDSA intermediate, SEC1 key', { keyFormat: 'sec1' }],
    ['RSA root and intermediate, PKCS#1 key', { rootKey: 'rsa-2048', intermediateKey: 'rsa-2048', keyFormat: 'pkcs1' }],
  ];
  for (const [name, opts] of cases) {
    const dir = await makeTempDir('ambit-ca');
    t.teardown(() => removeDir(dir));
    const pki = await writePlugInCerts(path.join(dir, 'cacerts'), opts);
    const ca = await CertificateAuthority.open({ dir });
    t.equal(ca.source, 'plug-in', name);
    t.equal(ca.rootPem(), pki.rootPem, `${name}: publishes the plug-in root`);
    const csr = await generateCsr(ID);
    const { certChain } = await new Signer(ca).sign({ csrPem: csr.csrPem });
    t.equal(certChain.length, 3, `${name}: three elements`);
    t.equal(certChain[1], pki.intermediatePem, `${name}: intermediate second`);
    t.equal(certChain[2], pki.rootPem, `${name}: root last`);
    const leaf = parseCertificate(certChain[0]!);
    t.equal(leaf.issuer, 'O=Istio, CN=Intermediate CA, L=cluster1', `${name}: issued by the intermediate`);
    const path2 = await verifyChain(leaf, { intermediates: [certChain[1]!], roots: certChain[2]! });
    t.equal(path2.length, 3, `${name}: verifies leaf → intermediate → root`);
  }
});

t.test('plug-in cacerts: bad sets are refused with the file named', async (t) => {
  const dir = await makeTempDir('ambit-ca');
  t.teardown(() => removeDir(dir));
  const cacerts = path.join(dir, 'cacerts');
  const pki = await writePlugInCerts(cacerts);
  const other = await writePlugInCerts(path.join(dir, 'other'));
  await rm(path.join(cacerts, 'root-cert.pem'));
  t.match(await codeOf(CertificateAuthority.open({ dir })), /^CA_CONFIG: .*missing root-cert.pem/);
  await writeFile(path.join(cacerts, 'root-cert.pem'), other.rootPem);
  await rm(path.join(cacerts, 'cert-chain.pem'));
  t.match(await codeOf(CertificateAuthority.open({ dir })), /^CA_CONFIG: .*ca-cert.pem does not chain to root-cert.pem/);
  await writeFile(path.join(cacerts, 'root-cert.pem'), pki.rootPem);
  await writeFile(path.join(cacerts, 'ca-key.pem'), await readFile(path.join(dir, 'other', 'ca-key.pem')));
  t.match(await codeOf(CertificateAuthority.open({ dir })), /^CA_CONFIG: .*ca-key.pem is not the private key of .*ca-cert.pem/);
  await writeFile(path.join(cacerts, 'ca-key.pem'), 'not a key');
  t.match(await codeOf(CertificateAuthority.open({ dir })), /^CA_CONFIG: .*ca-key.pem is not a readable PEM private key/);
  const leafOnly = await makeTempDir('ambit-ca');
  t.teardown(() => removeDir(leafOnly));
  await writePlugInCerts(path.join(leafOnly, 'cacerts'), { intermediateDays: -1 });
  t.match(await codeOf(CertificateAuthority.open({ dir: leafOnly })), /^CA_CONFIG: .*expired/);
});
