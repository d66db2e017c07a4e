// One HTTP/2 connection over an established (TLS) socket, client or server role (RFC 9113):
// preface and SETTINGS, flow control on both levels, stream limits, GOAWAY and graceful drain, PING,
// and connection vs stream errors. Frames queued in one turn of the event loop leave in one socket
// write. The surface follows the part of node:http2's Http2Session that lib/hbone uses, so callers
// do not depend on which transport is inside.
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingHttpStatusHeader, OutgoingHttpHeaders } from 'node:http2';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { H2ConnectionError, H2StreamError, HpackError } from './errors.js';
import { FrameReader, type FrameSink } from './frame-reader.js';
import { ReceiveWindow, growSendWindow } from './flow.js';
import {
  CONNECTION_PREFACE,
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  FRAME_HEADER_SIZE,
  FrameType,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW,
  MIN_MAX_FRAME_SIZE,
  SETTINGS_ACK,
  SettingId,
  errorCodeName,
  frameHeader,
  goawayFrame,
  headersFrames,
  pingFrame,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
  type FrameHeader,
  type SettingsList,
} from './frames.js';
import { fromFields, malformed, toFields } from './header-fields.js';
import { DEFAULT_TABLE_SIZE, HpackDecoder, HpackEncoder, type HeaderField } from './hpack.js';
import { H2Stream, H2StreamResetError, type StreamOwner } from './stream.js';

export interface H2Settings {
  headerTableSize: number;
  enablePush: boolean;
  maxConcurrentStreams: number;
  initialWindowSize: number;
  maxFrameSize: number;
  maxHeaderListSize: number;
}

/** Values in force before a peer's SETTINGS (RFC 9113 §6.5.2); "unlimited" is 2^32-1 as in node:http2. */
const PROTOCOL_DEFAULTS: H2Settings = {
  headerTableSize: DEFAULT_TABLE_SIZE,
  enablePush: true,
  maxConcurrentStreams: 0xffff_ffff,
  initialWindowSize: DEFAULT_WINDOW,
  maxFrameSize: MIN_MAX_FRAME_SIZE,
  maxHeaderListSize: 0xffff_ffff,
};

export interface H2SessionOptions {
  role: 'client' | 'server';
  /** What we advertise; unset fields keep the protocol defaults. */
  settings?: Partial<H2Settings>;
  /** Our connection-level receive window (a WINDOW_UPDATE on stream 0 right after SETTINGS). */
  connectionWindow?: number;
  /** Bytes queued on the socket before stream writes wait for it to drain. */
  maxSendBuffer?: number;
  /** DATA frames we send are at most this large (and at most the peer's SETTINGS_MAX_FRAME_SIZE). */
  maxDataFrame?: number;
}

/** Session failures carry a code as node:http2's do, for callers that look at it. */
export class H2SessionError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'H2SessionError';
  }
}

const DEFAULT_MAX_SEND_BUFFER = 256 << 10;
const DEFAULT_MAX_DATA_FRAME = 65536;
/** Frames whose payload is smaller than this are copied next to their header; larger ones are sent as slices. */
const COPY_BELOW = 4096;
/** A turn's frames up to this size are joined into one buffer; larger batches are written corked. */
const COALESCE_BELOW = 16_384;

interface HeaderBlock {
  streamId: number;
  endStream: boolean;
  parts: Buffer[];
  bytes: number;
}

type PingCallback = (err: Error | null, durationMs: number, payload: Buffer) => void;

export class H2Session extends EventEmitter implements StreamOwner, FrameSink {
  readonly localSettings: H2Settings;
  remoteSettings: H2Settings = { ...PROTOCOL_DEFAULTS };
  pendingSettingsAck = true;
  closed = false;
  destroyed = false;
  /** GOAWAY received (then: its code and last stream id). */
  goawayReceived: { code: number; lastStreamId: number } | undefined;

  private readonly role: 'client' | 'server';
  private readonly reader: FrameReader;
  private readonly decoder: HpackDecoder;
  private readonly encoder = new HpackEncoder();
  private readonly streams = new Map<number, H2Stream>();
  private readonly connRecv: ReceiveWindow;
  private connSend = DEFAULT_WINDOW;
  private nextStreamId: number;
  /** Highest stream id the peer opened (what our GOAWAY names). */
  private lastPeerStreamId = 0;
  private goawaySent = false;
  private gotSettings = false;
  private block: HeaderBlock | undefined;
  /** The DATA frame being read: its stream, or undefined when its bytes are discarded. */
  private dataStream: H2Stream | undefined;
  private dataDelivered = 0;
  private readonly maxSendBuffer: number;
  private readonly maxDataFrame: number;
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private socketBlocked = false;
  private drainWaiters: (() => void)[] = [];
  /** Streams with data waiting for window, in arrival order. */
  private readonly starved = new Set<H2Stream>();
  private readonly pings = new Map<string, { sent: number; cb: PingCallback }>();
  private readonly maxHeaderBlock: number;

  constructor(
    readonly socket: Duplex & { ref?(): unknown; unref?(): unknown },
    opts: H2SessionOptions,
  ) {
    super();
    this.role = opts.role;
    this.localSettings = { ...PROTOCOL_DEFAULTS, ...(opts.role === 'client' ? { enablePush: false } : {}), ...opts.settings };
    validateLocalSettings(this.localSettings);
    this.nextStreamId = opts.role === 'client' ? 1 : 2;
    this.maxSendBuffer = opts.maxSendBuffer ?? DEFAULT_MAX_SEND_BUFFER;
    this.maxDataFrame = opts.maxDataFrame ?? DEFAULT_MAX_DATA_FRAME;
    this.decoder = new HpackDecoder(this.localSettings.headerTableSize);
    // A compressed block cannot be much larger than the list it encodes: past this it is a flood.
    this.maxHeaderBlock = Math.min(this.localSettings.maxHeaderListSize, 1 << 24) + 16_384;
    this.reader = new FrameReader(this, { maxFrameSize: this.localSettings.maxFrameSize, expectPreface: opts.role === 'server' });
    const connWindow = Math.max(DEFAULT_WINDOW, Math.min(opts.connectionWindow ?? DEFAULT_WINDOW, MAX_WINDOW));
    this.connRecv = new ReceiveWindow(connWindow);

    if (opts.role === 'client') this.queue(CONNECTION_PREFACE);
    this.queue(settingsFrame(settingsToList(this.localSettings, opts.role)));
    if (connWindow > DEFAULT_WINDOW) this.queue(windowUpdateFrame(0, connWindow - DEFAULT_WINDOW));

    // Frames are already gathered into one write per turn; Nagle would only hold back the small
    // ones (WINDOW_UPDATE, PING ACK, a 1 KiB DATA) for a delayed ACK.
    (socket as { setNoDelay?(on: boolean): unknown }).setNoDelay?.(true);
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    socket.on('end', this.onSocketEnd);
    process.nextTick(() => {
      if (!this.destroyed) this.emit('connect', this, socket);
    });
  }

  /** Like node:http2's session.state, the two connection windows. */
  get state(): { localWindowSize: number; remoteWindowSize: number; outboundQueueSize: number } {
    return { localWindowSize: this.connRecv.size, remoteWindowSize: this.connSend, outboundQueueSize: this.outBytes };
  }

  /** Streams open now (both directions or one). */
  get activeStreams(): number {
    return this.streams.size;
  }

  ref(): void {
    this.socket.ref?.();
  }

  unref(): void {
    this.socket.unref?.();
  }

  /** Client: opens a stream with `headers`; CONNECT needs only :method and :authority. */
  request(headers: OutgoingHttpHeaders, opts: { endStream?: boolean } = {}): H2Stream {
    if (this.role !== 'client') throw new H2SessionError('ERR_HTTP2_INVALID_SESSION', 'HTTP/2: only a client session opens streams');
    if (this.goawayReceived) throw new H2SessionError('ERR_HTTP2_GOAWAY_SESSION', 'HTTP/2 session received GOAWAY: open a new connection');
    if (this.destroyed || this.closed) throw new H2SessionError('ERR_HTTP2_INVALID_SESSION', 'HTTP/2 session is closed: open a new connection');
    if (this.streams.size >= this.remoteSettings.maxConcurrentStreams) {
      throw new H2SessionError('ERR_HTTP2_OUT_OF_STREAMS', `HTTP/2 peer allows ${this.remoteSettings.maxConcurrentStreams} concurrent streams, all in use`);
    }
    if (this.nextStreamId > MAX_WINDOW) throw new H2SessionError('ERR_HTTP2_OUT_OF_STREAMS', 'HTTP/2 stream ids exhausted on this connection: open a new one');
    const h: OutgoingHttpHeaders = { ...headers };
    h[':method'] ??= 'GET';
    if (h[':method'] !== 'CONNECT') {
      // What node:http2 fills in for ordinary requests.
      h[':scheme'] ??= 'https';
      h[':path'] ??= '/';
    }
    const fields = toFields(h);
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const s = new H2Stream(id, this, this, this.remoteSettings.initialWindowSize, this.localSettings.initialWindowSize);
    this.streams.set(id, s);
    this.sendBlock(s, fields, opts.endStream === true);
    if (opts.endStream) s.end();
    return s;
  }

  /** Sends PING; `cb` gets the round-trip time once the peer acknowledged it. */
  ping(cb: PingCallback = () => {}): boolean {
    if (this.destroyed) throw new H2SessionError('ERR_HTTP2_INVALID_SESSION', 'HTTP/2 session is destroyed');
    const payload = randomBytes(8);
    this.pings.set(payload.toString('hex'), { sent: performance.now(), cb });
    this.queue(pingFrame(payload, false));
    return true;
  }

  /**
   * Graceful close: GOAWAY naming the last stream the peer opened, no new streams, and the
   * connection ends once the streams in flight are done.
   */
  close(cb?: () => void): void {
    if (cb) this.once('close', cb);
    if (this.destroyed) return;
    this.closed = true;
    this.sendGoaway(ErrorCode.NO_ERROR, '');
    this.maybeFinish();
  }

  /** Abrupt close: every stream fails; `err` is emitted as 'error'. */
  destroy(err?: Error, code: number = err ? ErrorCode.INTERNAL_ERROR : ErrorCode.NO_ERROR): void {
    if (this.destroyed) return;
    if (!this.goawaySent && this.socket.writable) this.sendGoaway(code, err?.message ?? '');
    this.teardown(err ?? new H2SessionError('ERR_HTTP2_SESSION_DESTROYED', 'HTTP/2 session was destroyed'));
    if (err) this.emit('error', err);
  }

  // === writing ===

  private queue(b: Buffer): void {
    this.out.push(b);
    this.outBytes += b.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }

  /** One socket write per turn: TLS then seals it into as few records as it can. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.out.length === 0) return;
    const out = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    if (!this.socket.writable || this.socket.destroyed) return;
    if (out.length === 1 || bytes <= COALESCE_BELOW) {
      this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out, bytes));
    } else {
      // Large DATA payloads go down as they are: one corked writev, no copy on the JS heap.
      this.socket.cork();
      for (const b of out) this.socket.write(b);
      this.socket.uncork();
    }
    if (this.socket.writableLength >= this.maxSendBuffer) this.socketBlocked = true;
  };

  private readonly onDrain = (): void => {
    this.socketBlocked = false;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  };

  private sendBlock(s: H2Stream, fields: HeaderField[], endStream: boolean): void {
    const block = this.encoder.encode(fields);
    this.queue(headersFrames(s.id, block, endStream, this.remoteSettings.maxFrameSize));
    if (endStream) this.markLocalEnded(s);
  }

  sendHeaders(s: H2Stream, headers: OutgoingHttpHeaders, endStream: boolean): void {
    if (s.gone || this.destroyed) return;
    this.sendBlock(s, toFields(headers), endStream);
  }

  writeData(s: H2Stream, chunks: Buffer[], cb: (err?: Error | null) => void): void {
    if (s.gone || s.localEnded || this.destroyed) {
      cb(new H2SessionError('ERR_HTTP2_INVALID_STREAM', `HTTP/2 stream ${s.id} is closed for writing`));
      return;
    }
    for (const c of chunks) {
      if (c.length === 0) continue;
      s.pendingData.push(c);
      s.pendingBytes += c.length;
    }
    s.pendingCb = cb;
    this.pump(s);
  }

  /** Frames as much of `s`'s pending data as both windows allow; completes its write when all is out. */
  private pump(s: H2Stream): void {
    const maxFrame = Math.min(this.remoteSettings.maxFrameSize, this.maxDataFrame);
    while (s.pendingBytes > 0) {
      const room = Math.min(s.sendWindow, this.connSend, maxFrame);
      if (room <= 0) {
        this.starved.add(s);
        return;
      }
      let n = Math.min(room, s.pendingBytes);
      s.sendWindow -= n;
      this.connSend -= n;
      s.pendingBytes -= n;
      // One frame may span several written chunks; each goes out as its own slice.
      const parts: Buffer[] = [];
      while (n > 0) {
        const c = s.pendingData[0]!;
        if (c.length <= n) {
          parts.push(c);
          s.pendingData.shift();
          n -= c.length;
        } else {
          parts.push(c.subarray(0, n));
          s.pendingData[0] = c.subarray(n);
          n = 0;
        }
      }
      const len = parts.reduce((a, p) => a + p.length, 0);
      const head = frameHeader(len, FrameType.DATA, 0, s.id);
      if (len < COPY_BELOW) this.queue(Buffer.concat([head, ...parts], FRAME_HEADER_SIZE + len));
      else {
        this.queue(head);
        for (const p of parts) this.queue(p);
      }
    }
    this.starved.delete(s);
    const cb = s.pendingCb;
    s.pendingCb = undefined;
    if (!cb) return;
    if (this.socketBlocked) this.drainWaiters.push(() => cb());
    else cb();
  }

  endStream(s: H2Stream): void {
    if (s.gone || s.localEnded || this.destroyed) return;
    this.queue(frameHeader(0, FrameType.DATA, Flag.END_STREAM, s.id));
    this.markLocalEnded(s);
  }

  consumed(s: H2Stream, n: number): void {
    if (s.gone || s.remoteEnded || n === 0) return;
    const inc = s.recvWindow.consume(n);
    if (inc > 0) this.queue(windowUpdateFrame(s.id, inc));
  }

  reset(s: H2Stream, code: number): void {
    if (s.gone) return;
    s.rstCode ??= code;
    if (!this.destroyed) this.queue(rstStreamFrame(s.id, code));
    this.forget(s);
  }

  private sendGoaway(code: number, debug: string): void {
    if (this.goawaySent) return;
    this.goawaySent = true;
    this.queue(goawayFrame(this.lastPeerStreamId, code, debug.slice(0, 256)));
  }

  // === stream bookkeeping ===

  private markLocalEnded(s: H2Stream): void {
    s.localEnded = true;
    if (s.remoteEnded) this.forget(s);
  }

  private forget(s: H2Stream): void {
    if (s.gone) return;
    s.gone = true;
    this.streams.delete(s.id);
    this.starved.delete(s);
    this.maybeFinish();
  }

  /** After GOAWAY (either way) the connection ends when its last stream does. */
  private maybeFinish(): void {
    if (this.destroyed || this.streams.size > 0) return;
    if (!this.closed && !this.goawayReceived) return;
    this.flush();
    this.teardown(undefined);
  }

  private teardown(err: Error | undefined): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closed = true;
    for (const s of [...this.streams.values()]) {
      s.gone = true;
      s.destroy(err ?? new H2SessionError('ERR_HTTP2_SESSION_CLOSED', `HTTP/2 connection closed while stream ${s.id} was open`));
    }
    this.streams.clear();
    this.starved.clear();
    for (const [, p] of this.pings) p.cb(new H2SessionError('ERR_HTTP2_PING_CANCEL', 'HTTP/2 session closed before the PING was answered'), 0, Buffer.alloc(0));
    this.pings.clear();
    this.flush();
    const sock = this.socket;
    // As node:http2 does, the session is closed for its users now; the socket finishes on its own.
    process.nextTick(() => this.emitClose());
    if (sock.destroyed) return;
    // Let the GOAWAY and TLS close_notify leave, then make sure the socket is gone.
    if (sock.writable) sock.end(() => sock.destroy());
    else sock.destroy();
    if (err) setTimeout(() => sock.destroy(), 1000).unref();
  }

  private closeEmitted = false;

  private emitClose(): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.socket.off('data', this.onData);
    this.socket.off('drain', this.onDrain);
    this.emit('close');
  }

  // === reading ===

  private readonly onData = (chunk: Buffer): void => {
    if (this.destroyed) return;
    try {
      this.reader.push(chunk);
    } catch (e) {
      this.connectionError(e);
    }
  };

  private readonly onSocketError = (e: Error): void => {
    if (this.destroyed) return;
    this.teardown(e);
    this.emit('error', e);
  };

  private readonly onSocketEnd = (): void => {
    // The peer closed its side: nothing more will arrive, so no stream can finish.
    if (!this.destroyed) this.teardown(undefined);
  };

  private readonly onSocketClose = (): void => {
    if (!this.destroyed) this.teardown(undefined);
    this.emitClose();
  };

  /** A connection error of ours: GOAWAY with its code, then the connection goes. */
  private connectionError(e: unknown): void {
    const err = e instanceof H2ConnectionError ? e : e instanceof HpackError ? new H2ConnectionError(ErrorCode.COMPRESSION_ERROR, e.message) : new H2ConnectionError(ErrorCode.INTERNAL_ERROR, String((e as Error)?.message ?? e));
    this.emit('frameError', err);
    this.sendGoaway(err.h2Code, err.message);
    this.teardown(err);
    this.emit('error', err);
  }

  /** A stream error of ours: RST_STREAM with its code; the stream fails with that error. */
  private streamError(e: H2StreamError): void {
    const s = this.streams.get(e.streamId);
    this.queue(rstStreamFrame(e.streamId, e.h2Code));
    if (s) {
      s.rstCode = e.h2Code;
      this.forget(s);
      s.destroy(e);
    }
  }

  private checkFrameOrder(h: FrameHeader): void {
    if (this.block && h.type !== FrameType.CONTINUATION) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `frame type 0x${h.type.toString(16)} inside the header block of stream ${this.block.streamId}`);
    }
    if (!this.gotSettings && !(h.type === FrameType.SETTINGS && !(h.flags & Flag.ACK))) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `the peer's first frame is type 0x${h.type.toString(16)}, not SETTINGS`);
    }
  }

  /** Whether `id` names a stream that was never opened (by either side's numbering). */
  private isIdle(id: number): boolean {
    const peerOpens = (id % 2 === 1) === (this.role === 'server');
    return peerOpens ? id > this.lastPeerStreamId : id >= this.nextStreamId;
  }

  dataStart(h: FrameHeader): void {
    this.checkFrameOrder(h);
    this.dataStream = undefined;
    this.dataDelivered = 0;
    if (h.streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    if (!this.connRecv.receive(h.length)) {
      throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `DATA of ${h.length} bytes on stream ${h.streamId} exceeds the connection window (${this.connRecv.available} left)`);
    }
    const s = this.streams.get(h.streamId);
    if (!s) {
      if (this.isIdle(h.streamId)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${h.streamId}`);
      return; // a stream we already reset or finished: the bytes are dropped (and their window given back at dataEnd)
    }
    if (s.remoteEnded) return this.streamError(new H2StreamError(s.id, ErrorCode.STREAM_CLOSED, 'DATA after END_STREAM'));
    if (!s.receivedHeaders) return this.streamError(new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, 'DATA before HEADERS'));
    if (!s.recvWindow.receive(h.length)) {
      return this.streamError(new H2StreamError(s.id, ErrorCode.FLOW_CONTROL_ERROR, `DATA of ${h.length} bytes exceeds the stream window (${s.recvWindow.available} left)`));
    }
    this.dataStream = s;
  }

  dataChunk(_h: FrameHeader, chunk: Buffer): void {
    const s = this.dataStream;
    if (!s) return;
    this.dataDelivered += chunk.length;
    if (s.destroyed) return; // reset by the application in the middle of the frame
    if (s.push(chunk) && !s.readPaused) {
      this.consumed(s, chunk.length);
    } else {
      s.readPaused = true;
      s.deferredConsumed += chunk.length;
    }
  }

  dataEnd(h: FrameHeader): void {
    const s = this.dataStream;
    this.dataStream = undefined;
    // The connection window comes back as soon as bytes arrive: per-stream windows hold the backpressure.
    const inc = this.connRecv.consume(h.length);
    if (inc > 0) this.queue(windowUpdateFrame(0, inc));
    if (!s) return;
    const padding = h.length - this.dataDelivered;
    if (padding > 0) this.consumed(s, padding);
    if (h.flags & Flag.END_STREAM && !s.destroyed) this.remoteEnd(s);
  }

  private remoteEnd(s: H2Stream): void {
    s.remoteEnded = true;
    s.push(null);
    if (s.localEnded) this.forget(s);
  }

  frame(h: FrameHeader, p: Buffer): void {
    this.checkFrameOrder(h);
    switch (h.type) {
      case FrameType.HEADERS:
        return this.onHeaders(h, p);
      case FrameType.CONTINUATION:
        return this.onContinuation(h, p);
      case FrameType.PRIORITY:
        if (h.streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (p.length !== 5) return this.streamError(new H2StreamError(h.streamId, ErrorCode.FRAME_SIZE_ERROR, `PRIORITY of ${p.length} bytes, not 5`));
        return; // priorities are advisory; this implementation does not schedule by them
      case FrameType.RST_STREAM:
        return this.onRstStream(h, p);
      case FrameType.SETTINGS:
        return this.onSettings(h, p);
      case FrameType.PUSH_PROMISE:
        throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, this.role === 'client' ? 'PUSH_PROMISE although we disabled push' : 'PUSH_PROMISE from a client');
      case FrameType.PING:
        return this.onPing(h, p);
      case FrameType.GOAWAY:
        return this.onGoaway(h, p);
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(h, p);
      default:
        return; // unknown frame types are ignored (RFC 9113 §4.1)
    }
  }

  private onHeaders(h: FrameHeader, p: Buffer): void {
    if (h.streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let off = 0;
    let end = p.length;
    if (h.flags & Flag.PADDED) {
      if (p.length < 1) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `padded HEADERS on stream ${h.streamId} has no pad length`);
      const pad = p[0]!;
      off = 1;
      end -= pad;
    }
    if (h.flags & Flag.PRIORITY) {
      if (end - off < 5) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `HEADERS on stream ${h.streamId} too short for its priority fields`);
      // The block must still be decoded (HPACK state stays in step); the stream fails after.
      if ((p.readUInt32BE(off) & 0x7fff_ffff) === h.streamId) this.blockError = new H2StreamError(h.streamId, ErrorCode.PROTOCOL_ERROR, 'stream depends on itself');
      off += 5;
    }
    if (end < off) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${h.streamId}: padding longer than the payload`);
    this.block = { streamId: h.streamId, endStream: (h.flags & Flag.END_STREAM) !== 0, parts: [], bytes: 0 };
    this.addFragment(p.subarray(off, end));
    if (h.flags & Flag.END_HEADERS) this.finishBlock();
  }

  private blockError: H2StreamError | undefined;

  private onContinuation(h: FrameHeader, p: Buffer): void {
    if (!this.block || this.block.streamId !== h.streamId) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `CONTINUATION on stream ${h.streamId} without a HEADERS before it`);
    }
    this.addFragment(p);
    if (h.flags & Flag.END_HEADERS) this.finishBlock();
  }

  private addFragment(f: Buffer): void {
    const b = this.block!;
    b.bytes += f.length;
    if (b.bytes > this.maxHeaderBlock) {
      throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `header block on stream ${b.streamId} exceeds ${this.maxHeaderBlock} bytes (SETTINGS_MAX_HEADER_LIST_SIZE ${this.localSettings.maxHeaderListSize})`);
    }
    // Node never reuses a chunk it handed to 'data', so a slice of it may be kept.
    if (f.length > 0) b.parts.push(f);
  }

  private finishBlock(): void {
    const b = this.block!;
    this.block = undefined;
    const raw = b.parts.length === 1 ? b.parts[0]! : Buffer.concat(b.parts);
    const decoded = this.decoder.decode(raw, this.localSettings.maxHeaderListSize);
    const blockError = this.blockError;
    this.blockError = undefined;
    if (blockError) return this.streamError(blockError);
    const id = b.streamId;
    const existing = this.streams.get(id);
    if (existing) return this.onStreamHeaders(existing, decoded.fields, decoded.truncated, b.endStream);
    if (this.role === 'client') {
      if (this.isIdle(id) || id % 2 === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${id}, which we never opened`);
      return; // a stream we reset: its late answer is dropped
    }
    if (id % 2 === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `client opened even-numbered stream ${id}`);
    if (id <= this.lastPeerStreamId) return; // trailers of a stream we already closed or reset
    this.lastPeerStreamId = id;
    if (this.goawaySent) return; // after GOAWAY new streams are ignored (§6.8)
    if (this.streams.size >= this.localSettings.maxConcurrentStreams) {
      this.queue(rstStreamFrame(id, ErrorCode.REFUSED_STREAM));
      return;
    }
    if (decoded.truncated) {
      // RFC 9113 §10.5.1: a server may answer 431 to a header list it is not willing to handle.
      this.queue(headersFrames(id, this.encoder.encode([[':status', '431']]), true, this.remoteSettings.maxFrameSize));
      this.queue(rstStreamFrame(id, ErrorCode.NO_ERROR));
      this.emit('headersTooLarge', id, decoded.listSize);
      return;
    }
    const why = malformed(decoded.fields, 'request');
    if (why) {
      this.queue(rstStreamFrame(id, ErrorCode.PROTOCOL_ERROR));
      this.emit('frameError', new H2StreamError(id, ErrorCode.PROTOCOL_ERROR, `malformed request: ${why}`));
      return;
    }
    const s = new H2Stream(id, this, this, this.remoteSettings.initialWindowSize, this.localSettings.initialWindowSize);
    const headers = fromFields(decoded.fields, false);
    s.receivedHeaders = headers;
    this.streams.set(id, s);
    if (b.endStream) this.remoteEnd(s);
    this.emit('stream', s, headers);
  }

  private onStreamHeaders(s: H2Stream, fields: HeaderField[], truncated: boolean, endStream: boolean): void {
    if (s.remoteEnded) return this.streamError(new H2StreamError(s.id, ErrorCode.STREAM_CLOSED, 'HEADERS after END_STREAM'));
    if (truncated) return this.streamError(new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, `header list larger than SETTINGS_MAX_HEADER_LIST_SIZE ${this.localSettings.maxHeaderListSize}`));
    if (s.receivedHeaders || this.role === 'server') {
      // Trailers: HBONE has none to use, but they are legal when they end the stream.
      const why = malformed(fields, 'trailers');
      if (why || !endStream) return this.streamError(new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, why ?? 'trailers without END_STREAM'));
      return this.remoteEnd(s);
    }
    const why = malformed(fields, 'response');
    if (why) return this.streamError(new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, `malformed response: ${why}`));
    const headers = fromFields(fields, true) as IncomingHttpHeaders & IncomingHttpStatusHeader;
    const status = Number(headers[':status']);
    if (status >= 100 && status < 200) {
      if (status === 101) return this.streamError(new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, 'status 101 is not allowed in HTTP/2'));
      if (endStream) return this.streamError(new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, 'informational response with END_STREAM'));
      return; // informational: the final answer follows
    }
    s.deliverResponse(headers);
    if (endStream) this.remoteEnd(s);
  }

  private onRstStream(h: FrameHeader, p: Buffer): void {
    if (h.streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (p.length !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `RST_STREAM of ${p.length} bytes, not 4`);
    if (this.isIdle(h.streamId)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${h.streamId}`);
    const s = this.streams.get(h.streamId);
    if (!s) return;
    const code = p.readUInt32BE(0);
    s.rstCode = code;
    this.forget(s);
    // NO_ERROR (after a complete answer) and CANCEL (the peer gave up) end the stream without an
    // 'error', as node:http2 and ztunnel treat them; rstCode tells why. Other codes are errors.
    if (code === ErrorCode.NO_ERROR || code === ErrorCode.CANCEL) {
      if (code === ErrorCode.NO_ERROR && !s.remoteEnded) s.push(null);
      s.destroy();
    } else s.destroy(new H2StreamResetError(s.id, code, 'peer'));
  }

  private onSettings(h: FrameHeader, p: Buffer): void {
    if (h.streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS on stream ${h.streamId}`);
    if (h.flags & Flag.ACK) {
      if (p.length !== 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      this.pendingSettingsAck = false;
      this.emit('localSettings', this.localSettings);
      return;
    }
    if (p.length % 6 !== 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `SETTINGS of ${p.length} bytes, not a multiple of 6`);
    const next = { ...this.remoteSettings };
    for (let off = 0; off < p.length; off += 6) {
      const id = p.readUInt16BE(off);
      const v = p.readUInt32BE(off + 2);
      switch (id) {
        case SettingId.HEADER_TABLE_SIZE:
          next.headerTableSize = v;
          break;
        case SettingId.ENABLE_PUSH:
          if (v > 1) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${v}`);
          if (v === 1 && this.role === 'client') throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a server sent SETTINGS_ENABLE_PUSH 1');
          next.enablePush = v === 1;
          break;
        case SettingId.MAX_CONCURRENT_STREAMS:
          next.maxConcurrentStreams = v;
          break;
        case SettingId.INITIAL_WINDOW_SIZE:
          if (v > MAX_WINDOW) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${v} above 2^31-1`);
          next.initialWindowSize = v;
          break;
        case SettingId.MAX_FRAME_SIZE:
          if (v < MIN_MAX_FRAME_SIZE || v > MAX_MAX_FRAME_SIZE) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${v} outside 16384..16777215`);
          next.maxFrameSize = v;
          break;
        case SettingId.MAX_HEADER_LIST_SIZE:
          next.maxHeaderListSize = v;
          break;
        default:
          break; // unknown settings are ignored (§6.5.2)
      }
    }
    const delta = next.initialWindowSize - this.remoteSettings.initialWindowSize;
    if (delta !== 0) {
      for (const s of this.streams.values()) {
        const w = growSendWindow(s.sendWindow, delta);
        if (w === undefined) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE change overflows the window of stream ${s.id}`);
        s.sendWindow = w;
      }
    }
    this.encoder.setPeerTableSize(next.headerTableSize);
    this.remoteSettings = next;
    this.gotSettings = true;
    this.queue(SETTINGS_ACK);
    this.emit('remoteSettings', next);
    if (delta > 0) this.pumpStarved();
  }

  private onPing(h: FrameHeader, p: Buffer): void {
    if (h.streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `PING on stream ${h.streamId}`);
    if (p.length !== 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `PING of ${p.length} bytes, not 8`);
    if (!(h.flags & Flag.ACK)) {
      this.queue(pingFrame(p, true));
      this.emit('ping', p);
      return;
    }
    const key = p.toString('hex');
    const w = this.pings.get(key);
    if (!w) return; // an answer to a PING we did not send is ignored
    this.pings.delete(key);
    w.cb(null, performance.now() - w.sent, Buffer.from(p));
  }

  private onGoaway(h: FrameHeader, p: Buffer): void {
    if (h.streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `GOAWAY on stream ${h.streamId}`);
    if (p.length < 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `GOAWAY of ${p.length} bytes, below 8`);
    const lastStreamId = p.readUInt32BE(0) & 0x7fff_ffff;
    const code = p.readUInt32BE(4);
    const debug = p.subarray(8).toString('utf8');
    this.goawayReceived = { code, lastStreamId };
    // Streams of ours the peer never processed can be retried elsewhere.
    for (const s of [...this.streams.values()]) {
      const ours = (s.id % 2 === 1) === (this.role === 'client');
      if (ours && s.id > lastStreamId) {
        s.rstCode = ErrorCode.REFUSED_STREAM;
        this.forget(s);
        s.destroy(new H2StreamResetError(s.id, ErrorCode.REFUSED_STREAM, 'peer'));
      }
    }
    this.emit('goaway', code, lastStreamId, Buffer.from(debug));
    if (code !== ErrorCode.NO_ERROR) {
      this.teardown(new H2SessionError('ERR_HTTP2_SESSION_ERROR', `HTTP/2 peer sent GOAWAY ${errorCodeName(code)}${debug ? `: ${debug}` : ''}`));
      return;
    }
    this.closed = true;
    this.maybeFinish();
  }

  private onWindowUpdate(h: FrameHeader, p: Buffer): void {
    if (p.length !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `WINDOW_UPDATE of ${p.length} bytes, not 4`);
    const inc = p.readUInt32BE(0) & 0x7fff_ffff;
    if (h.streamId === 0) {
      if (inc === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0 on the connection');
      const w = growSendWindow(this.connSend, inc);
      if (w === undefined) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `WINDOW_UPDATE of ${inc} overflows the connection window`);
      this.connSend = w;
      this.pumpStarved();
      return;
    }
    if (this.isIdle(h.streamId)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${h.streamId}`);
    const s = this.streams.get(h.streamId);
    if (!s) return;
    if (inc === 0) return this.streamError(new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0'));
    const w = growSendWindow(s.sendWindow, inc);
    if (w === undefined) return this.streamError(new H2StreamError(s.id, ErrorCode.FLOW_CONTROL_ERROR, `WINDOW_UPDATE of ${inc} overflows the stream window`));
    s.sendWindow = w;
    if (this.starved.has(s)) this.pump(s);
  }

  private pumpStarved(): void {
    for (const s of [...this.starved]) {
      if (this.connSend <= 0) return;
      this.pump(s);
    }
  }
}

function settingsToList(s: H2Settings, role: 'client' | 'server'): SettingsList {
  const list: [number, number][] = [];
  const d = PROTOCOL_DEFAULTS;
  if (s.headerTableSize !== d.headerTableSize) list.push([SettingId.HEADER_TABLE_SIZE, s.headerTableSize]);
  if (role === 'client') list.push([SettingId.ENABLE_PUSH, s.enablePush ? 1 : 0]);
  if (s.maxConcurrentStreams !== d.maxConcurrentStreams) list.push([SettingId.MAX_CONCURRENT_STREAMS, s.maxConcurrentStreams]);
  if (s.initialWindowSize !== d.initialWindowSize) list.push([SettingId.INITIAL_WINDOW_SIZE, s.initialWindowSize]);
  if (s.maxFrameSize !== d.maxFrameSize) list.push([SettingId.MAX_FRAME_SIZE, s.maxFrameSize]);
  if (s.maxHeaderListSize !== d.maxHeaderListSize) list.push([SettingId.MAX_HEADER_LIST_SIZE, s.maxHeaderListSize]);
  return list;
}

function validateLocalSettings(s: H2Settings): void {
  const bad = (field: keyof H2Settings, why: string): never => {
    throw new RangeError(`HTTP/2 settings.${field} ${why}, got ${String(s[field])}`);
  };
  if (!(s.initialWindowSize >= 0 && s.initialWindowSize <= MAX_WINDOW)) bad('initialWindowSize', 'must be 0..2^31-1');
  if (!(s.maxFrameSize >= MIN_MAX_FRAME_SIZE && s.maxFrameSize <= MAX_MAX_FRAME_SIZE)) bad('maxFrameSize', 'must be 16384..16777215');
  if (!(s.maxConcurrentStreams >= 0)) bad('maxConcurrentStreams', 'must be >= 0');
  if (!(s.maxHeaderListSize >= 0)) bad('maxHeaderListSize', 'must be >= 0');
  if (!(s.headerTableSize >= 0)) bad('headerTableSize', 'must be >= 0');
}
