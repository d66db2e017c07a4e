// CSRs as the CA receives them: arbitrary text, mutated PEM, and valid PEM around mutated DER. The
// CA signs or refuses with a CaError saying why; nothing else escapes, and what it signs carries
// exactly the identity the CSR asked for.
import fc from 'fast-check';
import t from 'tap';
import { CertificateAuthority } from '../../control/ca/authority.js';
import { CaError } from '../../control/ca/errors.js';
import { Signer } from '../../control/ca/signer.js';
import { makeTempDir, removeDir } from '../../control/ca/testkit.js';
import { parseCertificate } from '../../lib/identity/chain.js';
import { generateCsr, parseCsr } from '../../lib/identity/csr.js';
import { IdentityError } from '../../lib/identity/errors.js';
import { derToPem, splitPemBlocks } from '../../lib/identity/pem.js';
import { fuzz, fuzzAsync, mutated, refusesOnly, refusesOnlyAsync } from './harness.js';

const ID = 'spiffe://cluster.local/ns/demo/sa/backend';
const dir = await makeTempDir('ambit-fuzz-ca');
t.teardown(() => removeDir(dir));
const ca = await CertificateAuthority.open({ dir });
const signer = new Signer(ca);
const valid = (await generateCsr(ID)).csrPem;
const validDer = splitPemBlocks(valid)[0]!.der;

async function signOrRefuse(pem: string): Promise<void> {
  const signed = await refusesOnlyAsync(() => signer.sign({ csrPem: pem }), CaError);
  if (!signed) return;
  const leaf = parseCertificate(signed.certChain[0]!);
  if (JSON.stringify(leaf.uris) !== JSON.stringify([ID])) throw new Error(`signed a certificate for ${JSON.stringify(leaf.uris)}`);
}

t.test('parseCsr', async (t) => {
  fuzz(t, 'ca csr parse (arbitrary text)', [fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((b) => `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from(b).toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`))], (s) => void refusesOnly(() => parseCsr(s), IdentityError), { weight: 3 });
});

t.test('the CA signs or refuses', async (t) => {
  await fuzzAsync(t, 'ca csr sign (mutated DER)', [mutated(validDer)], (der) => signOrRefuse(derToPem(der, 'CERTIFICATE REQUEST')), { weight: 1 });
  const edit = fc.array(fc.tuple(fc.nat(valid.length), fc.nat(4), fc.constantFrom('', 'A', '-', '\n', '=', ' ', '-----END CERTIFICATE REQUEST-----\n', '-----BEGIN CERTIFICATE REQUEST-----\n')), { minLength: 1, maxLength: 4 });
  await fuzzAsync(t, 'ca csr sign (mutated PEM text)', [edit], (edits) => {
    let s = valid;
    for (const [at, del, ins] of edits) s = s.slice(0, at) + ins + s.slice(at + del);
    return signOrRefuse(s);
  }, { weight: 1 });
});
