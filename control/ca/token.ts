// Verifying node and workload credentials (ES256 JWTs signed by lib/credentials) with jose. Strict
// on purpose: one algorithm, one key id, every claim checked; each refusal says why, with a
// stable CaError code the certificate service and xDS map to "unauthenticated".
import type { KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { TOKEN_ALGORITHM, type TokenClaims } from '../../lib/credentials/token.js';
import { CaError } from './errors.js';

export interface TokenExpectations {
  issuer: string;
  audience: string;
  /** Seconds since the epoch. */
  now: number;
  /** Tolerated clock skew for `iat` in the future (default 300 s). */
  skewSeconds?: number;
  /**
   * Tolerated clock skew for `exp` and `nbf` (default 0): a credential is refused from the second
   * it expires, as its issuer promised; tolerance here would silently lengthen every lifetime.
   */
  expirySkewSeconds?: number;
}

export const MAX_TOKEN_LENGTH = 8192;
const B64URL_PART = '[A-Za-z0-9_-]+';
const COMPACT_RE = new RegExp(`^${B64URL_PART}\\.${B64URL_PART}\\.${B64URL_PART}$`);
/** An ES256 signature is r‖s, 32 bytes each (RFC 7518 §3.4). */
const ES256_SIGNATURE_BYTES = 64;

function malformed(why: string): CaError {
  return new CaError('CREDENTIAL_MALFORMED', `credential is malformed: ${why}`);
}

function str(v: unknown): string {
  return JSON.stringify(v) ?? 'undefined';
}

/** jose's refusal, in this CA's words and codes. */
function refusal(e: unknown, header: Record<string, unknown>, expect: TokenExpectations): CaError {
  if (e instanceof CaError) return e;
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) {
    return malformed(`token algorithm ${str(header.alg)} is not accepted; expected "${TOKEN_ALGORITHM}"`);
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return new CaError('CREDENTIAL_FORGED', 'credential signature does not verify; it was altered or forged');
  }
  if (e instanceof errors.JWTExpired) {
    const p = e.payload;
    return new CaError('CREDENTIAL_EXPIRED', `credential for ${String(p.kind)} ${String(p.sub)} expired at ${new Date(Number(p.exp) * 1000).toISOString()}`);
  }
  if (e instanceof errors.JWTClaimValidationFailed) {
    const p = e.payload;
    if (e.reason === 'missing' || e.reason === 'invalid') {
      const type = e.claim === 'iss' || e.claim === 'aud' || e.claim === 'sub' ? 'string' : 'number';
      return malformed(`claim "${e.claim}" is missing or not a ${type}`);
    }
    if (e.claim === 'iss') return new CaError('CREDENTIAL_INVALID', `credential issuer is ${str(p.iss)}, expected "${expect.issuer}"`);
    if (e.claim === 'aud') return new CaError('CREDENTIAL_INVALID', `credential audience is ${str(p.aud)}, expected "${expect.audience}"`);
    if (e.claim === 'nbf') return new CaError('CREDENTIAL_INVALID', `credential for ${String(p.kind)} ${String(p.sub)} is not valid before ${new Date(Number(p.nbf) * 1000).toISOString()}`);
    return new CaError('CREDENTIAL_INVALID', `credential claim "${e.claim}" is not accepted: ${e.message}`);
  }
  if (e instanceof errors.JWTInvalid) return malformed(`token payload is not a JSON object (${e.message})`);
  if (e instanceof errors.JOSEError) return malformed(e.message);
  return new CaError('CREDENTIAL_MALFORMED', `credential could not be verified: ${(e as Error).message}`);
}

/** Verifies signature and claims; resolves to the claims or rejects with a CaError (unauthenticated). */
export async function verifyToken(token: string, publicKey: KeyObject, kid: string, expect: TokenExpectations): Promise<TokenClaims> {
  // Cheap shape checks first, so that junk is refused with a precise reason before any crypto.
  if (token.length > MAX_TOKEN_LENGTH) throw malformed(`token is ${token.length} bytes, more than ${MAX_TOKEN_LENGTH}`);
  if (!COMPACT_RE.test(token)) throw malformed('not a compact token (three base64url parts separated by dots)');
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw malformed('token header is not a JSON object');
  }
  const signature = token.slice(token.lastIndexOf('.') + 1);
  if (header.alg === TOKEN_ALGORITHM && Buffer.from(signature, 'base64url').length !== ES256_SIGNATURE_BYTES) {
    throw malformed(`${TOKEN_ALGORITHM} signature is ${Buffer.from(signature, 'base64url').length} bytes, expected ${ES256_SIGNATURE_BYTES}`);
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(
      token,
      // Resolved after the algorithm is allowed and before the signature is checked: a credential
      // from another installation is told apart from a forged one.
      (h) => {
        if (h.kid !== kid) {
          throw new CaError('CREDENTIAL_FORGED', `credential was signed by key ${str(h.kid)}, not by this CA's key "${kid}"; was it issued by another installation?`);
        }
        return publicKey;
      },
      {
        algorithms: [TOKEN_ALGORITHM],
        issuer: expect.issuer,
        audience: expect.audience,
        requiredClaims: ['sub', 'iat', 'exp'],
        clockTolerance: expect.expirySkewSeconds ?? 0,
        currentDate: new Date(expect.now * 1000),
      },
    ));
  } catch (e) {
    throw refusal(e, header, expect);
  }
  for (const k of ['iss', 'aud', 'sub', 'kind'] as const) {
    if (typeof payload[k] !== 'string') throw malformed(`claim "${k}" is missing or not a string`);
  }
  for (const k of ['iat', 'exp'] as const) {
    if (typeof payload[k] !== 'number' || !Number.isFinite(payload[k])) throw malformed(`claim "${k}" is missing or not a number`);
  }
  const claims = payload as unknown as TokenClaims;
  if (claims.kind !== 'node' && claims.kind !== 'workload') throw malformed(`claim "kind" is ${str(claims.kind)}; expected "node" or "workload"`);
  // jose checks `iat` only together with a maximum age; a credential from the future is refused here.
  if (claims.iat > expect.now + (expect.skewSeconds ?? 300)) {
    throw new CaError('CREDENTIAL_INVALID', `credential for ${claims.kind} ${claims.sub} is issued in the future (${new Date(claims.iat * 1000).toISOString()})`);
  }
  return claims;
}
