// The HBONE client: one mutual-TLS HTTP/2 connection (dial) and CONNECT streams on it (openTunnel).
import type { IncomingHttpHeaders, IncomingHttpStatusHeader } from 'node:http2';
import net from 'node:net';
import tls, { type SecureContext } from 'node:tls';
import { formatHostPort, parseAuthority } from './authority.js';
import { ALPN_H2, CONNECT_TIMEOUT_MS, H2_CLIENT_MAX_HEADER_LIST, H2_CONNECTION_WINDOW, H2_MAX_FRAME_SIZE, H2_STREAM_WINDOW } from './constants.js';
import { HboneError, errorMessage } from './errors.js';
import { ErrorCode } from './h2/frames.js';
import { H2Session } from './h2/session.js';
import type { H2Stream } from './h2/stream.js';
import { startKeepAlive, type KeepAliveOptions } from './keepalive.js';
import { checkServerIdentity, defaultContextCache, peerUriSans, type CredentialEntry, type Credentials, type TlsContextCache } from './tls.js';

/** Makes the TCP socket to the peer; ztunnel passes one that connects inside the pod's namespace with SO_MARK. */
export type SocketFactory = (host: string, port: number) => net.Socket;

export const defaultSocketFactory: SocketFactory = (host, port) => net.connect({ host, port });

export interface DialOptions {
  /** Destination IP (or name) and port, normally <pod IP>:15008. */
  host: string;
  port: number;
  credentials: Credentials;
  /** The server must present at least one of these SPIFFE ids. */
  expectedIdentities: readonly string[];
  socketFactory?: SocketFactory;
  /** TCP + TLS + first SETTINGS (default 10 s). */
  connectTimeoutMs?: number;
  keepAlive?: KeepAliveOptions;
  contexts?: TlsContextCache;
}

export interface HboneConnection {
  /** The HTTP/2 connection (lib/hbone/h2; its surface follows node:http2's ClientHttp2Session). */
  session: H2Session;
  /** The expected identity the server proved. */
  peerIdentity: string;
  /** Our own identity (first URI SAN of the presented leaf). */
  localIdentity: string;
  /** Which credentials this connection presented (see TlsContextCache). */
  credentialsFingerprint: string;
}

const TCP_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EADDRNOTAVAIL', 'ETIMEDOUT', 'ENETDOWN']);

function classify(e: unknown, where: string): HboneError {
  if (e instanceof HboneError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && TCP_ERRORS.has(code)) return new HboneError('HBONE_CONNECT_FAILED', `HBONE connection to ${where} failed: ${errorMessage(e)}`, { cause: e });
  return new HboneError('HBONE_TLS', `HBONE TLS with ${where} failed: ${errorMessage(e)}`, { cause: e });
}

/**
 * Opens a connection and resolves once the server's SETTINGS arrived: with TLS 1.3 the client
 * finishes its handshake before the server has judged our certificate, so 'connect' alone proves little.
 */
export function dial(opts: DialOptions): Promise<HboneConnection> {
  const where = formatHostPort(opts.host, opts.port);
  if (!Array.isArray(opts.expectedIdentities) || opts.expectedIdentities.length === 0) {
    return Promise.reject(new HboneError('HBONE_INVALID_ARGUMENT', `HBONE to ${where}: expectedIdentities must list at least one SPIFFE id`));
  }
  let entry: CredentialEntry;
  let ctx: SecureContext;
  try {
    entry = (opts.contexts ?? defaultContextCache).entry(opts.credentials);
    ctx = entry.clientContext();
  } catch (e) {
    return Promise.reject(e);
  }
  const expected = [...opts.expectedIdentities];
  const timeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  return new Promise<HboneConnection>((resolve, reject) => {
    let peerIdentity: string | undefined;
    let settled = false;
    // Filled in as setup proceeds; `fail` tears down whatever exists.
    const made: { session?: H2Session; raw?: net.Socket } = {};
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const err = classify(e, where);
      if (made.session && !made.session.destroyed) made.session.destroy();
      // A socket still connecting is not torn down with the TLS socket that wraps it.
      made.raw?.destroy();
      reject(err);
    };
    const timer = setTimeout(() => {
      fail(new HboneError('HBONE_CONNECT_TIMEOUT', `connection to ${where} timed out after ${timeoutMs / 1000} s; is a NetworkPolicy blocking HBONE port ${opts.port}?`));
    }, timeoutMs);
    try {
      made.raw = (opts.socketFactory ?? defaultSocketFactory)(opts.host, opts.port);
    } catch (e) {
      return fail(new HboneError('HBONE_CONNECT_FAILED', `HBONE connection to ${where} failed: ${errorMessage(e)}`, { cause: e }));
    }
    const tcp = made.raw;
    tcp.setNoDelay(true); // the HTTP/2 layer batches its writes itself
    tcp.once('error', fail);
    // No servername: HBONE sends no SNI. No session: no resumption.
    const sock = tls.connect({
      socket: tcp,
      secureContext: ctx,
      ALPNProtocols: ALPN_H2,
      rejectUnauthorized: true,
      checkServerIdentity: (_host, cert) => {
        const v = checkServerIdentity(peerUriSans(cert), expected);
        if (v.ok) peerIdentity = v.identity;
        return v.ok ? undefined : new HboneError('HBONE_PEER_IDENTITY', `HBONE to ${where}: ${v.reason}`);
      },
    });
    sock.once('error', fail);
    // HTTP/2 starts once TLS is up: the ALPN answer is known then.
    sock.once('secureConnect', () => {
      if (settled) return;
      if (sock.alpnProtocol !== 'h2') return fail(new HboneError('HBONE_TLS', `HBONE server ${where} did not negotiate ALPN h2`));
      const s = (made.session = new H2Session(sock, {
        role: 'client',
        settings: { enablePush: false, initialWindowSize: H2_STREAM_WINDOW, maxFrameSize: H2_MAX_FRAME_SIZE, maxHeaderListSize: H2_CLIENT_MAX_HEADER_LIST },
        connectionWindow: H2_CONNECTION_WINDOW,
      }));
      s.on('error', fail);
      s.once('close', () => fail(new HboneError('HBONE_TLS', `HBONE connection to ${where} closed during setup (did the server refuse our certificate ${entry.identity}?)`)));
      s.once('remoteSettings', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // From here on failures surface as the session's 'close'; a stray 'error' must not crash the process.
        for (const e of [tcp, sock, s] as NodeJS.EventEmitter[]) {
          e.off('error', fail);
          e.on('error', () => {});
        }
        startKeepAlive(s, opts.keepAlive);
        resolve({ session: s, peerIdentity: peerIdentity!, localIdentity: entry.identity, credentialsFingerprint: entry.fingerprint });
      });
    });
    sock.once('close', () => fail(new HboneError('HBONE_TLS', `HBONE connection to ${where} closed during setup (did the server refuse our certificate ${entry.identity}?)`)));
  });
}

export interface TunnelRequest {
  /** `ip:port`, `[v6]:port` or `host:port` of the final destination. */
  authority: string;
  forwarded?: string;
  baggage?: string;
  traceparent?: string;
  /** More request headers (lowercase names; pseudo-headers are not allowed). */
  headers?: Record<string, string>;
  /** Give up on the answer after this long (default: wait; keep-alive still catches dead peers). */
  responseTimeoutMs?: number;
}

/** An established tunnel: a Duplex carrying the user's bytes, plus what the server answered. */
export type HboneTunnel = H2Stream & {
  readonly responseHeaders: IncomingHttpHeaders & IncomingHttpStatusHeader;
  readonly peerIdentity: string;
};

/** Builds the CONNECT header block, or throws HBONE_INVALID_ARGUMENT. Pure. */
export function connectHeaders(req: TunnelRequest): Record<string, string> {
  const target = parseAuthority(req.authority);
  if (typeof target === 'string') throw new HboneError('HBONE_INVALID_ARGUMENT', `HBONE CONNECT: ${target}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) {
    if (k.startsWith(':') || typeof v !== 'string') throw new HboneError('HBONE_INVALID_ARGUMENT', `HBONE CONNECT ${req.authority}: header "${k}" must be a regular header with a string value`);
    out[k.toLowerCase()] = v;
  }
  if (req.forwarded) out.forwarded = req.forwarded;
  if (req.baggage) out.baggage = req.baggage;
  if (req.traceparent) out.traceparent = req.traceparent;
  return { ...out, ':method': 'CONNECT', ':authority': req.authority };
}

const RETRYABLE_SESSION_ERRORS = new Set(['ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION', 'ERR_HTTP2_OUT_OF_STREAMS']);

/**
 * Sends CONNECT on `conn` and resolves once the server answered 200; any other status rejects with
 * HBONE_STATUS. `onGone` runs exactly once, when the stream is closed (or could not be created):
 * it is attached before anything can happen, so no close slips by between the answer and the caller.
 */
export function openTunnel(conn: HboneConnection, req: TunnelRequest, onGone?: () => void): Promise<HboneTunnel> {
  let headers: Record<string, string>;
  try {
    headers = connectHeaders(req);
  } catch (e) {
    onGone?.();
    return Promise.reject(e);
  }
  const what = `HBONE CONNECT ${req.authority} via ${conn.peerIdentity}`;
  let stream: H2Stream;
  try {
    stream = conn.session.request(headers, { endStream: false });
  } catch (e) {
    onGone?.();
    const code = (e as NodeJS.ErrnoException).code ?? '';
    return Promise.reject(new HboneError('HBONE_STREAM_RESET', `${what}: ${errorMessage(e)}`, { cause: e, retryable: RETRYABLE_SESSION_ERRORS.has(code) }));
  }
  if (onGone) stream.once('close', onGone);
  stream.on('error', () => {}); // the caller sees 'close'; an error with no listener would crash the process
  return new Promise<HboneTunnel>((resolve, reject) => {
    let settled = false;
    const timer = req.responseTimeoutMs === undefined ? undefined : setTimeout(() => {
      done(new HboneError('HBONE_STREAM_RESET', `${what}: no answer after ${req.responseTimeoutMs} ms`));
      stream.close(ErrorCode.CANCEL);
    }, req.responseTimeoutMs);
    const done = (err?: HboneError, ok?: HboneTunnel): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (err) reject(err);
      else resolve(ok!);
    };
    stream.once('response', (h) => {
      const status = Number(h[':status']);
      if (status === 200) {
        Object.defineProperty(stream, 'responseHeaders', { value: h, enumerable: false });
        Object.defineProperty(stream, 'peerIdentity', { value: conn.peerIdentity, enumerable: false });
        return done(undefined, stream as HboneTunnel);
      }
      done(new HboneError('HBONE_STATUS', `${what}: server answered ${status}`, { status }));
      stream.close(ErrorCode.CANCEL);
    });
    stream.once('close', () => {
      const code = stream.rstCode ?? ErrorCode.NO_ERROR;
      done(new HboneError('HBONE_STREAM_RESET', `${what}: stream closed before the answer (RST_STREAM code ${code})`, { retryable: code === ErrorCode.REFUSED_STREAM }));
    });
  });
}
