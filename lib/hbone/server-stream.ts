// One HBONE stream on the server: check the request, ask the handler, answer, then copy bytes.
import type { IncomingHttpHeaders } from 'node:http2';
import { Duplex } from 'node:stream';
import { parseAuthority, formatSockAddr, type Authority, type SockAddr } from './authority.js';
import { bridge, type Bridge } from './copy.js';
import { errorMessage } from './errors.js';
import { ErrorCode } from './h2/frames.js';
import type { H2Stream } from './h2/stream.js';

export type RefusalStatus = 400 | 401 | 403 | 503;
const REFUSAL_STATUSES: readonly number[] = [400, 401, 403, 503];

/** What the handler learns about a CONNECT; `signal` aborts if the client gives up before the answer. */
export interface ConnectRequest {
  /** `:authority` as sent. */
  authority: string;
  host: string;
  port: number;
  authorityKind: Authority['kind'];
  forwarded: string | undefined;
  baggage: string | undefined;
  traceparent: string | undefined;
  /** Regular (non-pseudo) request headers; repeated ones joined with ", ". */
  headers: Record<string, string>;
  /** The first URI SAN of the client's verified certificate. */
  peerIdentity: string;
  peerAddress: SockAddr;
  localAddress: SockAddr;
  signal: AbortSignal;
}

/** 200 only once authorization passed and the upstream is connected. */
export type ConnectResult = { status: 200; upstream: Duplex; headers?: Record<string, string> } | { status: RefusalStatus; reason: string };

export type ConnectHandler = (req: ConnectRequest) => Promise<ConnectResult>;

/** The connection a stream arrived on. */
export interface ConnInfo {
  peerIdentity: string;
  peerAddress: SockAddr;
  localAddress: SockAddr;
}

/** A live tunnel on the server; `close` resets the stream and destroys the upstream. */
export interface HboneStreamHandle {
  /** Unique within the server. */
  readonly id: number;
  readonly authority: string;
  readonly peerIdentity: string;
  readonly peerAddress: SockAddr;
  readonly localAddress: SockAddr;
  readonly startedAt: Date;
  /** Bytes from the client to the upstream so far. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  close(reason: string): void;
}

/** What serveStream needs from the server that owns it. */
export interface StreamHost {
  onConnect: ConnectHandler;
  nextId(): number;
  refused(status: number, reason: string, ctx: Record<string, unknown>): void;
  opened(handle: HboneStreamHandle): void;
  closed(handle: HboneStreamHandle, bytes: { bytesIn: number; bytesOut: number; error?: string; closeReason?: string }): void;
}

function plainHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(':') || v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

function responseHeaders(extra: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (!k.startsWith(':') && typeof v === 'string') out[k.toLowerCase()] = v;
  }
  return out;
}

/** Checks what a handler returned, turning nonsense into a 503 with a reason that says so. */
function normalizeResult(r: unknown): ConnectResult {
  if (typeof r !== 'object' || r === null) return { status: 503, reason: 'HBONE handler returned no result' };
  const o = r as { status?: unknown; upstream?: unknown; reason?: unknown };
  if (o.status === 200) {
    if (o.upstream instanceof Duplex) return r as ConnectResult;
    return { status: 503, reason: 'HBONE handler answered 200 without an upstream stream' };
  }
  if (typeof o.status === 'number' && REFUSAL_STATUSES.includes(o.status)) {
    return { status: o.status as RefusalStatus, reason: typeof o.reason === 'string' ? o.reason : `status ${o.status}` };
  }
  return { status: 503, reason: `HBONE handler returned status ${String(o.status)}` };
}

function refuse(stream: H2Stream, status: number): void {
  if (stream.destroyed || stream.closed) return;
  if (!stream.headersSent) stream.respond({ ':status': status }, { endStream: true });
  // The answer is final: tell the client to stop sending on this stream too.
  stream.close(ErrorCode.NO_ERROR);
}

export async function serveStream(stream: H2Stream, headers: IncomingHttpHeaders, conn: ConnInfo, host: StreamHost): Promise<void> {
  stream.on('error', () => {}); // the bridge or the refusal path reports what matters
  const method = headers[':method'];
  const authority = String(headers[':authority'] ?? '');
  const ctx = { peer: formatSockAddr(conn.peerAddress), peerIdentity: conn.peerIdentity, authority, method };
  const deny = (status: number, reason: string): void => {
    host.refused(status, reason, ctx);
    refuse(stream, status);
  };
  if (method !== 'CONNECT') return deny(400, `method ${String(method)} is not CONNECT`);
  const target = parseAuthority(authority);
  if (typeof target === 'string') return deny(400, target);

  const abort = new AbortController();
  const onEarlyClose = (): void => abort.abort(new Error('the client reset the stream before the answer'));
  stream.once('close', onEarlyClose);
  let result: ConnectResult;
  try {
    result = normalizeResult(
      await host.onConnect({
        authority,
        host: target.host,
        port: target.port,
        authorityKind: target.kind,
        forwarded: headers.forwarded as string | undefined,
        baggage: headers.baggage as string | undefined,
        traceparent: headers.traceparent as string | undefined,
        headers: plainHeaders(headers),
        ...conn,
        signal: abort.signal,
      }),
    );
  } catch (e) {
    result = { status: 503, reason: errorMessage(e) };
  }
  stream.off('close', onEarlyClose);
  if (stream.closed || stream.destroyed) {
    if (result.status === 200) result.upstream.destroy();
    host.refused(499, 'client reset the stream before the answer', ctx);
    return;
  }
  if (result.status !== 200) return deny(result.status, result.reason);

  stream.respond({ ':status': 200, ...responseHeaders(result.headers) });
  const copy: Bridge = bridge(stream, result.upstream);
  let closeReason: string | undefined;
  const handle: HboneStreamHandle = {
    id: host.nextId(),
    authority,
    peerIdentity: conn.peerIdentity,
    peerAddress: conn.peerAddress,
    localAddress: conn.localAddress,
    startedAt: new Date(),
    get bytesIn() {
      return copy.bytes.aToB;
    },
    get bytesOut() {
      return copy.bytes.bToA;
    },
    close(reason: string) {
      closeReason ??= reason;
      copy.destroy(new Error(`closed: ${reason}`));
    },
  };
  host.opened(handle);
  const r = await copy.done;
  host.closed(handle, { bytesIn: r.aToB, bytesOut: r.bToA, ...(r.error ? { error: r.error.message } : {}), ...(closeReason ? { closeReason } : {}) });
}
