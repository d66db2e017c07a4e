// An in-memory peer for fuzzing the HTTP/2 server session: a Duplex whose writes are kept and
// whose reads are what the test pushes, and a reader for the frames the session wrote.
import { Duplex } from 'node:stream';
import { H2ConnectionError, H2StreamError } from '../../lib/hbone/h2/errors.js';
import { FrameReader } from '../../lib/hbone/h2/frame-reader.js';
import type { FrameHeader } from '../../lib/hbone/h2/frames.js';

export type Seen = { h: FrameHeader; payload: Buffer };

/** Every frame in `chunks`, or the error the reader raised; any other exception is a finding. */
export function readFrames(chunks: readonly Buffer[], maxFrameSize: number): { frames: Seen[]; error?: Error } {
  const frames: Seen[] = [];
  let data: Buffer[] = [];
  const reader = new FrameReader(
    {
      dataStart: () => void (data = []),
      dataChunk: (_h, c) => void data.push(Buffer.from(c)),
      dataEnd: (h) => void frames.push({ h, payload: Buffer.concat(data) }),
      frame: (h, payload) => void frames.push({ h, payload: Buffer.from(payload) }),
    },
    { maxFrameSize, expectPreface: false },
  );
  try {
    for (const c of chunks) reader.push(c);
  } catch (e) {
    if (!(e instanceof H2ConnectionError || e instanceof H2StreamError)) throw new Error(`FrameReader threw ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
    return { frames, error: e };
  }
  return { frames };
}

/** A socket in memory: what the session writes is kept, what we push is what it reads. */
export class MemSocket extends Duplex {
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.written.push(Buffer.from(c));
    cb();
  }
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
