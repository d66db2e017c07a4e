// A request body that can be sent more than once (retries, mirrors) without waiting for it to end:
// each try gets a stream that replays what arrived so far and then follows the live body, as
// Envoy does, while the copy stays under a limit. Past the limit the body is no longer replayable
// and later tries must not start (the caller checks `replayable`).
import { PassThrough, type Readable } from 'node:stream';

export class ReplayBody {
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  #ended = false;
  #overflow = false;
  #error: Error | undefined;
  readonly #readers = new Set<PassThrough>();
  /** The try whose backpressure pauses the source (only the live try, never a mirror). */
  #primary: PassThrough | undefined;

  #started = false;

  constructor(
    private readonly source: Readable,
    private readonly limitBytes: number,
  ) {}

  /** Starts reading the body on the first stream, so nothing is read before a try can take it. */
  #start(): void {
    if (this.#started) return;
    this.#started = true;
    const source = this.source;
    source.on('data', (c: Buffer) => this.#onData(c));
    source.once('end', () => {
      this.#ended = true;
      for (const r of this.#readers) r.end();
    });
    source.once('error', (e) => {
      this.#error = e;
      for (const r of this.#readers) r.destroy(e);
    });
    source.once('close', () => {
      if (!this.#ended && !this.#error) {
        this.#error = new Error('the client went away before the request body ended');
        for (const r of this.#readers) r.destroy(this.#error);
      }
    });
  }

  get bytes(): number {
    return this.#bytes;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Whether a new stream would carry the whole body. */
  get replayable(): boolean {
    return !this.#overflow && !this.#error;
  }

  /** A stream of the whole body for one try; `primary` tries apply backpressure to the client. */
  stream(primary: boolean): Readable {
    this.#start();
    const p = new PassThrough();
    p.on('error', () => {});
    for (const c of this.#chunks) p.write(c);
    if (this.#error) {
      p.destroy(this.#error);
      return p;
    }
    if (this.#ended) {
      p.end();
      return p;
    }
    this.#readers.add(p);
    p.once('close', () => {
      this.#readers.delete(p);
      if (this.#primary === p) {
        this.#primary = undefined;
        this.source.resume();
      }
    });
    if (primary) {
      this.#primary = p;
      p.on('drain', () => this.source.resume());
    }
    return p;
  }

  #onData(c: Buffer): void {
    this.#bytes += c.length;
    if (!this.#overflow) {
      if (this.#bytes > this.limitBytes) {
        this.#overflow = true;
        this.#chunks.length = 0;
      } else this.#chunks.push(c);
    }
    for (const r of this.#readers) {
      const ok = r.write(c);
      if (!ok && r === this.#primary) this.source.pause();
    }
  }
}
