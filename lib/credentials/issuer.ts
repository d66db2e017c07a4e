// The signing side of node and workload credentials: one ES256 key in the CA state directory
// (generated on first use, 0600) that both the control plane, which verifies, and `ambit up`,
// which issues a credential per node before any control plane runs, open.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { parseSpiffeId } from '../identity/spiffe.js';
import { ensureDir, readIfExists, writeFileAtomic } from '../sys/atomic-files.js';
import { silentLogger, type Logger } from '../telemetry/log.js';
import { CredentialError } from './errors.js';
import { keyIdOf, signToken, type TokenClaims } from './token.js';

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

export interface TokenIssuerOptions {
  /** Directory of the signing key (node-token-key.pem, 0600), usually the CA state directory. */
  dir: string;
  issuer?: string;
  audience?: string;
  now?: () => Date;
  logger?: Logger;
}

/** Loads the token key from `dir`, generating it on first use. */
async function openKey(dir: string, log: Logger): Promise<KeyObject> {
  await ensureDir(dir);
  const file = path.join(dir, NODE_TOKEN_KEY_FILE);
  const pem = await readIfExists(file);
  if (pem === undefined) {
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    await writeFileAtomic(file, key.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    log.info({ file }, 'CA: generated the node credential signing key');
    return key;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new CredentialError('KEY_INVALID', `${file} is not a readable private key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new CredentialError('KEY_INVALID', `${file} must hold an ECDSA P-256 key for ES256 credentials`);
  }
  return key;
}

export class TokenIssuer {
  readonly keyId: string;
  /** What verifiers check signatures with. */
  readonly publicKey: KeyObject;
  readonly issuer: string;
  readonly audience: string;
  readonly now: () => Date;

  private constructor(
    private readonly privateKey: KeyObject,
    opts: TokenIssuerOptions,
  ) {
    this.publicKey = createPublicKey(privateKey);
    this.keyId = keyIdOf(privateKey);
    this.issuer = opts.issuer ?? DEFAULT_TOKEN_ISSUER;
    this.audience = opts.audience ?? DEFAULT_TOKEN_AUDIENCE;
    this.now = opts.now ?? (() => new Date());
  }

  static async open(opts: TokenIssuerOptions): Promise<TokenIssuer> {
    return new TokenIssuer(await openKey(opts.dir, opts.logger ?? silentLogger()), opts);
  }

  private issue(kind: TokenClaims['kind'], sub: string, ttlSeconds: number): string {
    if (!(Number.isFinite(ttlSeconds) && ttlSeconds > 0)) throw new CredentialError('TTL_INVALID', `credential lifetime ${ttlSeconds} s must be positive`);
    const iat = Math.floor(this.now().getTime() / 1000);
    return signToken({ iss: this.issuer, aud: this.audience, sub, kind, iat, exp: iat + Math.ceil(ttlSeconds) }, this.privateKey, this.keyId);
  }

  /** The credential `ambit up` hands to the ztunnel of `nodeName` (default lifetime 30 days). */
  issueNodeCredential(nodeName: string, ttlSeconds = 30 * 86_400): string {
    const problem = nodeNameProblem(nodeName);
    if (problem) throw new CredentialError('NODE_NAME_INVALID', problem);
    return this.issue('node', nodeName, ttlSeconds);
  }

  /** A credential for one workload identity (waypoints, tests); default lifetime 24 h. */
  issueWorkloadCredential(identity: string, ttlSeconds = 86_400): string {
    let uri: string;
    try {
      uri = parseSpiffeId(identity).uri;
    } catch (e) {
      throw new CredentialError('IDENTITY_INVALID', (e as Error).message);
    }
    return this.issue('workload', uri, ttlSeconds);
  }
}
