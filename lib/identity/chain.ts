// Certificate chains: parse, read identities and validity, verify leaf → intermediates → root.
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { IdentityError } from './errors.js';
import { derToPem, splitPemBlocks } from './pem.js';
import { parseSpiffeId, type SpiffeId } from './spiffe.js';
import { x509 } from './x509.js';

export { derToPem, joinPem, splitPem, splitPemBlocks } from './pem.js';

/** One certificate, parsed once; signature checks use Node's native X509 lazily. */
export class ParsedCertificate {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly uris: string[] = [];
  readonly dnsNames: string[] = [];
  readonly isCa: boolean;
  readonly pathLength: number | undefined;
  /** False only when a KeyUsage extension is present without keyCertSign. */
  readonly mayIssue: boolean;
  private nodeCert: NodeX509Certificate | undefined;
  private readonly subjectDer: Buffer;
  private readonly issuerDer: Buffer;

  constructor(
    readonly der: Buffer,
    readonly x509cert: x509.X509Certificate,
  ) {
    this.subject = x509cert.subject;
    this.issuer = x509cert.issuer;
    this.serialNumber = x509cert.serialNumber;
    this.notBefore = x509cert.notBefore;
    this.notAfter = x509cert.notAfter;
    this.subjectDer = Buffer.from(x509cert.subjectName.toArrayBuffer());
    this.issuerDer = Buffer.from(x509cert.issuerName.toArrayBuffer());
    for (const ext of x509cert.getExtensions(x509.SubjectAlternativeNameExtension)) {
      for (const n of ext.names.items) {
        if (n.type === 'url') this.uris.push(n.value);
        else if (n.type === 'dns') this.dnsNames.push(n.value);
      }
    }
    const bc = x509cert.getExtension(x509.BasicConstraintsExtension);
    this.isCa = bc?.ca ?? false;
    this.pathLength = bc?.pathLength;
    const ku = x509cert.getExtension(x509.KeyUsagesExtension);
    this.mayIssue = ku === null || (ku.usages & x509.KeyUsageFlags.keyCertSign) !== 0;
  }

  get pem(): string {
    return derToPem(this.der);
  }

  get node(): NodeX509Certificate {
    this.nodeCert ??= new NodeX509Certificate(this.der);
    return this.nodeCert;
  }

  /** A short name for messages: the first URI SAN, else the subject, else the serial. */
  get label(): string {
    return this.uris[0] ?? (this.subject || `serial ${this.serialNumber}`);
  }

  /** Whether `other`'s subject is this certificate's issuer (byte-equal names). */
  namedIssuer(other: ParsedCertificate): boolean {
    return this.issuerDer.equals(other.subjectDer);
  }

  signedBy(other: ParsedCertificate): boolean {
    try {
      return this.node.verify(other.node.publicKey);
    } catch {
      return false;
    }
  }
}

/** Parses one certificate from PEM (exactly one block) or DER. */
export function parseCertificate(input: string | Uint8Array, what = 'certificate'): ParsedCertificate {
  let der: Buffer;
  if (typeof input === 'string') {
    const blocks = splitPemBlocks(input, 'CERTIFICATE');
    if (blocks.length !== 1) {
      throw new IdentityError('CERT_INVALID', `${what} must be exactly one PEM certificate, found ${blocks.length}`);
    }
    der = blocks[0]!.der;
  } else {
    der = Buffer.from(input);
  }
  try {
    return new ParsedCertificate(der, new x509.X509Certificate(der));
  } catch (e) {
    throw new IdentityError('CERT_INVALID', `${what} cannot be parsed as X.509: ${(e as Error).message}`);
  }
}

/** Every certificate of a PEM bundle (or of several PEM strings), in order. */
export function parseCertificateChain(input: string | readonly string[], what = 'certificate chain'): ParsedCertificate[] {
  const text = typeof input === 'string' ? input : input.join('\n');
  const blocks = splitPemBlocks(text, 'CERTIFICATE');
  if (blocks.length === 0) throw new IdentityError('CHAIN_EMPTY', `${what} holds no PEM certificate`);
  return blocks.map((b, i) => parseCertificate(b.der, `${what} entry ${i}`));
}

/** The peer identity: the first URI SAN, as Istio uses it. */
export function firstUriSan(cert: ParsedCertificate | string): string | undefined {
  return (typeof cert === 'string' ? parseCertificate(cert) : cert).uris[0];
}

/** The first URI SAN parsed as an Istio SPIFFE id. */
export function spiffeIdOf(cert: ParsedCertificate | string): SpiffeId {
  const c = typeof cert === 'string' ? parseCertificate(cert) : cert;
  const uri = c.uris[0];
  if (uri === undefined) throw new IdentityError('PEER_NO_SPIFFE', `certificate ${c.label} has no URI SAN`);
  try {
    return parseSpiffeId(uri);
  } catch (e) {
    throw new IdentityError('PEER_NO_SPIFFE', `certificate's first URI SAN is not an identity: ${(e as Error).message}`);
  }
}

/**
 * Splits an Istio CreateCertificate response: element 0 is the leaf, the middle ones intermediates,
 * the last the root bundle (which may hold several roots, all of them trust anchors).
 */
export function splitCertChainResponse(certChain: readonly string[]): {
  leaf: ParsedCertificate;
  intermediates: ParsedCertificate[];
  roots: ParsedCertificate[];
} {
  if (certChain.length < 2) {
    throw new IdentityError('CHAIN_EMPTY', `certificate chain has ${certChain.length} element(s); need a leaf and a root`);
  }
  const leaf = parseCertificate(certChain[0]!, 'leaf certificate');
  const intermediates = certChain.slice(1, -1).flatMap((p, i) => parseCertificateChain(p, `intermediate ${i + 1}`));
  const roots = parseCertificateChain(certChain[certChain.length - 1]!, 'root bundle');
  return { leaf, intermediates, roots };
}

export interface VerifyChainOptions {
  /** Trust anchors: PEM bundle(s) or parsed certificates. */
  roots: string | readonly (string | ParsedCertificate)[];
  intermediates?: readonly (string | ParsedCertificate)[];
  /** Time at which every certificate must be valid (default now). */
  at?: Date;
  /** Maximum number of intermediates (default 8). */
  maxIntermediates?: number;
}

function toCerts(input: string | readonly (string | ParsedCertificate)[], what: string): ParsedCertificate[] {
  if (typeof input === 'string') return parseCertificateChain(input, what);
  return input.flatMap((c) => (typeof c === 'string' ? parseCertificateChain(c, what) : [c]));
}

function checkTime(cert: ParsedCertificate, role: string, at: Date): void {
  if (at < cert.notBefore) {
    throw new IdentityError('CHAIN_NOT_YET_VALID', `${role} ${cert.label} is not valid before ${cert.notBefore.toISOString()} (checked at ${at.toISOString()})`);
  }
  if (at > cert.notAfter) {
    throw new IdentityError('CHAIN_EXPIRED', `${role} ${cert.label} expired at ${cert.notAfter.toISOString()} (checked at ${at.toISOString()})`);
  }
}

function checkIssuerRole(issuer: ParsedCertificate, role: string, below: number): void {
  if (!issuer.isCa) throw new IdentityError('CHAIN_NOT_CA', `${role} ${issuer.label} signed a certificate but is not a CA`);
  if (!issuer.mayIssue) throw new IdentityError('CHAIN_NOT_CA', `${role} ${issuer.label} signed a certificate but its key usage lacks keyCertSign`);
  if (issuer.pathLength !== undefined && below > issuer.pathLength) {
    throw new IdentityError('CHAIN_TOO_LONG', `${role} ${issuer.label} allows ${issuer.pathLength} intermediate(s) below it, the chain has ${below}`);
  }
}

/**
 * Verifies leaf → intermediates → one of the roots: names, signatures, CA flags, path lengths and
 * validity times of every certificate. Returns the path, leaf first and the root last.
 */
export async function verifyChain(leafInput: string | ParsedCertificate, opts: VerifyChainOptions): Promise<ParsedCertificate[]> {
  const leaf = typeof leafInput === 'string' ? parseCertificate(leafInput, 'leaf certificate') : leafInput;
  const roots = toCerts(opts.roots, 'root bundle');
  if (roots.length === 0) throw new IdentityError('CHAIN_EMPTY', 'no trusted root certificate given');
  const pool = toCerts(opts.intermediates ?? [], 'intermediates');
  const at = opts.at ?? new Date();
  const maxIntermediates = opts.maxIntermediates ?? 8;
  checkTime(leaf, 'leaf certificate', at);
  if (roots.some((r) => r.der.equals(leaf.der))) return [leaf];
  const path = [leaf];
  let current = leaf;
  for (;;) {
    const below = path.length - 1;
    const root = roots.find((r) => current.namedIssuer(r) && current.signedBy(r));
    if (root) {
      checkIssuerRole(root, 'root', below);
      checkTime(root, 'root', at);
      path.push(root);
      return path;
    }
    if (below >= maxIntermediates) {
      throw new IdentityError('CHAIN_TOO_LONG', `chain of ${leaf.label} has more than ${maxIntermediates} intermediates`);
    }
    const named = [...pool, ...roots].filter((c) => current.namedIssuer(c) && !path.includes(c));
    const next = named.find((c) => pool.includes(c) && current.signedBy(c));
    if (!next) {
      const role = current === leaf ? 'leaf certificate' : 'intermediate';
      const issuer = current.issuer || '(empty name)';
      if (named.length) {
        throw new IdentityError('CHAIN_BAD_SIGNATURE', `${role} ${current.label}: signature does not verify with the key of its issuer "${issuer}"`);
      }
      throw new IdentityError('CHAIN_UNKNOWN_ISSUER', `${role} ${current.label} was issued by "${issuer}", which is neither a trusted root nor a known intermediate`);
    }
    checkIssuerRole(next, 'intermediate', below);
    checkTime(next, 'intermediate', at);
    path.push(next);
    current = next;
  }
}

/** What `tlsSocket.getPeerCertificate(true)` or `getPeerX509Certificate()` returns. */
export interface PeerCertificateLike {
  raw?: Uint8Array;
  /** OpenSSL's rendering, e.g. "URI:spiffe://td/ns/a/sa/b, DNS:x" (getPeerCertificate only). */
  subjectaltname?: string;
}

/**
 * The first URI SAN from OpenSSL's text, which Node has already produced for every handshake.
 * Values with special characters are quoted there; those go the slow (DER) way.
 */
function firstUriFromText(text: string | undefined): string | undefined {
  if (text === undefined || text.includes('"')) return undefined;
  for (const entry of text.split(', ')) {
    if (entry.startsWith('URI:')) return entry.slice(4);
  }
  return undefined;
}

/**
 * The SPIFFE identity of a TLS peer. Only meaningful once the handshake has verified the chain
 * (`socket.authorized`); this reads the first URI SAN of the leaf.
 */
export function identityFromPeerCertificate(peer: PeerCertificateLike | null | undefined): SpiffeId {
  if (!peer?.raw || peer.raw.length === 0) {
    throw new IdentityError('PEER_NO_CERT', 'peer presented no certificate');
  }
  const fast = firstUriFromText(peer.subjectaltname);
  if (fast !== undefined) {
    try {
      return parseSpiffeId(fast);
    } catch {
      // fall through: the DER path gives the precise error
    }
  }
  return spiffeIdOf(parseCertificate(peer.raw, 'peer certificate'));
}
