// Test helpers for the HTTP/2 transport: a raw peer that writes hand-made frames and records what
// comes back, and a table of malformed inputs with the error RFC 9113 requires for each. Used by the
// unit tests (plain TCP) and by the interop tests (against HboneServer over mutual TLS).
import type { Duplex } from 'node:stream';
import { FrameReader } from './frame-reader.js';
import { CONNECTION_PREFACE, ErrorCode, Flag, FrameType, MAX_WINDOW, SettingId, frame, frameHeader, headersFrames, settingsFrame, type FrameHeader } from './frames.js';
import { HpackEncoder, encodeInteger } from './hpack.js';

export interface SeenFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** Records every frame a peer sends on `socket` (no preface expected: we are the client). */
export class FrameRecorder {
  readonly frames: SeenFrame[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(socket: Duplex) {
    let data: Buffer[] = [];
    const reader = new FrameReader(
      {
        dataStart: () => {
          data = [];
        },
        dataChunk: (_h, c) => void data.push(Buffer.from(c)),
        dataEnd: (h: FrameHeader) => this.add({ ...h, payload: Buffer.concat(data) }),
        frame: (h, payload) => this.add({ ...h, payload: Buffer.from(payload) }),
      },
      { maxFrameSize: 1 << 24, expectPreface: false },
    );
    socket.on('data', (c: Buffer) => reader.push(c));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private add(f: SeenFrame): void {
    this.frames.push(f);
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the first frame matching `pred` (also one seen before), or rejects after `ms`. */
  async waitFor(what: string, pred: (f: SeenFrame) => boolean, ms = 3000): Promise<SeenFrame> {
    const end = Date.now() + ms;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; saw ${this.frames.map(describe).join(', ') || 'nothing'}${this.closed ? ', then close' : ''}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(1, end - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }

  /** Resolves true once the peer closed the connection, false after `ms`. */
  async closedWithin(ms = 3000): Promise<boolean> {
    const end = Date.now() + ms;
    while (!this.closed && Date.now() < end) {
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(1, end - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
    return this.closed;
  }

  goaway(): Promise<SeenFrame> {
    return this.waitFor('GOAWAY', (f) => f.type === FrameType.GOAWAY);
  }
}

export function describe(f: SeenFrame): string {
  const names = ['DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION'];
  const code = f.type === FrameType.GOAWAY ? ` code ${f.payload.readUInt32BE(4)}` : f.type === FrameType.RST_STREAM ? ` code ${f.payload.readUInt32BE(0)}` : '';
  return `${names[f.type] ?? `type ${f.type}`}(stream ${f.streamId}, flags ${f.flags}${code})`;
}

export const goawayCode = (f: SeenFrame): number => f.payload.readUInt32BE(4);
export const rstCode = (f: SeenFrame): number => f.payload.readUInt32BE(0);

/** The client's opening: preface and an empty SETTINGS. */
export function clientPreface(): Buffer {
  return Buffer.concat([CONNECTION_PREFACE, settingsFrame([])]);
}

/** A CONNECT HEADERS frame for `streamId` (END_HEADERS set). */
export function connectFrame(streamId: number, authority = '127.0.0.1:9', extra: [string, string][] = []): Buffer {
  const block = new HpackEncoder().encode([[':method', 'CONNECT'], [':authority', authority], ...extra]);
  return headersFrames(streamId, block, false, 16_384);
}

const u32 = (...vs: number[]): Buffer => {
  const b = Buffer.alloc(4 * vs.length);
  vs.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
};

/** What a malformed input must provoke. */
export type Expected = { goaway: number } | { rst: [streamId: number, code: number] } | { status431: number } | 'ignored';

export interface MalformedCase {
  name: string;
  /** Sent after the client preface. */
  frames(): Buffer[];
  expect: Expected;
}

/** An HPACK block whose decoded list is ~4 MB: one 4 KiB entry referenced 1,000 times. */
function hpackBomb(): Buffer {
  const head: number[] = [0x40];
  encodeInteger(head, 4, 7, 0);
  head.push(...Buffer.from('bomb'));
  encodeInteger(head, 4000, 7, 0);
  return Buffer.concat([Buffer.from([0x82]), Buffer.from(head), Buffer.alloc(4000, 0x78), Buffer.alloc(1000, 0xbe)]);
}

/**
 * Inputs against a server whose SETTINGS_MAX_FRAME_SIZE is at least 16 KiB, whose
 * MAX_HEADER_LIST_SIZE is at most 64 KiB, whose stream window is at most 4 MiB and whose
 * MAX_CONCURRENT_STREAMS is below 1,000.
 */
export const MALFORMED_CASES: MalformedCase[] = [
  { name: 'a PING of 7 bytes', frames: () => [frame(FrameType.PING, 0, 0, Buffer.alloc(7))], expect: { goaway: ErrorCode.FRAME_SIZE_ERROR } },
  { name: 'a PING on stream 1', frames: () => [frame(FrameType.PING, 0, 1, Buffer.alloc(8))], expect: { goaway: ErrorCode.PROTOCOL_ERROR } },
  { name: 'an unknown frame type', frames: () => [frame(0xfa, 0xff, 0, Buffer.from('whatever')), frame(0xfb, 0, 7, Buffer.alloc(100))], expect: 'ignored' },
  { name: 'PRIORITY on an idle stream', frames: () => [frame(FrameType.PRIORITY, 0, 9, u32(0, 0).subarray(0, 5))], expect: 'ignored' },
  { name: 'PRIORITY of 4 bytes', frames: () => [frame(FrameType.PRIORITY, 0, 9, u32(0))], expect: { rst: [9, ErrorCode.FRAME_SIZE_ERROR] } },
  { name: 'a frame above SETTINGS_MAX_FRAME_SIZE', frames: () => [frameHeader((1 << 24) - 1, 0xfa, 0, 0)], expect: { goaway: ErrorCode.FRAME_SIZE_ERROR } },
  { name: 'SETTINGS of 5 bytes', frames: () => [frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(5))], expect: { goaway: ErrorCode.FRAME_SIZE_ERROR } },
  { name: 'SETTINGS ACK with a payload', frames: () => [frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(6))], expect: { goaway: ErrorCode.FRAME_SIZE_ERROR } },
  { name: 'SETTINGS_ENABLE_PUSH 2', frames: () => [settingsFrame([[SettingId.ENABLE_PUSH, 2]])], expect: { goaway: ErrorCode.PROTOCOL_ERROR } },
  { name: 'SETTINGS_INITIAL_WINDOW_SIZE 2^31', frames: () => [settingsFrame([[SettingId.INITIAL_WINDOW_SIZE, 2 ** 31]])], expect: { goaway: ErrorCode.FLOW_CONTROL_ERROR } },
  { name: 'SETTINGS_MAX_FRAME_SIZE 100', frames: () => [settingsFrame([[SettingId.MAX_FRAME_SIZE, 100]])], expect: { goaway: ErrorCode.PROTOCOL_ERROR } },
  { name: 'a connection window overflow', frames: () => [frame(FrameType.WINDOW_UPDATE, 0, 0, u32(MAX_WINDOW)), frame(FrameType.WINDOW_UPDATE, 0, 0, u32(MAX_WINDOW))], expect: { goaway: ErrorCode.FLOW_CONTROL_ERROR } },
  { name: 'a stream window overflow', frames: () => [connectFrame(1), frame(FrameType.WINDOW_UPDATE, 0, 1, u32(MAX_WINDOW))], expect: { rst: [1, ErrorCode.FLOW_CONTROL_ERROR] } },
  { name: 'WINDOW_UPDATE of 0 on a stream', frames: () => [connectFrame(1), frame(FrameType.WINDOW_UPDATE, 0, 1, u32(0))], expect: { rst: [1, ErrorCode.PROTOCOL_ERROR] } },
  { name: 'WINDOW_UPDATE of 3 bytes', frames: () => [frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(3))], expect: { goaway: ErrorCode.FRAME_SIZE_ERROR } },
  { name: 'DATA on stream 0', frames: () => [frame(FrameType.DATA, 0, 0, Buffer.from('x'))], expect: { goaway: ErrorCode.PROTOCOL_ERROR } },
  { name: 'DATA on an idle stream', frames: () => [frame(FrameType.DATA, 0, 5, Buffer.from('x'))], expect: { goaway: ErrorCode.PROTOCOL_ERROR } },
  { name: 'DATA with padding past its length', frames: () => [connectFrame(1), frame(FrameType.DATA, Flag.PADDED, 1, Buffer.from([9, 1, 2]))], expect: { goaway: ErrorCode.PROTOCOL_ERROR } },
  { name: 'DATA after END_STREAM', frames: () => [connectFrame(1), frame(FrameType.DATA, Flag.END_STREAM, 1), frame(FrameType.DATA, 0, 1, Buffer.from('late'))], expect: { rst: [1, ErrorCode.STREAM_CLOSED] } },
  {
    name: 'DATA past the stream window (sender ignores SETTINGS_INITIAL_WINDOW_SIZE)',
    // 16 KiB frames up to 4 MiB + 16 KiB: past a 4 MiB stream window, below a 16 MiB connection window.
    frames: () => [connectFrame(1), ...Array.from({ length: 257 }, () => frame(FrameType.DATA, 0, 1, Buffer.alloc(16_384)))],
    expect: { rst: [1, ErrorCode.FLOW_CONTROL_ERROR] },
  },
  { name: 'RST_STREAM on an idle stream', frames: () => [frame(FrameType.RST_STREAM, 0, 3, u32(ErrorCode.CANCEL))], expect: { goaway: ErrorCode.PROTOCOL_ERROR } },
  { name: 'RST_STREAM of 2 bytes', frames: () => [connectFrame(1), frame(FrameType.RST_STREAM, 0, 1, Buffer.alloc(2))], expect: { goaway: ErrorCode.FRAME_SIZE_ERROR } },
  { name: 'PUSH_PROMISE from a client', frames: () => [connectFrame(1), frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, Buffer.concat([u32(2), Buffer.from([0x82])]))], expect: { goaway: ErrorCode.PROTOCOL_ERROR } },
  { name: 'HEADERS on an even stream', frames: () => [connectFrame(2)], expect: { goaway: ErrorCode.PROTOCOL_ERROR } },
  { name: 'HEADERS on stream 0', frames: () => [connectFrame(0)], expect: { goaway: ErrorCode.PROTOCOL_ERROR } },
  { name: 'another frame inside a header block', frames: () => [frame(FrameType.HEADERS, 0, 1, Buffer.from([0x82])), frame(FrameType.PING, 0, 0, Buffer.alloc(8))], expect: { goaway: ErrorCode.PROTOCOL_ERROR } },
  { name: 'CONTINUATION without HEADERS', frames: () => [frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, Buffer.from([0x82]))], expect: { goaway: ErrorCode.PROTOCOL_ERROR } },
  {
    name: 'a CONTINUATION flood past the header list limit',
    frames: () => [frame(FrameType.HEADERS, 0, 1, Buffer.from([0x82])), ...Array.from({ length: 100 }, () => frame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(16_000, 0x82)))],
    expect: { goaway: ErrorCode.ENHANCE_YOUR_CALM },
  },
  { name: 'an HPACK bomb (4 MB decoded from 5 KB)', frames: () => [headersFrames(1, hpackBomb(), false, 16_384)], expect: { status431: 1 } },
  { name: 'an HPACK index past the tables', frames: () => [headersFrames(1, Buffer.from([0xff, 0x7f]), false, 16_384)], expect: { goaway: ErrorCode.COMPRESSION_ERROR } },
  { name: 'a request with an upper-case header name', frames: () => [connectFrame(1, '127.0.0.1:9', [['X-Bad', 'y']])], expect: { rst: [1, ErrorCode.PROTOCOL_ERROR] } },
  { name: 'CONNECT without :authority', frames: () => [headersFrames(1, new HpackEncoder().encode([[':method', 'CONNECT']]), false, 16_384)], expect: { rst: [1, ErrorCode.PROTOCOL_ERROR] } },
  { name: 'a stream that depends on itself', frames: () => [frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.PRIORITY, 1, Buffer.concat([u32(1), Buffer.from([16]), connectFrame(1).subarray(9)]))], expect: { rst: [1, ErrorCode.PROTOCOL_ERROR] } },
  { name: 'more streams than SETTINGS_MAX_CONCURRENT_STREAMS', frames: () => Array.from({ length: 1000 }, (_, i) => connectFrame(2 * i + 1)), expect: { rst: [1999, ErrorCode.REFUSED_STREAM] } },
];
