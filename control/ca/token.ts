// Compact ES256 tokens (JWS, RFC 7515, in JWT form) for node and workload credentials. Strict on
// purpose: one algorithm, one key id, every claim checked; each refusal says why.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { CaError } from './errors.js';

export interface TokenClaims {
  iss: string;
  aud: string;
  /** Node name or SPIFFE id. */
  sub: string;
  kind: 'node' | 'workload';
  iat: number;
  exp: number;
}

export interface TokenExpectations {
  issuer: string;
  audience: string;
  /** Seconds since the epoch. */
  now: number;
  /** Tolerated clock skew for `iat` in the future (default 300 s). */
  skewSeconds?: number;
}

export const MAX_TOKEN_LENGTH = 8192;
const B64URL_PART = '[A-Za-z0-9_-]+';
const COMPACT_RE = new RegExp(`^${B64URL_PART}\\.${B64URL_PART}\\.${B64URL_PART}$`);

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A short, stable id of the verification key, carried in the token header as `kid`. */
export function keyIdOf(privateOrPublic: KeyObject): string {
  const spki = createPublicKey(privateOrPublic).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64url').slice(0, 16);
}

export function signToken(claims: TokenClaims, privateKey: KeyObject, kid: string): string {
  const input = `${b64({ alg: 'ES256', typ: 'JWT', kid })}.${b64(claims)}`;
  const sig = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

function malformed(why: string): CaError {
  return new CaError('CREDENTIAL_MALFORMED', `credential is malformed: ${why}`);
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw malformed(`token ${what} is not a JSON object`);
}

/** Verifies signature and claims; returns the claims or throws a CaError (unauthenticated). */
export function verifyToken(token: string, publicKey: KeyObject, kid: string, expect: TokenExpectations): TokenClaims {
  if (token.length > MAX_TOKEN_LENGTH) throw malformed(`token is ${token.length} bytes, more than ${MAX_TOKEN_LENGTH}`);
  if (!COMPACT_RE.test(token)) throw malformed('not a compact token (three base64url parts separated by dots)');
  const [h, p, s] = token.split('.') as [string, string, string];
  const header = decodeJson(h, 'header');
  if (header.alg !== 'ES256') throw malformed(`token algorithm ${JSON.stringify(header.alg)} is not accepted; expected "ES256"`);
  if (header.kid !== kid) {
    throw new CaError('CREDENTIAL_FORGED', `credential was signed by key ${JSON.stringify(header.kid)}, not by this CA's key "${kid}"; was it issued by another installation?`);
  }
  const sig = Buffer.from(s, 'base64url');
  if (sig.length !== 64) throw malformed(`ES256 signature is ${sig.length} bytes, expected 64`);
  if (!verify('sha256', Buffer.from(`${h}.${p}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)) {
    throw new CaError('CREDENTIAL_FORGED', 'credential signature does not verify; it was altered or forged');
  }
  const c = decodeJson(p, 'payload');
  for (const k of ['iss', 'aud', 'sub', 'kind'] as const) {
    if (typeof c[k] !== 'string') throw malformed(`claim "${k}" is missing or not a string`);
  }
  for (const k of ['iat', 'exp'] as const) {
    if (typeof c[k] !== 'number' || !Number.isFinite(c[k])) throw malformed(`claim "${k}" is missing or not a number`);
  }
  const claims = c as unknown as TokenClaims;
  if (claims.kind !== 'node' && claims.kind !== 'workload') throw malformed(`claim "kind" is ${JSON.stringify(claims.kind)}; expected "node" or "workload"`);
  if (claims.iss !== expect.issuer) throw new CaError('CREDENTIAL_INVALID', `credential issuer is "${claims.iss}", expected "${expect.issuer}"`);
  if (claims.aud !== expect.audience) throw new CaError('CREDENTIAL_INVALID', `credential audience is "${claims.aud}", expected "${expect.audience}"`);
  if (expect.now >= claims.exp) {
    throw new CaError('CREDENTIAL_EXPIRED', `credential for ${claims.kind} ${claims.sub} expired at ${new Date(claims.exp * 1000).toISOString()}`);
  }
  if (claims.iat > expect.now + (expect.skewSeconds ?? 300)) {
    throw new CaError('CREDENTIAL_INVALID', `credential for ${claims.kind} ${claims.sub} is issued in the future (${new Date(claims.iat * 1000).toISOString()})`);
  }
  return claims;
}
