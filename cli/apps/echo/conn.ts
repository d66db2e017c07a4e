/** One client "connection" per protocol, behind one interface the load loop and request() share. */

export type TransportErrorKind = 'connect' | 'timeout' | 'reset' | 'other';

/** A request that got no answer from a server; `kind` is what the load report counts. */
export class TransportError extends Error {
  constructor(
    readonly kind: TransportErrorKind,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export interface SendOptions {
  method?: string;
  headers: Array<[string, string]>;
  body: Buffer;
  timeoutMs: number;
}

/** An answer from a server, whatever its status. */
export interface Reply {
  /** HTTP status; for gRPC the status mapped from the gRPC code; 0 for TCP. */
  status: number;
  /** gRPC only. */
  grpcCode?: number;
  grpcCodeName?: string;
  headers: Record<string, string | string[]>;
  body: Buffer;
  bytesSent: number;
  bytesReceived: number;
}

export interface Conn {
  send(o: SendOptions): Promise<Reply>;
  close(): void;
  /**
   * Transport connections established so far (counted when up, not when attempted). More than
   * one means the connection was lost and silently reopened: the load report's `reconnects`.
   */
  readonly connects: number;
}

/** Reconnects over all connections: every establishment after each connection's first. */
export function reconnectsOf(conns: ReadonlyArray<Pick<Conn, 'connects'>>): number {
  let n = 0;
  for (const c of conns) n += Math.max(0, c.connects - 1);
  return n;
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'ETIMEDOUT']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_HTTP2_STREAM_ERROR', 'ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_SESSION_ERROR', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Maps a socket-level error to a kind; `connected` says whether the connection was ever up. */
export function classifyError(e: unknown, where: string, connected: boolean): TransportError {
  if (e instanceof TransportError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err?.code ?? '';
  const msg = err?.message ?? String(e);
  if (CONNECT_CODES.has(code) || (!connected && code !== 'ECONNRESET')) {
    return new TransportError('connect', `connection to ${where} failed: ${msg}; is the server listening there?`, code);
  }
  if (RESET_CODES.has(code) || /socket hang up|closed|reset/i.test(msg)) {
    return new TransportError('reset', `connection to ${where} was cut: ${msg}`, code);
  }
  return new TransportError('other', `request to ${where} failed: ${msg}`, code);
}

/** Arms a per-request timer; `fire` cancels the request with a timeout error. */
export function timeoutError(where: string, ms: number): TransportError {
  return new TransportError('timeout', `no answer from ${where} within ${ms} ms`);
}

/** Merges repeated header names into arrays, the shape node:http and node:http2 expect. */
export function headerObject(h: Array<[string, string]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k0, v] of h) {
    const k = k0.toLowerCase();
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}
