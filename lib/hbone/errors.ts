// Every failure lib/hbone reports carries a stable code (usable as a metric label or response flag).

export type HboneErrorCode =
  /** A caller passed something malformed (authority, key, options). */
  | 'HBONE_INVALID_ARGUMENT'
  /** Certificates or key unusable, or not the identity the pool key names. */
  | 'HBONE_CREDENTIALS'
  /** TCP connect + TLS + HTTP/2 settings did not finish in time. */
  | 'HBONE_CONNECT_TIMEOUT'
  /** The TCP connection failed (refused, unreachable, reset before TLS). */
  | 'HBONE_CONNECT_FAILED'
  /** The TLS handshake failed, or the server refused our certificate. */
  | 'HBONE_TLS'
  /** The server's certificate is valid but names none of the expected identities. */
  | 'HBONE_PEER_IDENTITY'
  /** The server answered the CONNECT with a status other than 200. */
  | 'HBONE_STATUS'
  /** The stream was reset, or the connection closed, before the response. */
  | 'HBONE_STREAM_RESET'
  /** The pool or server is closed. */
  | 'HBONE_CLOSED';

export class HboneError extends Error {
  /** The HTTP status, for HBONE_STATUS. */
  readonly status: number | undefined;
  /** The request never reached the server's handler (refused stream, connection going away): safe to retry. */
  readonly retryable: boolean;

  constructor(
    readonly code: HboneErrorCode,
    message: string,
    opts: { status?: number; cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HboneError';
    this.status = opts.status;
    this.retryable = opts.retryable ?? false;
  }
}

export function isHboneError(e: unknown, code?: HboneErrorCode): e is HboneError {
  return e instanceof HboneError && (code === undefined || e.code === code);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
