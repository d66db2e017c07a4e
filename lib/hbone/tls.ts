// TLS for HBONE: mutual TLS 1.3 with SPIFFE identities, secure contexts cached
// per certificate (a handshake costs far more than the crypto after it), and the two identity checks
// Node's chain verification does not do.
import { createHash, constants as cryptoConstants } from 'node:crypto';
import type { PeerCertificate, SecureContext, SecureContextOptions, TlsOptions } from 'node:tls';
import tls from 'node:tls';
import { parseCertificate, parseCertificateChain, type PeerCertificateLike } from '../identity/chain.js';
import { trustDomainOf, tryParseSpiffeId } from '../identity/spiffe.js';
import { ALPN_H2, TLS13_CIPHERS } from './constants.js';
import { HboneError, errorMessage } from './errors.js';

/** One workload's certificate material. Swap the object to rotate: new handshakes use the new one. */
export interface Credentials {
  /** Leaf first, then intermediates (PEM, one certificate or a bundle per element). */
  certChainPem: string[];
  keyPem: string;
  /** The mesh roots: every certificate here is a trust anchor. */
  rootsPem: string[];
}

export type MaybePromise<T> = T | Promise<T>;

function pemProblem(v: unknown, label: string): string | undefined {
  if (typeof v !== 'string' || v.trim() === '') return 'is empty';
  if (!v.includes(`-----BEGIN ${label}`) && !(label === 'PRIVATE KEY' && /-----BEGIN [A-Z ]*PRIVATE KEY/.test(v))) return `holds no PEM ${label}`;
  return undefined;
}

/** Throws HBONE_CREDENTIALS naming the field when `c` cannot be a Credentials. */
export function validateCredentials(c: unknown, what = 'credentials'): asserts c is Credentials {
  const fail = (field: string, why: string): never => {
    throw new HboneError('HBONE_CREDENTIALS', `${what}: ${field} ${why}`);
  };
  if (typeof c !== 'object' || c === null) fail('', 'must be an object { certChainPem, keyPem, rootsPem }');
  const o = c as Record<string, unknown>;
  for (const field of ['certChainPem', 'rootsPem'] as const) {
    const v = o[field];
    if (!Array.isArray(v) || v.length === 0) fail(field, 'must be a non-empty array of PEM strings');
    (v as unknown[]).forEach((p, i) => {
      const problem = pemProblem(p, 'CERTIFICATE');
      if (problem) fail(`${field}[${i}]`, problem);
    });
  }
  const keyProblem = pemProblem(o.keyPem, 'PRIVATE KEY');
  if (keyProblem) fail('keyPem', keyProblem);
}

/**
 * Options shared by both roles. No session resumption: the client never offers a session, and
 * SSL_OP_NO_TICKET plus Node's disabled internal cache make the server refuse any (Node cannot stop
 * OpenSSL from sending its two useless tickets per handshake).
 */
function contextOptions(c: Credentials): SecureContextOptions {
  return {
    cert: c.certChainPem.join('\n'),
    key: c.keyPem,
    ca: c.rootsPem,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ciphers: TLS13_CIPHERS,
    secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
  };
}

/** The server half: client certificate mandatory and chain-verified by OpenSSL. */
export function serverTlsOptions(c: Credentials, handshakeTimeoutMs: number): TlsOptions {
  return { ...contextOptions(c), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ALPN_H2, handshakeTimeout: handshakeTimeoutMs };
}

export interface CredentialEntry {
  readonly fingerprint: string;
  readonly credentials: Credentials;
  /** The first URI SAN of our own leaf. */
  readonly identity: string;
  readonly trustDomain: string;
  /** A client context, made on first use. */
  clientContext(): SecureContext;
}

function fingerprintOf(c: Credentials): string {
  const h = createHash('sha256');
  for (const part of [...c.certChainPem, '\0', c.keyPem, '\0', ...c.rootsPem]) h.update(part).update('\0');
  return h.digest('hex');
}

function makeEntry(c: Credentials, fingerprint: string): CredentialEntry {
  validateCredentials(c);
  let leafUris: string[];
  try {
    leafUris = parseCertificateChain(c.certChainPem[0]!, 'credentials: certChainPem[0]')[0]!.uris;
  } catch (e) {
    throw new HboneError('HBONE_CREDENTIALS', errorMessage(e), { cause: e });
  }
  const identity = leafUris[0];
  const trustDomain = identity === undefined ? undefined : trustDomainOf(identity);
  if (identity === undefined || trustDomain === undefined) {
    throw new HboneError('HBONE_CREDENTIALS', `credentials: certChainPem[0] has no SPIFFE URI SAN (URIs: ${leafUris.join(', ') || 'none'})`);
  }
  let ctx: SecureContext | undefined;
  return {
    fingerprint,
    credentials: c,
    identity,
    trustDomain,
    clientContext() {
      if (!ctx) {
        try {
          ctx = tls.createSecureContext(contextOptions(c));
        } catch (e) {
          throw new HboneError('HBONE_CREDENTIALS', `credentials for ${identity}: ${errorMessage(e)}`, { cause: e });
        }
      }
      return ctx;
    },
  };
}

/**
 * Credential entries keyed by content, so that providers returning a fresh but equal object per
 * call still share one SecureContext. Least recently used entries go first.
 */
export class TlsContextCache {
  private readonly byObject = new WeakMap<Credentials, CredentialEntry>();
  private readonly byFingerprint = new Map<string, CredentialEntry>();

  constructor(private readonly maxEntries = 256) {}

  entry(c: Credentials): CredentialEntry {
    const known = this.byObject.get(c);
    if (known && this.byFingerprint.get(known.fingerprint) === known) {
      this.touch(known);
      return known;
    }
    const fp = fingerprintOf(c);
    let e = this.byFingerprint.get(fp);
    if (!e) {
      e = makeEntry(c, fp);
      if (this.byFingerprint.size >= this.maxEntries) {
        const oldest = this.byFingerprint.keys().next().value;
        if (oldest !== undefined) this.byFingerprint.delete(oldest);
      }
    }
    this.byObject.set(c, e);
    this.touch(e);
    return e;
  }

  get size(): number {
    return this.byFingerprint.size;
  }

  private touch(e: CredentialEntry): void {
    this.byFingerprint.delete(e.fingerprint);
    this.byFingerprint.set(e.fingerprint, e);
  }
}

/** The process-wide default; pools and servers share it unless given their own. */
export const defaultContextCache = new TlsContextCache();

// === identity checks (pure) ===

/**
 * All URI SANs of a peer leaf. OpenSSL's text form (already built for every handshake) is used
 * unless it quotes a value; then the DER is parsed.
 */
export function peerUriSans(peer: PeerCertificateLike | null | undefined): string[] {
  if (!peer?.raw || peer.raw.length === 0) return [];
  const text = peer.subjectaltname;
  if (text !== undefined && !text.includes('"')) {
    return text
      .split(', ')
      .filter((e) => e.startsWith('URI:'))
      .map((e) => e.slice(4));
  }
  try {
    return parseCertificate(peer.raw, 'peer certificate').uris;
  } catch {
    return [];
  }
}

export type PeerVerdict = { ok: true; identity: string } | { ok: false; reason: string };

/**
 * Server side: the client certificate must carry exactly one URI SAN, a SPIFFE workload id in our
 * trust domain. A second URI could make two readers of one certificate see two identities (the CA
 * never issues one), so it is refused rather than guessed at.
 */
export function checkClientIdentity(uris: readonly string[], trustDomain: string): PeerVerdict {
  if (uris.length === 0) return { ok: false, reason: 'client certificate has no URI SAN; an HBONE client must present one SPIFFE id' };
  if (uris.length > 1) {
    return { ok: false, reason: `client certificate has ${uris.length} URI SANs (${uris.join(', ')}); an HBONE client must present exactly one SPIFFE id` };
  }
  const uri = uris[0]!;
  const id = tryParseSpiffeId(uri);
  if (!id) return { ok: false, reason: `client certificate's URI SAN "${uri}" is not a SPIFFE workload identity (spiffe://<trust domain>/ns/<namespace>/sa/<service account>)` };
  if (id.trustDomain !== trustDomain) return { ok: false, reason: `client identity ${uri} is in trust domain "${id.trustDomain}", not in "${trustDomain}"` };
  return { ok: true, identity: id.uri };
}

/** Client side: at least one URI SAN of the server must be an expected identity. DNS names are not checked. */
export function checkServerIdentity(uris: readonly string[], expected: readonly string[]): PeerVerdict {
  const hit = uris.find((u) => expected.includes(u));
  if (hit !== undefined) return { ok: true, identity: hit };
  const got = uris.length ? uris.join(', ') : 'no URI SAN';
  return { ok: false, reason: `server presented ${got}; expected one of ${expected.join(', ')}` };
}

/** A `checkServerIdentity` for tls.connect that applies checkServerIdentity() to the peer's URI SANs. */
export function serverIdentityVerifier(expected: readonly string[], where: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const v = checkServerIdentity(peerUriSans(cert), expected);
    return v.ok ? undefined : new HboneError('HBONE_PEER_IDENTITY', `HBONE to ${where}: ${v.reason}`);
  };
}
