// ztunnel's half of ZDS: connects to the node agent's socket (reconnecting with backoff), says
// Hello, then answers every request with one Ack once the handler finished the work.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { silentLogger, type Logger } from '../telemetry/log.js';
import { backoffDelay, validateBackoff } from '../xds/backoff.js';
import type { BackoffOptions } from '../xds/types.js';
import { FramedConnection } from './conn.js';
import { ZdsError } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from './framing.js';
import { decodeRequest, describeRequest, encodeAck, encodeHello, type ZdsRequest, type ZdsWorkload } from './messages.js';

/** What ztunnel does with each request; a throw becomes an Ack with the error's message. */
export interface ZdsHandler {
  onAdd(workload: ZdsWorkload, netnsPath: string): Promise<void> | void;
  onKeep(uid: string): Promise<void> | void;
  onDel(uid: string): Promise<void> | void;
  onSnapshotSent(): Promise<void> | void;
}

export interface ZdsClientOptions {
  socketPath: string;
  handler: ZdsHandler;
  /** Reconnect backoff (Istio: 10 ms doubling to 15 s). */
  backoff?: BackoffOptions;
  maxFrameBytes?: number;
  logger?: Logger;
  random?: () => number;
}

export const ZDS_CLIENT_BACKOFF: BackoffOptions = { initialMs: 10, maxMs: 15_000, multiplier: 2, jitter: 0.2 };

function connect(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    sock.once('connect', () => {
      sock.off('error', reject);
      resolve(sock);
    });
    sock.once('error', reject);
  });
}

/** Events: 'connected', 'snapshotReceived' (after each SnapshotSent was handled), 'disconnected' (Error). */
export class ZdsClient extends EventEmitter {
  private readonly log: Logger;
  private readonly backoff: BackoffOptions;
  private readonly maxFrameBytes: number;
  private conn: FramedConnection | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private attempt = 0;

  constructor(private readonly opts: ZdsClientOptions) {
    super();
    this.log = opts.logger ?? silentLogger();
    this.backoff = validateBackoff(opts.backoff ?? ZDS_CLIENT_BACKOFF);
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  get connected(): boolean {
    return this.conn !== undefined && !this.conn.isClosed;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.conn?.close(new ZdsError('CLOSED', 'ZDS client shutting down'));
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let sock: net.Socket;
      try {
        sock = await connect(this.opts.socketPath);
      } catch (e) {
        this.log.debug({ socket: this.opts.socketPath, err: (e as Error).message }, 'ZDS: cannot connect to the node agent yet');
        await this.pause();
        continue;
      }
      if (this.stopped) {
        sock.destroy();
        break;
      }
      const conn = new FramedConnection(sock, this.maxFrameBytes);
      this.conn = conn;
      this.log.info({ socket: this.opts.socketPath }, 'ZDS: connected to the node agent');
      this.emit('connected');
      let reason: Error;
      try {
        conn.send(encodeHello());
        await this.serve(conn);
        reason = conn.closeReason ?? new ZdsError('CLOSED', 'connection closed');
      } catch (e) {
        reason = e as Error;
        conn.close(reason);
      }
      this.conn = undefined;
      if (!this.stopped) {
        this.log.warn({ socket: this.opts.socketPath, reason: reason.message }, 'ZDS: lost the node agent connection; reconnecting');
        this.emit('disconnected', reason);
        await this.pause();
      }
    }
  }

  private async serve(conn: FramedConnection): Promise<void> {
    let snapshotDone = false;
    for (;;) {
      const frame = await conn.read(0, 'WorkloadRequest');
      const req = decodeRequest(frame);
      let error = '';
      try {
        if (req.kind === 'keep' && snapshotDone) throw new Error(`keep ${req.uid} after the snapshot; keep is only valid in a snapshot`);
        await this.dispatch(req);
      } catch (e) {
        error = (e as Error).message || String(e);
        this.log.warn({ request: describeRequest(req), err: error }, 'ZDS: request failed; answering with an error Ack');
      }
      if (conn.isClosed) return;
      conn.send(encodeAck(error));
      if (req.kind === 'snapshotSent' && error === '') {
        snapshotDone = true;
        this.attempt = 0;
        this.emit('snapshotReceived');
      }
    }
  }

  private async dispatch(req: ZdsRequest): Promise<void> {
    const h = this.opts.handler;
    switch (req.kind) {
      case 'add':
        return h.onAdd(req.workload, req.netnsPath);
      case 'keep':
        return h.onKeep(req.uid);
      case 'del':
        return h.onDel(req.uid);
      case 'snapshotSent':
        return h.onSnapshotSent();
    }
  }

  private pause(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const ms = backoffDelay(this.backoff, this.attempt++, this.opts.random);
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
