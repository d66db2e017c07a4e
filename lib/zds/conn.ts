// A ZDS connection in either role: frames out, frames in through one awaiting reader, deadlines.
import type { Socket } from 'node:net';
import { ZdsError } from './errors.js';
import { encodeFrame, FrameDecoder } from './framing.js';

interface Waiter {
  resolve(frame: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export class FramedConnection {
  private readonly decoder: FrameDecoder;
  private readonly frames: Buffer[] = [];
  private waiter: Waiter | undefined;
  private closeError: Error | undefined;
  private readonly closeListeners: ((err: Error) => void)[] = [];

  constructor(
    readonly socket: Socket,
    private readonly maxFrameBytes: number,
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.close(new ZdsError('CLOSED', `socket error: ${err.message}`)));
    socket.on('close', () => this.close(new ZdsError('CLOSED', 'peer closed the connection')));
    socket.on('end', () => socket.end());
  }

  get isClosed(): boolean {
    return this.closeError !== undefined;
  }

  /** Why it closed (first reason wins). */
  get closeReason(): Error | undefined {
    return this.closeError;
  }

  onClose(listener: (err: Error) => void): void {
    if (this.closeError) listener(this.closeError);
    else this.closeListeners.push(listener);
  }

  send(payload: Uint8Array): void {
    if (this.closeError) throw this.closeError;
    this.socket.write(encodeFrame(payload, this.maxFrameBytes));
  }

  /** The next frame; rejects with TIMEOUT after `timeoutMs` (0 = wait forever) or CLOSED. */
  read(timeoutMs: number, what: string): Promise<Buffer> {
    const ready = this.frames.shift();
    if (ready) return Promise.resolve(ready);
    if (this.closeError) return Promise.reject(this.closeError);
    if (this.waiter) return Promise.reject(new Error('FramedConnection: only one reader at a time'));
    return new Promise<Buffer>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.waiter = undefined;
              reject(new ZdsError('TIMEOUT', `no ${what} within ${timeoutMs} ms`));
            }, timeoutMs)
          : undefined;
      this.waiter = { resolve, reject, timer };
    });
  }

  close(reason: Error = new ZdsError('CLOSED', 'connection closed locally')): void {
    if (this.closeError) return;
    this.closeError = reason;
    this.socket.destroy();
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      clearTimeout(w.timer);
      w.reject(reason);
    }
    for (const l of this.closeListeners.splice(0)) l(reason);
  }

  private onData(chunk: Buffer): void {
    if (this.closeError) return;
    let got: Buffer[];
    try {
      got = this.decoder.push(chunk);
    } catch (e) {
      this.close(e as Error);
      return;
    }
    for (const f of got) {
      const w = this.waiter;
      if (w) {
        this.waiter = undefined;
        clearTimeout(w.timer);
        w.resolve(f);
      } else {
        this.frames.push(f);
      }
    }
  }
}
