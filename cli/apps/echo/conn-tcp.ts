import net from 'node:net';
import { classifyError, timeoutError, TransportError, type Conn, type Reply, type SendOptions } from './conn.js';
import type { Target } from './target.js';

interface Pending {
  need: number;
  got: Buffer[];
  n: number;
  resolve: (r: Reply) => void;
  reject: (e: TransportError) => void;
  timer: NodeJS.Timeout;
}

/**
 * A TCP round trip = write the payload, wait until as many bytes came back. One at a time per
 * connection (the echo cannot tell two writers apart); the socket is reopened after a failure.
 */
export class TcpConn implements Conn {
  private sock: net.Socket | undefined;
  private connected = false;
  private pending: Pending | undefined;
  connects = 0;

  constructor(private readonly t: Target) {}

  private open(): net.Socket {
    if (this.sock && !this.sock.destroyed) return this.sock;
    this.connected = false;
    const s = net.connect({ host: this.t.host, port: this.t.port, noDelay: true });
    s.on('connect', () => {
      this.connected = true;
      this.connects++;
    });
    s.on('data', (c: Buffer) => this.onData(c));
    s.on('error', (e) => this.failPending(classifyError(e, this.t.authority, this.connected)));
    s.on('close', () => {
      if (this.sock === s) this.sock = undefined;
      this.failPending(classifyError(new Error('connection closed by the server'), this.t.authority, this.connected));
    });
    this.sock = s;
    return s;
  }

  private onData(c: Buffer): void {
    const p = this.pending;
    if (!p) return;
    p.got.push(c);
    p.n += c.length;
    if (p.n < p.need) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    const body = Buffer.concat(p.got, p.n);
    p.resolve({ status: 0, headers: {}, body, bytesSent: p.need, bytesReceived: p.n });
  }

  private failPending(e: TransportError): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.reject(e);
  }

  send(o: SendOptions): Promise<Reply> {
    if (this.pending) return Promise.reject(new TransportError('other', `tcp connection to ${this.t.authority} already has a request in flight`));
    if (o.body.length === 0) return Promise.reject(new TransportError('other', 'tcp: the payload must be at least 1 byte (set size)'));
    return new Promise((resolve, reject) => {
      const sock = this.open();
      const timer = setTimeout(() => {
        this.failPending(timeoutError(this.t.authority, o.timeoutMs));
        // Late echo bytes would be taken for the next answer: start over on a fresh socket.
        sock.destroy();
      }, o.timeoutMs);
      this.pending = { need: o.body.length, got: [], n: 0, resolve, reject, timer };
      sock.write(o.body);
    });
  }

  close(): void {
    this.sock?.destroy();
    this.sock = undefined;
  }
}

/** One-shot TCP: write, half-close, read until the server ends; what `request('tcp://…')` does. */
export function tcpOneShot(t: Target, payload: Buffer, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let connected = false;
    const chunks: Buffer[] = [];
    let n = 0;
    const s = net.connect({ host: t.host, port: t.port, allowHalfOpen: true });
    const timer = setTimeout(() => s.destroy(timeoutError(t.authority, timeoutMs)), timeoutMs);
    s.on('connect', () => {
      connected = true;
      s.end(payload);
    });
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      n += c.length;
    });
    s.on('end', () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ status: 0, headers: {}, body: Buffer.concat(chunks, n), bytesSent: payload.length, bytesReceived: n });
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(classifyError(e, t.authority, connected));
    });
  });
}
