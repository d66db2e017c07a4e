// Two connected in-memory Duplex ends: what one writes the other reads, with backpressure (a write
// completes when the peer's reader asks for more), half-close (end → the peer reads EOF) and
// destruction passed across. The HBONE server copies a tunnel to one end; Node's HTTP servers
// are fed the other, which also answers the socket methods they call.
import { Duplex } from 'node:stream';

export class PairEnd extends Duplex {
  peer!: PairEnd;
  #pending: (() => void) | undefined;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;

  constructor() {
    super({ allowHalfOpen: true });
  }

  override _read(): void {
    const cb = this.peer.#pending;
    this.peer.#pending = undefined;
    cb?.();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.peer.destroyed) return cb(new Error('the other end of the connection is gone'));
    if (this.peer.push(chunk)) cb();
    else this.#pending = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.();
    if (!this.peer.destroyed) this.peer.destroy(err ?? undefined);
    cb(err);
  }

  // The net.Socket methods Node's HTTP servers call; a tunnel has no TCP options.
  setTimeout(_ms: number, cb?: () => void): this {
    if (cb) this.once('timeout', cb);
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

export function duplexPair(): [PairEnd, PairEnd] {
  const a = new PairEnd();
  const b = new PairEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
