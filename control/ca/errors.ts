// Every refusal of the certificate service is a CaError with a stable code; the gRPC layer maps
// `kind` to a status code and sends `message`, which says why.

export type CaErrorKind = 'unauthenticated' | 'permission-denied' | 'invalid-argument' | 'internal';

export type CaErrorCode =
  // unauthenticated
  | 'CREDENTIAL_MISSING'
  | 'CREDENTIAL_MALFORMED'
  | 'CREDENTIAL_FORGED'
  | 'CREDENTIAL_EXPIRED'
  | 'CREDENTIAL_INVALID'
  // permission denied
  | 'NODE_NOT_AUTHORIZED'
  | 'WORKLOAD_NOT_AUTHORIZED'
  // invalid argument
  | 'CSR_INVALID'
  | 'CSR_BAD_SIGNATURE'
  | 'CSR_KEY_UNSUPPORTED'
  | 'CSR_SANS'
  | 'TRUST_DOMAIN_MISMATCH'
  | 'IDENTITY_INVALID'
  | 'IDENTITY_MISMATCH'
  | 'TTL_INVALID'
  // internal
  | 'CA_CONFIG'
  | 'SIGNING_FAILED';

const KIND: Record<CaErrorCode, CaErrorKind> = {
  CREDENTIAL_MISSING: 'unauthenticated',
  CREDENTIAL_MALFORMED: 'unauthenticated',
  CREDENTIAL_FORGED: 'unauthenticated',
  CREDENTIAL_EXPIRED: 'unauthenticated',
  CREDENTIAL_INVALID: 'unauthenticated',
  NODE_NOT_AUTHORIZED: 'permission-denied',
  WORKLOAD_NOT_AUTHORIZED: 'permission-denied',
  CSR_INVALID: 'invalid-argument',
  CSR_BAD_SIGNATURE: 'invalid-argument',
  CSR_KEY_UNSUPPORTED: 'invalid-argument',
  CSR_SANS: 'invalid-argument',
  TRUST_DOMAIN_MISMATCH: 'invalid-argument',
  IDENTITY_INVALID: 'invalid-argument',
  IDENTITY_MISMATCH: 'invalid-argument',
  TTL_INVALID: 'invalid-argument',
  CA_CONFIG: 'internal',
  SIGNING_FAILED: 'internal',
};

/** gRPC status codes (grpc/status.proto), so the wiring needs no table of its own. */
export const GRPC_STATUS: Record<CaErrorKind, number> = {
  'invalid-argument': 3,
  'permission-denied': 7,
  internal: 13,
  unauthenticated: 16,
};

export class CaError extends Error {
  readonly kind: CaErrorKind;

  constructor(
    readonly code: CaErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CaError';
    this.kind = KIND[code];
  }

  get grpcStatus(): number {
    return GRPC_STATUS[this.kind];
  }
}

export function isCaError(e: unknown): e is CaError {
  return e instanceof CaError;
}
