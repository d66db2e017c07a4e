// Compact ES256 tokens (JWS, RFC 7515, in JWT form) for node and workload credentials: the claims
// and the signing. Signing is synchronous on purpose (callers issue credentials inline); the
// certificate service verifies them (control/ca/token.ts).
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';

export interface TokenClaims {
  iss: string;
  aud: string;
  /** Node name or SPIFFE id. */
  sub: string;
  kind: 'node' | 'workload';
  iat: number;
  exp: number;
}

export const TOKEN_ALGORITHM = 'ES256';

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A short, stable id of the verification key, carried in the token header as `kid`. */
export function keyIdOf(privateOrPublic: KeyObject): string {
  const spki = createPublicKey(privateOrPublic).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64url').slice(0, 16);
}

export function signToken(claims: TokenClaims, privateKey: KeyObject, kid: string): string {
  const input = `${b64({ alg: TOKEN_ALGORITHM, typ: 'JWT', kid })}.${b64(claims)}`;
  const sig = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}
