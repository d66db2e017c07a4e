// Helpers for tests of identity code and its users (any folder may use it: it imports only
// lib/identity): tampering, and a small CA that signs SPIFFE workload certificates.
import { createLeafCertificate, createRootCertificate, type Issuer } from './certgen.js';
import { verifyCsr } from './csr.js';
import { algorithmsFor, generateKeyPair } from './keys.js';
import { derToPem, splitPemBlocks } from './pem.js';

/** Flips one byte of a PEM object's DER, `fromEnd` bytes before its end (the signature area). */
export function tamperPem(pem: string, fromEnd = 1): string {
  const block = splitPemBlocks(pem)[0];
  if (!block) throw new Error('tamperPem: no PEM block');
  const der = Buffer.from(block.der);
  const i = der.length - fromEnd;
  der[i] = der[i]! ^ 0x01;
  return derToPem(der, block.label);
}

/** Replaces the first occurrence of `from` with `to` (same length) inside the DER of a PEM object. */
export function patchPemBytes(pem: string, from: string, to: string): string {
  if (from.length !== to.length) throw new Error('patchPemBytes: lengths differ');
  const block = splitPemBlocks(pem)[0];
  if (!block) throw new Error('patchPemBytes: no PEM block');
  const der = Buffer.from(block.der);
  const i = der.indexOf(from, 0, 'latin1');
  if (i < 0) throw new Error(`patchPemBytes: "${from}" not found`);
  der.write(to, i, 'latin1');
  return derToPem(der, block.label);
}

const DAY = 86_400_000;

export interface TestCa {
  trustDomain: string;
  rootPem: string;
  /**
   * Signs a workload CSR as a mesh CA answers one: the CSR is checked (one SPIFFE URI in this
   * trust domain, an allowed key, a valid self-signature) and the chain is leaf first, root last.
   */
  sign(csrPem: string, opts?: { ttlMs?: number }): Promise<{ certChain: string[] }>;
}

/** A self-signed root for `trustDomain` that signs leaves directly (no intermediate). */
export async function createTestCa(opts: { trustDomain?: string; name?: string } = {}): Promise<TestCa> {
  const trustDomain = opts.trustDomain ?? 'cluster.local';
  const signingAlgorithm = algorithmsFor('ec-p256').sign;
  const keys = await generateKeyPair('ec-p256');
  const now = Date.now();
  const root = await createRootCertificate({
    subject: `O=${trustDomain}, CN=${opts.name ?? 'test CA'}`,
    keys,
    signingAlgorithm,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 365 * DAY),
  });
  const issuer: Issuer = { certificate: root, privateKey: keys.privateKey, signingAlgorithm };
  const rootPem = root.toString('pem') + '\n';
  return {
    trustDomain,
    rootPem,
    async sign(csrPem, o = {}) {
      const csr = await verifyCsr(csrPem, { trustDomain });
      const t = Date.now();
      const leaf = await createLeafCertificate({
        publicKey: csr.request.publicKey,
        uris: [csr.identity.uri],
        issuer,
        notBefore: new Date(t - 60_000),
        notAfter: new Date(t + (o.ttlMs ?? DAY)),
      });
      return { certChain: [leaf.toString('pem') + '\n', rootPem] };
    },
  };
}
