// Bidirectional copy between two duplex streams (an HTTP/2 stream and a socket, two sockets, …)
// with TCP half-close semantics: the end of one direction ends only that direction.
import type { Duplex } from 'node:stream';

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

function finished(s: Duplex): boolean {
  return s.readableEnded && s.writableFinished;
}

/**
 * Copies a → b and b → a with backpressure. EOF on one side ends the other's writable side;
 * an error or an early close of either side destroys the other. `done` never rejects.
 */
export function bridge(a: Duplex, b: Duplex): Bridge {
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

  const pump = (src: Duplex, dst: Duplex, count: 'aToB' | 'bToA'): void => {
    src.on('data', (chunk: Buffer) => {
      bytes[count] += chunk.length;
      if (!dst.write(chunk)) src.pause();
    });
    dst.on('drain', () => src.resume());
    src.on('end', () => {
      if (!dst.writableEnded && !dst.destroyed) dst.end();
    });
  };

  const onClose = (s: Duplex, name: string) => (): void => {
    if (!finished(s)) teardown(firstError ?? new Error(`${name} closed before the copy finished`));
    if (++closed === 2) resolve({ ...bytes, ...(firstError ? { error: firstError } : {}) });
  };

  pump(a, b, 'aToB');
  pump(b, a, 'bToA');
  for (const [s, name] of [[a, 'a'], [b, 'b']] as const) {
    s.on('error', (e: Error) => teardown(e));
    // A side that closed before the bridge was built (a stream reset while the upstream connected).
    if (s.closed) queueMicrotask(onClose(s, name));
    else s.once('close', onClose(s, name));
  }

  return { done, bytes, destroy: (err?: Error) => teardown(err ?? new Error('copy cancelled')) };
}
