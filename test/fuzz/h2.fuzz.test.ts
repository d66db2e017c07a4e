// The own HTTP/2 transport under arbitrary input: the frame reader, Huffman and HPACK decoding, and a
// whole server session fed arbitrary and mutated frames. Any input gives frames, a stream error or
// a connection error with its RFC 9113 code — never an exception out of the parser, never
// INTERNAL_ERROR (our own bug), never a session that stops answering.
import fc from 'fast-check';
import t from 'tap';
import { H2ConnectionError, H2StreamError, HpackError } from '../../lib/hbone/h2/errors.js';
import { CONNECTION_PREFACE, ErrorCode, Flag, FrameType, frame, headersFrames, pingFrame, settingsFrame } from '../../lib/hbone/h2/frames.js';
import { HpackDecoder, HpackEncoder, type HeaderField } from '../../lib/hbone/h2/hpack.js';
import { huffmanDecode, huffmanEncode } from '../../lib/hbone/h2/huffman.js';
import { H2Session, type H2SessionOptions } from '../../lib/hbone/h2/session.js';
import type { H2Stream } from '../../lib/hbone/h2/stream.js';
import { MALFORMED_CASES, connectFrame } from '../../lib/hbone/h2/testkit.js';
import { MemSocket, readFrames, tick } from './h2-peer.js';
import { chunked, fuzz, fuzzAsync, mutated, refusesOnly } from './harness.js';

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const fieldList = fc.array(fc.tuple(headerName, headerValue), { maxLength: 12 }) as fc.Arbitrary<HeaderField[]>;

/** A well-formed frame of any type, or one with arbitrary type, flags, stream and payload. */
const anyFrame: fc.Arbitrary<Buffer> = fc.oneof(
  fc.record({ type: fc.integer({ min: 0, max: 12 }), flags: fc.integer({ min: 0, max: 255 }), stream: fc.oneof(fc.constantFrom(0, 1, 3, 5, 2), fc.nat()), payload: fc.uint8Array({ maxLength: 48 }) }).map((f) => frame(f.type, f.flags, f.stream, Buffer.from(f.payload))),
  fc.integer({ min: 0, max: 9 }).map((n) => connectFrame(2 * n + 1)),
  fc.tuple(fc.constantFrom(1, 3), fieldList, fc.boolean()).map(([s, fields, end]) => headersFrames(s, new HpackEncoder().encode([[':method', 'CONNECT'], [':authority', '127.0.0.1:9'], ...fields]), end, 16_384)),
  fc.array(fc.tuple(fc.integer({ min: 0, max: 8 }), fc.nat()), { maxLength: 4 }).map((l) => settingsFrame(l)),
  fc.tuple(fc.constantFrom(0, 1, 3), fc.nat()).map(([s, inc]) => frame(FrameType.WINDOW_UPDATE, 0, s, u32(inc))),
  fc.tuple(fc.constantFrom(1, 3, 5), fc.integer({ min: 0, max: 15 })).map(([s, code]) => frame(FrameType.RST_STREAM, 0, s, u32(code))),
  fc.tuple(fc.constantFrom(1, 3), fc.uint8Array({ maxLength: 64 }), fc.constantFrom(0, Flag.END_STREAM, Flag.PADDED)).map(([s, d, fl]) => frame(FrameType.DATA, fl, s, Buffer.from(d))),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((p) => pingFrame(Buffer.from(p), false)),
  fc.constantFrom(...MALFORMED_CASES.filter((c) => c.frames().length < 50)).map((c) => Buffer.concat(c.frames())),
);

t.test('frame reader: arbitrary bytes in arbitrary chunks', async (t) => {
  fuzz(t, 'h2 frame reader (arbitrary bytes)', [fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 8 })], (bytes, cuts) => {
    const b = Buffer.from(bytes);
    const whole = readFrames([b], 16_384);
    const split = readFrames(chunked(b, cuts), 16_384);
    // How the socket splits the bytes changes nothing: same frames, same verdict.
    if (JSON.stringify(whole) !== JSON.stringify(split)) throw new Error('chunking changed the frames the reader produced');
  });
});

t.test('frame reader: valid and mutated frame sequences', async (t) => {
  fuzz(t, 'h2 frame reader (mutated frames)', [fc.array(anyFrame, { minLength: 1, maxLength: 6 }).chain((fs) => fc.oneof(fc.constant(Buffer.concat(fs)), mutated(Buffer.concat(fs)))), fc.array(fc.nat(), { maxLength: 6 })], (b, cuts) => {
    const whole = readFrames([b], 16_384);
    const split = readFrames(chunked(b, cuts), 16_384);
    if (JSON.stringify(whole) !== JSON.stringify(split)) throw new Error('chunking changed the frames the reader produced');
  });
});

t.test('huffman: arbitrary codes refused cleanly, encoding round-trips', async (t) => {
  fuzz(t, 'h2 huffman decode (arbitrary bytes)', [fc.uint8Array({ maxLength: 200 })], (b) => void refusesOnly(() => huffmanDecode(Buffer.from(b)), HpackError), { weight: 2 });
  fuzz(t, 'h2 huffman round trip', [fc.uint8Array({ maxLength: 200 })], (b) => huffmanDecode(huffmanEncode(Buffer.from(b))).equals(Buffer.from(b)), { weight: 2 });
});

t.test('hpack: arbitrary and mutated blocks give fields or an HpackError', async (t) => {
  fuzz(t, 'hpack decode (arbitrary bytes)', [fc.array(fc.uint8Array({ maxLength: 120 }), { minLength: 1, maxLength: 4 })], (blocks) => {
    // One decoder across blocks, as on a connection: a block that fails leaves a state the next may trip on.
    const d = new HpackDecoder(4096);
    for (const b of blocks) if (refusesOnly(() => d.decode(Buffer.from(b), 16_384), HpackError) === undefined) return;
  }, { weight: 2 });
  const valid = new HpackEncoder().encode([[':method', 'CONNECT'], [':authority', '10.0.0.1:8080'], ['baggage', 'k8s.namespace.name=default'], ['x-custom', 'value with spaces']]);
  fuzz(t, 'hpack decode (mutated valid block)', [mutated(valid)], (b) => void refusesOnly(() => new HpackDecoder().decode(b, 16_384), HpackError), { weight: 2 });
  fuzz(t, 'hpack round trip', [fc.array(fieldList, { minLength: 1, maxLength: 3 })], (lists) => {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder();
    for (const l of lists) if (JSON.stringify(dec.decode(enc.encode(l)).fields) !== JSON.stringify(l)) throw new Error('decoded fields differ from the encoded ones');
  });
});

const SERVER: H2SessionOptions = {
  role: 'server',
  settings: { initialWindowSize: 1 << 20, maxFrameSize: 16_384, maxConcurrentStreams: 16, maxHeaderListSize: 16 << 10 },
  connectionWindow: 4 << 20,
};

/** Feeds `input` to a server session; returns what it wrote back and the errors it raised. */
async function drive(input: Buffer[], probe: boolean): Promise<void> {
  const sock = new MemSocket();
  const s = new H2Session(sock, SERVER);
  const problems: string[] = [];
  s.on('error', (e: Error) => {
    if (!(e instanceof H2ConnectionError || e instanceof H2StreamError)) problems.push(`session error ${e.name}: ${e.message}`);
  });
  s.on('frameError', (e: H2ConnectionError) => {
    if (e.h2Code === ErrorCode.INTERNAL_ERROR) problems.push(`INTERNAL_ERROR: ${e.message}`);
  });
  s.on('stream', (st: H2Stream) => {
    st.on('error', () => {});
    st.respond({ ':status': 200 });
    st.resume();
  });
  try {
    sock.push(CONNECTION_PREFACE);
    sock.push(settingsFrame([]));
    for (const c of input) {
      sock.push(c);
      await tick();
    }
    await tick();
    if (probe && !s.destroyed) {
      // Still open, so it must still answer: a PING after the frames comes back acknowledged.
      const opaque = Buffer.from('fuzzping');
      sock.push(pingFrame(opaque, false));
      await tick();
      await tick();
      const back = readFrames([Buffer.concat(sock.written)], 1 << 24).frames;
      const acked = back.some((f) => f.h.type === FrameType.PING && (f.h.flags & Flag.ACK) !== 0 && f.payload.equals(opaque));
      const gone = back.some((f) => f.h.type === FrameType.GOAWAY && f.payload.readUInt32BE(4) !== ErrorCode.NO_ERROR);
      if (!acked && !gone) problems.push(`open session did not answer a PING; it wrote ${back.map((f) => `type ${f.h.type}`).join(', ')}`);
    }
  } finally {
    s.destroy();
    sock.destroy();
  }
  if (problems.length) throw new Error(problems.join('; '));
}

t.test('server session: frame sequences', async (t) => {
  await fuzzAsync(t, 'h2 server session (frame sequences)', [fc.array(anyFrame, { minLength: 1, maxLength: 10 })], (frames) => drive(frames, true), { weight: 1 });
});

t.test('server session: mutated byte streams', async (t) => {
  await fuzzAsync(
    t,
    'h2 server session (mutated bytes)',
    [fc.array(anyFrame, { minLength: 1, maxLength: 6 }).chain((fs) => mutated(Buffer.concat(fs))), fc.array(fc.nat(), { maxLength: 4 })],
    (b, cuts) => drive(chunked(b, cuts), false),
    { weight: 1 },
  );
});
