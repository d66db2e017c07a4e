// PKCS#10 certificate signing requests: generate (what ztunnel sends) and parse + verify (what the CA
// accepts). Istio's CSRs carry an ECDSA P-256 key, no subject and one critical URI SAN.
import { IdentityError } from './errors.js';
import { algorithmsFor, describeKey, describeParsedAlgorithm, describePublicKey, exportPrivateKeyPem, generateKeyPair, type KeyDescription, type KeyKind } from './keys.js';
import { derToPem, splitPemBlocks } from './pem.js';
import { parseSpiffeId, trustDomainOf, type SpiffeId } from './spiffe.js';
import { x509, type CryptoKeyPair } from './x509.js';

export interface GeneratedCsr {
  csrPem: string;
  /** PKCS#8 PEM of the private key; it never leaves the requester. */
  privateKeyPem: string;
  keys: CryptoKeyPair;
}

export interface BuildCsrOptions {
  uris?: string[];
  dnsNames?: string[];
  /** Subject DN such as "O=example"; Istio sends none. */
  subject?: string;
  key?: KeyKind;
  /** Use this key pair instead of generating one. */
  keys?: CryptoKeyPair;
}

/** Builds a CSR with exactly the SANs given, unchecked: the building block, also for tests. */
export async function buildCsr(opts: BuildCsrOptions): Promise<GeneratedCsr> {
  const kind = opts.key ?? 'ec-p256';
  const keys = opts.keys ?? (await generateKeyPair(kind));
  const names: x509.JsonGeneralNames = [
    ...(opts.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
  ];
  // With an empty subject the SAN extension must be critical (RFC 5280 §4.2.1.6).
  const extensions = names.length ? [new x509.SubjectAlternativeNameExtension(names, !opts.subject)] : [];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    ...(opts.subject ? { name: opts.subject } : {}),
    keys,
    signingAlgorithm: algorithmsFor(kind).sign,
    extensions,
  });
  return { csrPem: csr.toString('pem') + '\n', privateKeyPem: await exportPrivateKeyPem(keys.privateKey), keys };
}

/** A fresh ECDSA P-256 key and a CSR for `identity`, exactly what ztunnel sends to the CA. */
export async function generateCsr(identity: string | SpiffeId, opts: { key?: KeyKind } = {}): Promise<GeneratedCsr> {
  const id = typeof identity === 'string' ? parseSpiffeId(identity) : identity;
  return buildCsr({ uris: [id.uri], key: opts.key ?? 'ec-p256' });
}

export interface ParsedCsr {
  pem: string;
  der: Buffer;
  subject: string;
  key: KeyDescription;
  publicKeyDer: Buffer;
  uris: string[];
  dnsNames: string[];
  /** SANs of other types, as "type:value". */
  otherSans: string[];
  request: x509.Pkcs10CertificateRequest;
}

export const MAX_CSR_BYTES = 64 * 1024;
const CSR_LABELS = new Set(['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);

function csrError(message: string): never {
  throw new IdentityError('CSR_INVALID', message);
}

/** Parses a PEM CSR without judging it; throws CSR_INVALID when it cannot be read. */
export function parseCsr(pem: string): ParsedCsr {
  if (typeof pem !== 'string' || pem.trim() === '') csrError('CSR is empty');
  if (pem.length > MAX_CSR_BYTES) csrError(`CSR is ${pem.length} bytes, more than the ${MAX_CSR_BYTES} allowed`);
  let blocks;
  try {
    blocks = splitPemBlocks(pem).filter((b) => CSR_LABELS.has(b.label));
  } catch (e) {
    csrError(`CSR is not valid PEM: ${(e as Error).message}`);
  }
  if (blocks.length !== 1) csrError(`CSR must be exactly one "CERTIFICATE REQUEST" PEM block, found ${blocks.length}`);
  const der = blocks[0]!.der;
  try {
    const request = new x509.Pkcs10CertificateRequest(der);
    const publicKeyDer = Buffer.from(request.publicKey.rawData);
    const uris: string[] = [];
    const dnsNames: string[] = [];
    const otherSans: string[] = [];
    for (const ext of request.extensions) {
      if (!(ext instanceof x509.SubjectAlternativeNameExtension)) continue;
      for (const name of ext.names.items) {
        if (name.type === 'url') uris.push(name.value);
        else if (name.type === 'dns') dnsNames.push(name.value);
        else otherSans.push(`${name.type}:${name.value}`);
      }
    }
    return {
      pem: derToPem(der, 'CERTIFICATE REQUEST'),
      der,
      subject: request.subject,
      key: describeParsedAlgorithm(request.publicKey.algorithm) ?? describePublicKey(publicKeyDer),
      publicKeyDer,
      uris,
      dnsNames,
      otherSans,
      request,
    };
  } catch (e) {
    if (e instanceof IdentityError) throw e;
    csrError(`CSR cannot be parsed as PKCS#10: ${(e as Error).message}`);
  }
}

export async function verifyCsrSignature(csr: ParsedCsr): Promise<boolean> {
  try {
    return await csr.request.verify();
  } catch {
    return false;
  }
}

export interface CsrPolicy {
  /** When set, the SPIFFE id must be in this trust domain. */
  trustDomain?: string;
  /** EC curves accepted (default P-256 only, as Istio sends). */
  curves?: string[];
  /** Minimum RSA modulus; 0 refuses RSA altogether (default 2048). */
  minRsaBits?: number;
}

export interface VerifiedCsr extends ParsedCsr {
  identity: SpiffeId;
}

/** Key policy: a reason string when `key` is not acceptable, else undefined. */
export function csrKeyProblem(key: KeyDescription, policy: CsrPolicy = {}): string | undefined {
  const curves = policy.curves ?? ['P-256'];
  const minRsa = policy.minRsaBits ?? 2048;
  if (key.type === 'ec' && key.curve && curves.includes(key.curve)) return undefined;
  if (key.type === 'rsa' && minRsa > 0 && (key.bits ?? 0) >= minRsa) return undefined;
  const allowed = [...curves.map((c) => `ECDSA ${c}`), ...(minRsa > 0 ? [`RSA of at least ${minRsa} bits`] : [])];
  return `CSR key is ${describeKey(key)}; allowed: ${allowed.join(' or ')}`;
}

/**
 * Checks a CSR as the CA does: readable, an allowed key, exactly one SAN which is an Istio SPIFFE
 * URI (in `policy.trustDomain` if given), and a valid self-signature. Cheap checks run first.
 */
export async function verifyCsr(input: string | ParsedCsr, policy: CsrPolicy = {}): Promise<VerifiedCsr> {
  const csr = typeof input === 'string' ? parseCsr(input) : input;
  const keyProblem = csrKeyProblem(csr.key, policy);
  if (keyProblem) throw new IdentityError('CSR_KEY_UNSUPPORTED', keyProblem);
  if (csr.dnsNames.length || csr.otherSans.length) {
    const extra = [...csr.dnsNames.map((d) => `DNS:${d}`), ...csr.otherSans].join(', ');
    throw new IdentityError('CSR_SANS', `CSR has non-URI SANs (${extra}); exactly one SPIFFE identity is required`);
  }
  if (csr.uris.length !== 1) {
    const n = csr.uris.length === 0 ? 'no URI SAN' : `${csr.uris.length} URI SANs`;
    throw new IdentityError('CSR_SANS', `CSR has ${n}; exactly one SPIFFE identity is required`);
  }
  const uri = csr.uris[0]!;
  const td = trustDomainOf(uri);
  if (policy.trustDomain !== undefined && td !== undefined && td !== policy.trustDomain) {
    throw new IdentityError(
      'CSR_TRUST_DOMAIN',
      `CSR asks for ${uri} in trust domain "${td}"; this CA signs only for trust domain "${policy.trustDomain}"`,
    );
  }
  let identity: SpiffeId;
  try {
    identity = parseSpiffeId(uri);
  } catch (e) {
    throw new IdentityError('CSR_SANS', `CSR URI SAN is not a usable identity: ${(e as Error).message}`);
  }
  if (!(await verifyCsrSignature(csr))) {
    throw new IdentityError('CSR_BAD_SIGNATURE', 'CSR signature does not verify with the public key it carries');
  }
  return { ...csr, identity };
}
