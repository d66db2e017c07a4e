// Splits the bytes of a connection into frames. DATA payloads are handed on as slices of the
// socket's own chunks as they arrive (never reassembled, never copied); other frames, which are
// small, are delivered whole. Pure: it only calls its sink.
import { H2ConnectionError } from './errors.js';
import { CONNECTION_PREFACE, ErrorCode, Flag, FRAME_HEADER_SIZE, FrameType, readFrameHeader, type FrameHeader } from './frames.js';

export interface FrameSink {
  /** A DATA frame begins; may throw H2ConnectionError / H2StreamError. */
  dataStart(h: FrameHeader): void;
  /** Payload bytes of the current DATA frame, padding removed. */
  dataChunk(h: FrameHeader, chunk: Buffer): void;
  dataEnd(h: FrameHeader): void;
  /** Any other frame, with its whole payload. */
  frame(h: FrameHeader, payload: Buffer): void;
}

const EMPTY = Buffer.alloc(0);

export class FrameReader {
  /** The largest frame we accept: our SETTINGS_MAX_FRAME_SIZE. */
  maxFrameSize: number;
  private prefaceLeft: number;
  private readonly head = Buffer.alloc(FRAME_HEADER_SIZE);
  private headFill = 0;
  private cur: FrameHeader | undefined;
  private left = 0;
  private parts: Buffer[] = [];
  /** DATA: the pad length byte is still to come (PADDED), then how many payload bytes are data. */
  private needPadLength = false;
  private dataLeft = 0;

  constructor(
    private readonly sink: FrameSink,
    opts: { maxFrameSize: number; expectPreface: boolean },
  ) {
    this.maxFrameSize = opts.maxFrameSize;
    this.prefaceLeft = opts.expectPreface ? CONNECTION_PREFACE.length : 0;
  }

  /** Feeds socket bytes; throws H2ConnectionError / H2StreamError from the checks or the sink. */
  push(chunk: Buffer): void {
    let off = 0;
    if (this.prefaceLeft > 0) off = this.preface(chunk);
    while (off < chunk.length) {
      if (!this.cur) {
        let h: FrameHeader;
        if (this.headFill === 0 && chunk.length - off >= FRAME_HEADER_SIZE) {
          h = readFrameHeader(chunk, off);
          off += FRAME_HEADER_SIZE;
        } else {
          const n = Math.min(FRAME_HEADER_SIZE - this.headFill, chunk.length - off);
          chunk.copy(this.head, this.headFill, off, off + n);
          this.headFill += n;
          off += n;
          if (this.headFill < FRAME_HEADER_SIZE) return;
          this.headFill = 0;
          h = readFrameHeader(this.head);
        }
        this.begin(h);
        if (h.length === 0) {
          this.end();
          continue;
        }
      }
      const n = Math.min(this.left, chunk.length - off);
      const piece = chunk.subarray(off, off + n);
      off += n;
      this.left -= n;
      if (this.cur!.type === FrameType.DATA) this.data(piece);
      else this.parts.push(piece);
      if (this.left === 0) this.end();
    }
  }

  private preface(chunk: Buffer): number {
    const start = CONNECTION_PREFACE.length - this.prefaceLeft;
    const n = Math.min(this.prefaceLeft, chunk.length);
    if (!chunk.subarray(0, n).equals(CONNECTION_PREFACE.subarray(start, start + n))) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'the client did not start with the HTTP/2 connection preface');
    }
    this.prefaceLeft -= n;
    return n;
  }

  private begin(h: FrameHeader): void {
    if (h.length > this.maxFrameSize) {
      throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame type 0x${h.type.toString(16)} on stream ${h.streamId} is ${h.length} bytes, above SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize}`);
    }
    this.cur = h;
    this.left = h.length;
    if (h.type === FrameType.DATA) {
      this.needPadLength = (h.flags & Flag.PADDED) !== 0;
      if (this.needPadLength && h.length === 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `padded DATA on stream ${h.streamId} has no pad length`);
      this.dataLeft = h.length;
      this.sink.dataStart(h);
    }
  }

  private data(piece: Buffer): void {
    const h = this.cur!;
    // A chunk that ends right after the frame header: the pad length is still to come.
    if (piece.length === 0) return;
    if (this.needPadLength) {
      this.needPadLength = false;
      const pad = piece[0]!;
      if (pad >= h.length) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA on stream ${h.streamId}: padding ${pad} is not below the frame length ${h.length}`);
      this.dataLeft = h.length - 1 - pad;
      piece = piece.subarray(1);
    }
    if (this.dataLeft <= 0 || piece.length === 0) return;
    const useful = piece.length <= this.dataLeft ? piece : piece.subarray(0, this.dataLeft);
    this.dataLeft -= useful.length;
    this.sink.dataChunk(h, useful);
  }

  private end(): void {
    const h = this.cur!;
    this.cur = undefined;
    if (h.type === FrameType.DATA) return this.sink.dataEnd(h);
    const payload = this.parts.length === 0 ? EMPTY : this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    this.parts = [];
    this.sink.frame(h, payload);
  }
}
