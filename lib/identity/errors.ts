/** Stable codes for everything lib/identity refuses; callers branch on `code`, humans read `message`. */
export type IdentityErrorCode =
  | 'SPIFFE_INVALID'
  | 'PEM_INVALID'
  | 'CERT_INVALID'
  | 'CSR_INVALID'
  | 'CSR_KEY_UNSUPPORTED'
  | 'CSR_SANS'
  | 'CSR_TRUST_DOMAIN'
  | 'CSR_BAD_SIGNATURE'
  | 'KEY_INVALID'
  | 'KEY_UNSUPPORTED'
  | 'CHAIN_EMPTY'
  | 'CHAIN_EXPIRED'
  | 'CHAIN_NOT_YET_VALID'
  | 'CHAIN_UNKNOWN_ISSUER'
  | 'CHAIN_BAD_SIGNATURE'
  | 'CHAIN_NOT_CA'
  | 'CHAIN_TOO_LONG'
  | 'PEER_NO_CERT'
  | 'PEER_NO_SPIFFE';

export class IdentityError extends Error {
  constructor(
    readonly code: IdentityErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'IdentityError';
  }
}

export function isIdentityError(e: unknown): e is IdentityError {
  return e instanceof IdentityError;
}
