/** Stable codes for ZDS failures; callers branch on `code`, humans read `message`. */
export type ZdsErrorCode =
  /** A frame header announced more bytes than the limit (or garbage that looks like it). */
  | 'FRAME_TOO_LARGE'
  /** Bytes that are not the message expected at this point of the conversation. */
  | 'PROTOCOL'
  /** The peer speaks another ZDS version. */
  | 'VERSION'
  /** The peer did not answer in time. */
  | 'TIMEOUT'
  /** The connection closed before the answer came. */
  | 'CLOSED'
  /** ztunnel answered with an Ack carrying an error. */
  | 'NACK'
  /** The node agent has no ztunnel connected to hand the pod to. */
  | 'NO_ZTUNNEL'
  /** Bad arguments from the caller (pod without uid, relative netns path, …). */
  | 'INVALID';

export class ZdsError extends Error {
  constructor(
    readonly code: ZdsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ZdsError';
  }
}

export function isZdsError(e: unknown): e is ZdsError {
  return e instanceof ZdsError;
}
