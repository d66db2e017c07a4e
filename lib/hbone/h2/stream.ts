// One HTTP/2 stream as a Duplex: writes become DATA frames (as slices of the caller's buffers,
// released only as flow control allows), received DATA is pushed as slices of the socket's
// chunks, end() is END_STREAM, destroy() is RST_STREAM CANCEL, and a peer's RST_STREAM destroys
// the stream with an error naming the code. The session does all framing; this class keeps state.
import type { IncomingHttpHeaders, IncomingHttpStatusHeader, OutgoingHttpHeaders } from 'node:http2';
import type { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { ErrorCode, errorCodeName } from './frames.js';
import { ReceiveWindow } from './flow.js';

/** What a stream shows of its session to the stream's users (its socket: certificates, addresses). */
export interface StreamSession extends EventEmitter {
  readonly socket: Duplex;
  readonly closed: boolean;
  readonly destroyed: boolean;
}

/** What a stream needs from its session (implemented by H2Session). */
export interface StreamOwner {
  /** Frames `chunks` as DATA as far as the windows allow; `cb` once all of it is queued on the socket. */
  writeData(s: H2Stream, chunks: Buffer[], cb: (err?: Error | null) => void): void;
  /** END_STREAM (an empty DATA frame). */
  endStream(s: H2Stream): void;
  sendHeaders(s: H2Stream, headers: OutgoingHttpHeaders, endStream: boolean): void;
  /** The application read `n` bytes (or was ready for more): give window back. */
  consumed(s: H2Stream, n: number): void;
  /** RST_STREAM `code` unless the stream is already closed, and forget it. */
  reset(s: H2Stream, code: number): void;
}

/** Thrown into a stream the peer reset; `h2Code` is the RST_STREAM code. */
export class H2StreamResetError extends Error {
  readonly code = 'ERR_HTTP2_STREAM_ERROR';
  constructor(
    readonly streamId: number,
    readonly h2Code: number,
    by: 'peer' | 'us',
  ) {
    super(`HTTP/2 stream ${streamId} was reset by ${by === 'peer' ? 'the peer' : 'us'} with ${errorCodeName(h2Code)}`);
    this.name = 'H2StreamResetError';
  }
}

export class H2Stream extends Duplex {
  /** RST_STREAM code sent or received, once the stream was reset. */
  rstCode: number | undefined;
  headersSent = false;
  /** Headers the peer sent: the request (server) or the final response (client). */
  receivedHeaders: IncomingHttpHeaders | undefined;
  // --- protocol state, owned by the session ---
  /** END_STREAM sent / received. */
  localEnded = false;
  remoteEnded = false;
  /** Left the session's table (both sides ended, or reset). */
  gone = false;
  sendWindow: number;
  readonly recvWindow: ReceiveWindow;
  /** Write data that did not fit the windows yet, and the callback of the write it belongs to. */
  pendingData: Buffer[] = [];
  pendingBytes = 0;
  pendingCb: ((err?: Error | null) => void) | undefined;
  /** The readable side is above its high-water mark: WINDOW_UPDATEs wait for _read. */
  readPaused = false;
  deferredConsumed = 0;

  constructor(
    readonly id: number,
    private readonly owner: StreamOwner,
    readonly session: StreamSession,
    sendWindow: number,
    recvWindow: number,
  ) {
    super({ allowHalfOpen: true, decodeStrings: true });
    this.sendWindow = sendWindow;
    this.recvWindow = new ReceiveWindow(recvWindow);
  }

  /** Server: sends the response headers (`:status` first). */
  respond(headers: OutgoingHttpHeaders, opts: { endStream?: boolean } = {}): void {
    if (this.headersSent) throw new Error(`HTTP/2 stream ${this.id}: respond() called twice`);
    this.headersSent = true;
    this.owner.sendHeaders(this, headers, opts.endStream === true);
    if (opts.endStream) this.end();
  }

  /** Resets the stream with `code` (RST_STREAM) and destroys it. */
  close(code: number = ErrorCode.NO_ERROR): void {
    if (this.gone) {
      this.destroy();
      return;
    }
    this.rstCode = code;
    this.owner.reset(this, code);
    this.destroy();
  }

  /** Delivers a response or request to listeners ('response' on the client). */
  deliverResponse(h: IncomingHttpHeaders & IncomingHttpStatusHeader): void {
    this.receivedHeaders = h;
    this.emit('response', h);
  }

  override _read(): void {
    if (!this.readPaused) return;
    this.readPaused = false;
    const n = this.deferredConsumed;
    this.deferredConsumed = 0;
    this.owner.consumed(this, n);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.owner.writeData(this, [chunk], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.owner.writeData(
      this,
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.localEnded && !this.gone) this.owner.endStream(this);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.gone) {
      this.rstCode ??= ErrorCode.CANCEL;
      this.owner.reset(this, ErrorCode.CANCEL);
    }
    // A write still waiting for window is dropped with the stream; its callback is not needed.
    this.pendingCb = undefined;
    this.pendingData = [];
    this.pendingBytes = 0;
    cb(err);
  }
}
