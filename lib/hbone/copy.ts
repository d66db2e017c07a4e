// Bidirectional copy between two duplex streams (an HTTP/2 stream and a socket, two sockets, …)
// with TCP half-close semantics: the end of one direction ends only that direction. An abortive end
// (a TCP RST, an RST_STREAM with an error code) is passed on as one, so that the far application
// sees a reset rather than a clean end of data it never got.
import { constants as h2c } from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

export interface CopyResult {
  /** Bytes read from `a` and written to `b`. */
  aToB: number;
  bToA: number;
  /** Set when either side failed or closed before both directions finished. */
  error?: Error;
}

export interface Bridge {
  readonly done: Promise<CopyResult>;
  /** Bytes so far, for live counters. */
  readonly bytes: { readonly aToB: number; readonly bToA: number };
  /** Tears down both sides (an error, for an HTTP/2 stream, resets it). */
  destroy(err?: Error): void;
}

export interface BridgeOptions {
  /**
   * Bytes one direction may have queued in its destination's buffer before reading its source
   * pauses. Streams' own high-water mark (16 KiB) is far below what one read delivers (64 KiB),
   * so pausing on `write() === false` would stop the source after every chunk.
   */
  budgetBytes?: number;
}

/** Default in-flight budget per direction: room for a few TLS records and HTTP/2 frames of a bulk flow. */
export const COPY_BUDGET_BYTES = 512 * 1024;

// Writes are batched per event-loop turn: a destination is corked at its first write of the turn
// and uncorked once, after the I/O callbacks of that turn, so that the chunks read in one turn go
// out in one writev (one TLS record run, one batch of DATA frames) instead of one call each.
interface Batch {
  dst: Duplex;
  corked: boolean;
}
let pending: Batch[] = [];
let spare: Batch[] = [];
let flushScheduled = false;

function flushBatches(): void {
  flushScheduled = false;
  const list = pending;
  pending = spare;
  for (const b of list) {
    b.corked = false;
    b.dst.uncork();
  }
  list.length = 0;
  spare = list;
}

function corkForThisTurn(b: Batch): void {
  if (b.corked) return;
  b.corked = true;
  b.dst.cork();
  pending.push(b);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushBatches);
  }
}

function closeAfterFlush(s: Duplex): void {
  if (s.writableFinished) s.destroy();
  else s.once('finish', () => s.destroy());
}

function finished(s: Duplex): boolean {
  return s.readableEnded && s.writableFinished;
}

// Streams resetStream() ended: a bridge with one of them on a side passes the reset on to the other
// (a plain socket's close looks the same whether it ended with a FIN or an RST).
const resetHere = new WeakSet<Duplex>();

/** An RST_STREAM code other than NO_ERROR (the peer or the session aborted that stream), or a reset of ours. */
function wasReset(s: Duplex): boolean {
  if (resetHere.has(s)) return true;
  const code = (s as { rstCode?: unknown }).rstCode;
  return typeof code === 'number' && code !== h2c.NGHTTP2_NO_ERROR;
}

/**
 * Ends `s` abortively: a TCP RST for a plain socket, RST_STREAM CANCEL for an HTTP/2 stream,
 * `destroy(err)` for anything else (a stream type that maps an error to its own reset).
 */
export function resetStream(s: Duplex, err: Error): void {
  if (s.destroyed) return;
  resetHere.add(s);
  if (s instanceof net.Socket && !(s instanceof tls.TLSSocket)) {
    try {
      s.resetAndDestroy();
      return;
    } catch {
      // not a TCP handle (a pipe): an ordinary destroy is the closest there is
    }
  }
  const h2 = s as Duplex & { rstCode?: number; close?: (code: number) => void };
  if ('rstCode' in h2 && typeof h2.close === 'function') {
    h2.close(h2c.NGHTTP2_CANCEL);
    return;
  }
  s.destroy(err);
}

/**
 * Copies a → b and b → a with backpressure. EOF on one side ends the other's writable side; an
 * error or a reset of either side resets the other; an early clean close of either side destroys
 * the other. `done` never rejects.
 */
export function bridge(a: Duplex, b: Duplex, opts: BridgeOptions = {}): Bridge {
  const budget = opts.budgetBytes ?? COPY_BUDGET_BYTES;
  const bytes = { aToB: 0, bToA: 0 };
  let firstError: Error | undefined;
  let resolve!: (r: CopyResult) => void;
  const done = new Promise<CopyResult>((r) => (resolve = r));
  let closed = 0;

  const teardown = (err?: Error): void => {
    firstError ??= err;
    if (!a.destroyed) a.destroy();
    if (!b.destroyed) b.destroy();
  };

  /** `from` ended abortively: the other side is reset, not closed. */
  const abort = (from: Duplex, err: Error): void => {
    firstError ??= err;
    resetStream(from === a ? b : a, err);
    if (!from.destroyed) from.destroy();
  };

  // Sides whose readable end was a real EOF (FIN, END_STREAM), not the end an RST_STREAM implies.
  const cleanEof = new Set<Duplex>();

  const pump = (src: Duplex, dst: Duplex, count: 'aToB' | 'bToA'): void => {
    const batch: Batch = { dst, corked: false };
    let paused = false;
    src.on('data', (chunk: Buffer) => {
      bytes[count] += chunk.length;
      if (dst.destroyed || dst.writableEnded) return;
      corkForThisTurn(batch);
      dst.write(chunk);
      // Past the budget write() has returned false, so 'drain' is sure to follow.
      if (!paused && dst.writableLength >= budget) {
        paused = true;
        src.pause();
      }
    });
    dst.on('drain', () => {
      if (!paused) return;
      paused = false;
      src.resume();
    });
    src.on('end', () => {
      // An HTTP/2 stream that receives RST_STREAM ends its readable side first and learns the
      // code only later in the same turn; that end is no EOF to pass on (onClose resets instead).
      setImmediate(() => {
        if (wasReset(src)) return;
        cleanEof.add(src);
        if (!dst.writableEnded && !dst.destroyed) dst.end();
      });
    });
  };

  const onClose = (s: Duplex, name: string) => (): void => {
    const other = s === a ? b : a;
    if (wasReset(s)) {
      const code = (s as { rstCode?: number }).rstCode;
      if (!cleanEof.has(s)) abort(s, firstError ?? new Error(`${name} was reset${code === undefined ? '' : ` (RST_STREAM code ${code})`}`));
      // The peer sent all it had, then stopped listening: deliver that, then close.
      else if (!other.destroyed) closeAfterFlush(other);
    } else if (!finished(s)) {
      teardown(firstError ?? new Error(`${name} closed before the copy finished`));
    }
    if (++closed === 2) resolve({ ...bytes, ...(firstError ? { error: firstError } : {}) });
  };

  pump(a, b, 'aToB');
  pump(b, a, 'bToA');
  for (const [s, name] of [[a, 'a'], [b, 'b']] as const) {
    s.on('error', (e: Error) => abort(s, e));
    // A side that closed before the bridge was built (a stream reset while the upstream connected).
    if (s.closed) queueMicrotask(onClose(s, name));
    else s.once('close', onClose(s, name));
  }

  return { done, bytes, destroy: (err?: Error) => teardown(err ?? new Error('copy cancelled')) };
}
