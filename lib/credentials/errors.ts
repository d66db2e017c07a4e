/** Stable codes for what issuing a credential refuses; callers branch on `code`, humans read `message`. */
export type CredentialErrorCode = 'KEY_INVALID' | 'TTL_INVALID' | 'NODE_NAME_INVALID' | 'IDENTITY_INVALID';

export class CredentialError extends Error {
  constructor(
    readonly code: CredentialErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CredentialError';
  }
}

export function isCredentialError(e: unknown): e is CredentialError {
  return e instanceof CredentialError;
}
