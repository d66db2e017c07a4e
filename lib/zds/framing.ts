// ZDS framing for a Unix *stream* socket: Istio uses SOCK_SEQPACKET (one message per datagram),
// which Node cannot open, so each protobuf message travels as a 4-byte big-endian length + bytes.
import { ZdsError } from './errors.js';

export const FRAME_HEADER_BYTES = 4;
/** Istio's receiver reads 1 KiB datagrams; Ambit's frames add a netns path, so allow more, but not much. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024;

function tooLarge(length: number, max: number): ZdsError {
  return new ZdsError('FRAME_TOO_LARGE', `ZDS frame of ${length} bytes exceeds the ${max}-byte limit (is the peer speaking ZDS?)`);
}

/** One frame: header + payload. Throws FRAME_TOO_LARGE rather than sending what the peer will refuse. */
export function encodeFrame(payload: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Buffer {
  if (payload.byteLength > maxFrameBytes) throw tooLarge(payload.byteLength, maxFrameBytes);
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.byteLength);
  out.writeUInt32BE(payload.byteLength, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Reassembles frames from arbitrary chunks (split or coalesced). After it throws, the stream is out
 * of sync and the connection must be closed; the decoder refuses further input.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed: ZdsError | undefined;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes received but not yet returned as a frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Appends `chunk` and returns every frame it completes, in order. */
  push(chunk: Uint8Array): Buffer[] {
    if (this.failed) throw this.failed;
    if (chunk.byteLength > 0) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.buffered += chunk.byteLength;
    }
    const frames: Buffer[] = [];
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const length = this.peekLength();
      // Checked before waiting for the body: garbage must not make us buffer gigabytes.
      if (length > this.maxFrameBytes) {
        this.failed = tooLarge(length, this.maxFrameBytes);
        throw this.failed;
      }
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      const all = this.take(FRAME_HEADER_BYTES + length);
      frames.push(all.subarray(FRAME_HEADER_BYTES));
    }
    return frames;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.byteLength >= FRAME_HEADER_BYTES) return first.readUInt32BE(0);
    return Buffer.concat(this.chunks, FRAME_HEADER_BYTES).readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const out = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.chunks = rest.byteLength > 0 ? [rest] : [];
    this.buffered = rest.byteLength;
    return out;
  }
}
