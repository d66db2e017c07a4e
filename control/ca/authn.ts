// Who is calling the certificate service. The interface is the seam: the File back end below
// verifies credentials that `ambit up` issues; kube-authn.ts reviews service-account tokens with
// the API server in Kubernetes mode.
import { CredentialError } from '../../lib/credentials/errors.js';
import { nodeNameProblem, TokenIssuer, type TokenIssuerOptions } from '../../lib/credentials/issuer.js';
import { parseSpiffeId } from '../../lib/identity/spiffe.js';
import { CaError, type CaErrorCode } from './errors.js';
import { verifyToken } from './token.js';

export { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_ISSUER, NODE_TOKEN_KEY_FILE, nodeNameProblem } from '../../lib/credentials/issuer.js';

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

/** Strips an optional "Bearer " prefix, as gRPC metadata `authorization` carries it. */
export function bearerToken(credential: string): string {
  const m = /^bearer(?:\s+|$)(.*)$/is.exec(credential.trim());
  return (m ? m[1]! : credential).trim();
}

export type FileAuthenticatorOptions = TokenIssuerOptions;

/** The certificate service's words for what the issuer refuses. */
const ISSUE_CODES: Record<CredentialError['code'], CaErrorCode> = {
  KEY_INVALID: 'CA_CONFIG',
  TTL_INVALID: 'TTL_INVALID',
  NODE_NAME_INVALID: 'CREDENTIAL_INVALID',
  IDENTITY_INVALID: 'IDENTITY_INVALID',
};

function asCaError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CredentialError) throw new CaError(ISSUE_CODES[e.code], e.message);
    throw e;
  }
}

export class FileAuthenticator implements Authenticator {
  readonly keyId: string;

  private constructor(private readonly tokens: TokenIssuer) {
    this.keyId = tokens.keyId;
  }

  /** Loads the token key from `dir`, generating it on first use. */
  static async open(opts: FileAuthenticatorOptions): Promise<FileAuthenticator> {
    try {
      return new FileAuthenticator(await TokenIssuer.open(opts));
    } catch (e) {
      if (e instanceof CredentialError) throw new CaError(ISSUE_CODES[e.code], e.message);
      throw e;
    }
  }

  /** The credential `ambit up` hands to the ztunnel of `nodeName` (default lifetime 30 days). */
  issueNodeCredential(nodeName: string, ttlSeconds?: number): string {
    return asCaError(() => this.tokens.issueNodeCredential(nodeName, ttlSeconds));
  }

  /** A credential for one workload identity (waypoints, tests); default lifetime 24 h. */
  issueWorkloadCredential(identity: string, ttlSeconds?: number): string {
    return asCaError(() => this.tokens.issueWorkloadCredential(identity, ttlSeconds));
  }

  async authenticate(credential: string, _peer?: PeerInfo): Promise<Caller> {
    const token = typeof credential === 'string' ? bearerToken(credential) : '';
    if (token === '') throw new CaError('CREDENTIAL_MISSING', 'no credential: send "authorization: Bearer <token>"');
    const claims = await verifyToken(token, this.tokens.publicKey, this.keyId, {
      issuer: this.tokens.issuer,
      audience: this.tokens.audience,
      now: Math.floor(this.tokens.now().getTime() / 1000),
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
