// Who is calling the certificate service. The interface is the seam: the File back end below
// verifies credentials that `ambit up` issues; a Kubernetes TokenReview authenticator can
// implement the same interface later.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { parseSpiffeId } from '../../lib/identity/spiffe.js';
import { silentLogger, type Logger } from '../../lib/telemetry/log.js';
import { CaError } from './errors.js';
import { ensureDir, readIfExists, writeFileAtomic } from './files.js';
import { keyIdOf, signToken, verifyToken, type TokenClaims } from './token.js';

export type Caller = { kind: 'node'; nodeName: string } | { kind: 'workload'; identity: string };

/** `node/NAME` or the workload's SPIFFE id: how logs and /debug/connections name a caller. */
export function describeCaller(c: Caller): string {
  return c.kind === 'node' ? `node/${c.nodeName}` : c.identity;
}

/** What the transport knows about the caller. */
export interface PeerInfo {
  /** Remote address, for logs. */
  address?: string;
  /** SPIFFE id of a client certificate the TLS layer has already verified. */
  identity?: string;
}

export interface Authenticator {
  /** Resolves the caller or rejects with a CaError of kind 'unauthenticated'. */
  authenticate(credential: string, peer?: PeerInfo): Promise<Caller>;
}

export const NODE_TOKEN_KEY_FILE = 'node-token-key.pem';
export const DEFAULT_TOKEN_ISSUER = 'ambit-ca';
/** Istio's ztunnel asks for tokens with audience istio-ca; the same audience keeps the tokens interchangeable. */
export const DEFAULT_TOKEN_AUDIENCE = 'istio-ca';

const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function nodeNameProblem(name: string): string | undefined {
  if (name === '') return 'node name is empty';
  if (name.length > 253 || !DNS_SUBDOMAIN_RE.test(name)) return `node name "${name}" is not a valid Kubernetes name`;
  return undefined;
}

/** Strips an optional "Bearer " prefix, as gRPC metadata `authorization` carries it. */
export function bearerToken(credential: string): string {
  const m = /^bearer(?:\s+|$)(.*)$/is.exec(credential.trim());
  return (m ? m[1]! : credential).trim();
}

export interface FileAuthenticatorOptions {
  /** Directory of the signing key (node-token-key.pem, 0600), usually the CA state directory. */
  dir: string;
  issuer?: string;
  audience?: string;
  now?: () => Date;
  logger?: Logger;
}

export class FileAuthenticator implements Authenticator {
  readonly keyId: string;
  private readonly publicKey: KeyObject;
  private readonly issuer: string;
  private readonly audience: string;
  private readonly now: () => Date;

  private constructor(
    private readonly privateKey: KeyObject,
    opts: FileAuthenticatorOptions,
  ) {
    this.publicKey = createPublicKey(privateKey);
    this.keyId = keyIdOf(privateKey);
    this.issuer = opts.issuer ?? DEFAULT_TOKEN_ISSUER;
    this.audience = opts.audience ?? DEFAULT_TOKEN_AUDIENCE;
    this.now = opts.now ?? (() => new Date());
  }

  /** Loads the token key from `dir`, generating it on first use. */
  static async open(opts: FileAuthenticatorOptions): Promise<FileAuthenticator> {
    const log = opts.logger ?? silentLogger();
    await ensureDir(opts.dir);
    const file = path.join(opts.dir, NODE_TOKEN_KEY_FILE);
    const pem = await readIfExists(file);
    let key: KeyObject;
    if (pem === undefined) {
      key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
      await writeFileAtomic(file, key.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
      log.info({ file }, 'CA: generated the node credential signing key');
    } else {
      try {
        key = createPrivateKey(pem);
      } catch (e) {
        throw new CaError('CA_CONFIG', `${file} is not a readable private key: ${(e as Error).message}`);
      }
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new CaError('CA_CONFIG', `${file} must hold an ECDSA P-256 key for ES256 credentials`);
      }
    }
    return new FileAuthenticator(key, opts);
  }

  private issue(kind: TokenClaims['kind'], sub: string, ttlSeconds: number): string {
    if (!(Number.isFinite(ttlSeconds) && ttlSeconds > 0)) throw new CaError('TTL_INVALID', `credential lifetime ${ttlSeconds} s must be positive`);
    const iat = Math.floor(this.now().getTime() / 1000);
    return signToken({ iss: this.issuer, aud: this.audience, sub, kind, iat, exp: iat + Math.ceil(ttlSeconds) }, this.privateKey, this.keyId);
  }

  /** The credential `ambit up` hands to the ztunnel of `nodeName` (default lifetime 30 days). */
  issueNodeCredential(nodeName: string, ttlSeconds = 30 * 86_400): string {
    const problem = nodeNameProblem(nodeName);
    if (problem) throw new CaError('CREDENTIAL_INVALID', problem);
    return this.issue('node', nodeName, ttlSeconds);
  }

  /** A credential for one workload identity (waypoints, tests); default lifetime 24 h. */
  issueWorkloadCredential(identity: string, ttlSeconds = 86_400): string {
    return this.issue('workload', parseSpiffeId(identity).uri, ttlSeconds);
  }

  async authenticate(credential: string, _peer?: PeerInfo): Promise<Caller> {
    const token = typeof credential === 'string' ? bearerToken(credential) : '';
    if (token === '') throw new CaError('CREDENTIAL_MISSING', 'no credential: send "authorization: Bearer <token>"');
    const claims = verifyToken(token, this.publicKey, this.keyId, {
      issuer: this.issuer,
      audience: this.audience,
      now: Math.floor(this.now().getTime() / 1000),
    });
    if (claims.kind === 'node') {
      const problem = nodeNameProblem(claims.sub);
      if (problem) throw new CaError('CREDENTIAL_MALFORMED', `credential is malformed: ${problem}`);
      return { kind: 'node', nodeName: claims.sub };
    }
    try {
      return { kind: 'workload', identity: parseSpiffeId(claims.sub).uri };
    } catch (e) {
      throw new CaError('CREDENTIAL_MALFORMED', `credential is malformed: ${(e as Error).message}`);
    }
  }
}
