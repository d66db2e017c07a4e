// Requests to one endpoint over HBONE: HTTP/1.1 through a keep-alive agent per endpoint whose
// "sockets" are tunnels, or HTTP/2 through one session per endpoint riding a tunnel. Request and
// response bodies stream both ways; HTTP/2 trailers (gRPC status) are handed on.
import http from 'node:http';
import http2, { constants as h2c, type ClientHttp2Session } from 'node:http2';
import type { Duplex, Readable } from 'node:stream';
import type { Headers } from '../route/request.js';
import { targetKey, type TunnelConnector, type TunnelHeaders, type UpstreamTarget } from './connector.js';

export type UpstreamProtocol = 'http1' | 'h2';

export interface OutgoingRequest {
  method: string;
  /** Path and query. */
  path: string;
  /** Host / :authority. */
  authority: string;
  /** Lower-case, without pseudo-headers or hop-by-hop headers. */
  headers: Headers;
  /** undefined: no body. */
  body: Readable | undefined;
  tunnel: TunnelHeaders;
}

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  body: Readable;
  /** Resolves with the trailers (empty for HTTP/1.1 without any) when the body has ended. */
  trailers: Promise<Headers>;
  /** HTTP/2: the headers ended the stream (a gRPC trailers-only response). */
  endAfterHeaders?: boolean;
}

/** Why a try failed before a response: the classes retry conditions and response flags need. */
export class UpstreamError extends Error {
  constructor(
    readonly kind: 'connect-failure' | 'refused-stream' | 'reset',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

const CONNECT_CODES = new Set(['HBONE_CONNECT_FAILED', 'HBONE_CONNECT_TIMEOUT', 'HBONE_TLS', 'HBONE_PEER_IDENTITY', 'HBONE_STATUS', 'HBONE_CREDENTIALS', 'ECONNREFUSED']);

export function classifyError(e: unknown, where: string): UpstreamError {
  if (e instanceof UpstreamError) return e;
  const code = (e as { code?: string }).code ?? '';
  const msg = `${where}: ${(e as Error).message ?? String(e)}`;
  if (CONNECT_CODES.has(code)) return new UpstreamError('connect-failure', msg, { cause: e });
  if (code === 'ERR_HTTP2_STREAM_ERROR' && /REFUSED_STREAM/.test((e as Error).message)) return new UpstreamError('refused-stream', msg, { cause: e });
  return new UpstreamError('reset', msg, { cause: e });
}

type SocketLike = Duplex & { ref?: () => unknown; unref?: () => unknown; setKeepAlive?: () => unknown; setNoDelay?: () => unknown; setTimeout?: (ms: number, cb?: () => void) => unknown };

/**
 * What Node's HTTP client and agent call on a socket they use, park or reuse. A tunnel has no TCP
 * options, and idle timeouts are the HBONE pool's (it closes idle connections), so these are no-ops.
 */
function socketLike(s: Duplex): Duplex {
  const d = s as SocketLike;
  // The far end closing its side (the app's keep-alive timeout: a FIN through the tunnel) ends
  // the tunnel: a tunnel is half-open by design, and a parked half-closed one would take the next
  // request and never answer it. The HTTP client reads the 'end' first, so a response delimited
  // by the close still completes.
  d.once('end', () => setImmediate(() => d.destroy()));
  d.ref ??= () => d;
  d.unref ??= () => d;
  d.setKeepAlive ??= () => d;
  d.setNoDelay ??= () => d;
  d.setTimeout ??= () => d;
  return d;
}

/** An agent whose connections are HBONE tunnels. */
class TunnelAgent extends http.Agent {
  constructor(
    private readonly open: () => Promise<Duplex>,
    opts: http.AgentOptions,
  ) {
    super(opts);
  }

  override createConnection(_o: http.ClientRequestArgs, cb?: (err: Error | null, s: Duplex) => void): Duplex | null | undefined {
    this.open().then(
      (s) => cb?.(null, socketLike(s)),
      (e: Error) => cb?.(e, undefined as unknown as Duplex),
    );
    return undefined;
  }

}

interface H2Entry {
  session: Promise<ClientHttp2Session>;
}

export interface UpstreamClientOptions {
  /** Idle keep-alive tunnels kept per endpoint. */
  maxFreeSockets?: number;
  /** 1 disables keep-alive (DestinationPolicy maxRequestsPerConnection). */
  keepAlive?: boolean;
}

export class UpstreamClient {
  readonly #agents = new Map<string, TunnelAgent>();
  readonly #sessions = new Map<string, H2Entry>();
  #closed = false;

  constructor(
    private readonly connector: TunnelConnector,
    private readonly opts: UpstreamClientOptions = {},
  ) {}

  send(t: UpstreamTarget, protocol: UpstreamProtocol, req: OutgoingRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    if (this.#closed) return Promise.reject(new UpstreamError('connect-failure', 'the waypoint is shutting down'));
    return protocol === 'h2' ? this.#sendH2(t, req, signal) : this.#sendH1(t, req, signal);
  }

  stats(): { http1Agents: number; h2Sessions: number } {
    return { http1Agents: this.#agents.size, h2Sessions: this.#sessions.size };
  }

  close(): void {
    this.#closed = true;
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
    for (const e of this.#sessions.values()) void e.session.then((s) => s.destroy(), () => undefined);
    this.#sessions.clear();
  }

  #agent(t: UpstreamTarget, tunnel: TunnelHeaders): TunnelAgent {
    const key = targetKey(t);
    let a = this.#agents.get(key);
    if (!a) {
      a = new TunnelAgent(() => this.connector.open(t, tunnel), { keepAlive: this.opts.keepAlive ?? true, maxFreeSockets: this.opts.maxFreeSockets ?? 32 });
      this.#agents.set(key, a);
    }
    return a;
  }

  #sendH1(t: UpstreamTarget, r: OutgoingRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    const where = `HTTP/1.1 to ${t.ip}:${t.port}`;
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { ...stripUndefined(r.headers), host: r.authority };
      const req = http.request({ agent: this.#agent(t, r.tunnel), method: r.method, path: r.path, headers, signal });
      let responded = false;
      req.once('response', (res) => {
        responded = true;
        const trailers = new Promise<Headers>((ok) => {
          res.once('end', () => ok(res.trailers as Headers));
          res.once('close', () => ok(res.trailers as Headers));
        });
        resolve({ status: res.statusCode ?? 502, headers: res.headers as Headers, body: res, trailers });
      });
      req.once('error', (e) => {
        if (!responded) reject(classifyError(e, where));
      });
      if (r.body) {
        r.body.pipe(req);
        r.body.once('error', (e) => req.destroy(e));
      } else req.end();
    });
  }

  #session(t: UpstreamTarget, tunnel: TunnelHeaders): Promise<ClientHttp2Session> {
    const key = targetKey(t);
    const cur = this.#sessions.get(key);
    if (cur) return cur.session;
    const entry: H2Entry = {
      session: this.connector.open(t, tunnel).then((stream) => {
        const s = http2.connect(`http://${t.ip}:${t.port}`, { createConnection: () => stream, settings: { enablePush: false } });
        const forget = (): void => {
          if (this.#sessions.get(key) === entry) this.#sessions.delete(key);
        };
        s.on('error', forget);
        s.once('close', forget);
        s.once('goaway', forget);
        stream.once('close', () => s.destroy());
        // An idle session must not keep the process alive; the pool's idle timeout closes the tunnel.
        s.unref();
        return s;
      }),
    };
    entry.session.catch(() => {
      if (this.#sessions.get(key) === entry) this.#sessions.delete(key);
    });
    this.#sessions.set(key, entry);
    return entry.session;
  }

  async #sendH2(t: UpstreamTarget, r: OutgoingRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    const where = `HTTP/2 to ${t.ip}:${t.port}`;
    let session: ClientHttp2Session;
    try {
      session = await this.#session(t, r.tunnel);
    } catch (e) {
      throw classifyError(e, where);
    }
    if (signal.aborted) throw new UpstreamError('reset', `${where}: cancelled`);
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(
          { ...stripUndefined(r.headers), ':method': r.method, ':path': r.path, ':authority': r.authority, ':scheme': 'http' },
          { endStream: r.body === undefined, signal },
        );
      } catch (e) {
        return reject(new UpstreamError('connect-failure', `${where}: ${(e as Error).message}`, { cause: e }));
      }
      let responded = false;
      const trailers = new Promise<Headers>((ok) => {
        let got: Headers = {};
        stream.once('trailers', (h) => (got = h as Headers));
        stream.once('close', () => ok(got));
      });
      stream.once('response', (h, flags) => {
        responded = true;
        const headers: Headers = {};
        for (const [k, v] of Object.entries(h)) if (!k.startsWith(':')) headers[k] = v as string | string[];
        resolve({ status: Number(h[':status']), headers, body: stream, trailers, endAfterHeaders: (flags & h2c.NGHTTP2_FLAG_END_STREAM) !== 0 });
      });
      stream.once('error', (e) => {
        if (!responded) reject(classifyError(e, where));
      });
      stream.once('close', () => {
        if (responded) return;
        const refused = stream.rstCode === h2c.NGHTTP2_REFUSED_STREAM;
        reject(new UpstreamError(refused ? 'refused-stream' : 'reset', `${where}: stream closed before a response (RST_STREAM ${stream.rstCode ?? 0})`));
      });
      if (r.body) {
        r.body.pipe(stream);
        r.body.once('error', (e) => stream.destroy(e));
      }
    });
  }
}

function stripUndefined(h: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = v;
  return out;
}
