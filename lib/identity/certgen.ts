// Certificate construction: self-signed roots, intermediates and workload leaves. Pure of I/O;
// the CA (control/ca) decides policy, this module only builds what it is told.
import { x509, type Algorithm, type CryptoKey, type CryptoKeyPair, type EcdsaParams } from './x509.js';

/** A certificate that can sign others, with its key. */
export interface Issuer {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
  signingAlgorithm: Algorithm | EcdsaParams;
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

const LEAF_USAGES = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
const CA_USAGES = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature;

const akiCache = new WeakMap<x509.X509Certificate, Promise<x509.AuthorityKeyIdentifierExtension>>();

/** The issuer's key id, computed once per issuer certificate (it is on every leaf). */
function authorityKeyId(issuer: x509.X509Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  let aki = akiCache.get(issuer);
  if (!aki) {
    const ski = issuer.getExtension(x509.SubjectKeyIdentifierExtension);
    aki = ski ? Promise.resolve(new x509.AuthorityKeyIdentifierExtension(ski.keyId)) : x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey);
    akiCache.set(issuer, aki);
  }
  return aki;
}

const leafExtensionCache = new WeakMap<x509.X509Certificate, Promise<x509.Extension[]>>();

/** The extensions every leaf of one issuer shares, encoded once: signing is hot in the CA. */
function leafExtensions(issuer: x509.X509Certificate): Promise<x509.Extension[]> {
  let exts = leafExtensionCache.get(issuer);
  if (!exts) {
    exts = authorityKeyId(issuer).then((aki) => [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(LEAF_USAGES, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      aki,
    ]);
    leafExtensionCache.set(issuer, exts);
  }
  return exts;
}

export interface RootOptions extends Validity {
  /** Distinguished name, e.g. "O=cluster.local" (Istio's self-signed root has only O). */
  subject: string;
  keys: CryptoKeyPair;
  signingAlgorithm: Algorithm | EcdsaParams;
}

export async function createRootCertificate(opts: RootOptions): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned({
    name: opts.subject,
    keys: opts.keys,
    signingAlgorithm: opts.signingAlgorithm,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(CA_USAGES, true),
      await x509.SubjectKeyIdentifierExtension.create(opts.keys.publicKey),
    ],
  });
}

export interface IntermediateOptions extends Validity {
  subject: string;
  publicKey: CryptoKey;
  issuer: Issuer;
  pathLength?: number;
}

export async function createIntermediateCertificate(opts: IntermediateOptions): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    subject: opts.subject,
    issuer: opts.issuer.certificate.subjectName,
    publicKey: opts.publicKey,
    signingKey: opts.issuer.privateKey,
    signingAlgorithm: opts.issuer.signingAlgorithm,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(true, opts.pathLength, true),
      new x509.KeyUsagesExtension(CA_USAGES, true),
      await x509.SubjectKeyIdentifierExtension.create(opts.publicKey),
      await authorityKeyId(opts.issuer.certificate),
    ],
  });
}

export interface LeafOptions extends Validity {
  /** The requester's public key (from its CSR) or a CryptoKey. */
  publicKey: x509.PublicKey | CryptoKey;
  uris: string[];
  dnsNames?: string[];
  /** IP address SANs, e.g. for a server that clients dial by address. */
  ipAddresses?: string[];
  /** Usually absent: a workload certificate's identity is its URI SAN. */
  subject?: string;
  issuer: Issuer;
}

/** A workload leaf: usable as TLS server and client, not a CA, identity in the (critical) SAN. */
export async function createLeafCertificate(opts: LeafOptions): Promise<x509.X509Certificate> {
  const names: x509.JsonGeneralNames = [
    ...opts.uris.map((value) => ({ type: 'url' as const, value })),
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  return x509.X509CertificateGenerator.create({
    ...(opts.subject ? { subject: opts.subject } : {}),
    issuer: opts.issuer.certificate.subjectName,
    publicKey: opts.publicKey,
    signingKey: opts.issuer.privateKey,
    signingAlgorithm: opts.issuer.signingAlgorithm,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    extensions: [...(await leafExtensions(opts.issuer.certificate)), new x509.SubjectAlternativeNameExtension(names, !opts.subject)],
  });
}
