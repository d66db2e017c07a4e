// The two kinds of HTTP/2 protocol errors (RFC 9113 §5.4): one ends the whole connection with
// GOAWAY, the other only its stream with RST_STREAM. Both carry the code to send.
import { errorCodeName } from './frames.js';

export class H2ConnectionError extends Error {
  constructor(
    readonly h2Code: number,
    message: string,
  ) {
    super(`HTTP/2 connection error ${errorCodeName(h2Code)}: ${message}`);
    this.name = 'H2ConnectionError';
  }
}

export class H2StreamError extends Error {
  constructor(
    readonly streamId: number,
    readonly h2Code: number,
    message: string,
  ) {
    super(`HTTP/2 stream ${streamId} error ${errorCodeName(h2Code)}: ${message}`);
    this.name = 'H2StreamError';
  }
}

/** HPACK failures are connection errors: the compression state can no longer be trusted (RFC 9113 §4.3). */
export class HpackError extends Error {
  constructor(message: string) {
    super(`HPACK: ${message}`);
    this.name = 'HpackError';
  }
}
