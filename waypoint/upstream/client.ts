// Requests to one endpoint over HBONE: HTTP/1.1 through a keep-alive agent per endpoint whose
// "sockets" are tunnels, or HTTP/2 through one session per endpoint riding a tunnel. Request and
// response bodies stream both ways; HTTP/2 trailers (gRPC status) are handed on.
import http from 'node:http';
import http2, { constants as h2c, type ClientHttp2Session } from 'node:http2';
import type { Duplex, Readable } from 'node:stream';
import type { Headers } from '../route/request.js';
import type { Breaker } from '../engines.js';
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
    /** overflow: the circuit breaker refused it (no pending slot); nothing was sent. */
    readonly kind: 'connect-failure' | 'refused-stream' | 'reset' | 'overflow',
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

/** What a request to an endpoint carries for the agent: where to open the tunnel, and its headers. */
interface TunnelRequestOptions extends http.RequestOptions {
  target: UpstreamTarget;
  tunnel: TunnelHeaders;
}

/**
 * The HTTP/1.1 connection pool of one cluster: an agent whose connections are HBONE tunnels, one
 * keep-alive pool per endpoint (the agent's name for a request is its target), all of them
 * together within the cluster's maxConnections (the agent's maxTotalSockets; requests over it
 * wait in the agent's queue for a connection to free up, as Envoy's pending requests do).
 */
class TunnelAgent extends http.Agent {
  /** Tunnels being opened, by name: Node's agent counts a connection only once it is open. */
  readonly #connecting = new Map<string, number>();
  #connectingTotal = 0;

  constructor(
    private readonly connector: TunnelConnector,
    public breaker: Breaker,
    opts: http.AgentOptions,
  ) {
    super(opts);
  }

  override getName(o?: http.ClientRequestArgs): string {
    return targetKey((o as TunnelRequestOptions).target);
  }

  override createConnection(o: http.ClientRequestArgs, cb?: (err: Error | null, s: Duplex) => void): Duplex | null | undefined {
    const { target, tunnel } = o as TunnelRequestOptions;
    const name = this.getName(o);
    // Counted from the moment it is being opened, as Envoy counts connecting clients.
    const release = this.breaker.countConnection();
    this.#connecting.set(name, (this.#connecting.get(name) ?? 0) + 1);
    this.#connectingTotal++;
    const opened = (): void => {
      const n = (this.#connecting.get(name) ?? 1) - 1;
      if (n > 0) this.#connecting.set(name, n);
      else this.#connecting.delete(name);
      this.#connectingTotal--;
    };
    this.connector.open(target, tunnel).then(
      (s) => {
        opened();
        s.once('close', release);
        cb?.(null, socketLike(s));
      },
      (e: Error) => {
        opened();
        release();
        cb?.(e, undefined as unknown as Duplex);
      },
    );
    return undefined;
  }

  /** Connections open or opening to this endpoint (busy and idle). */
  connectionsTo(name: string): number {
    return (this.sockets[name]?.length ?? 0) + (this.freeSockets[name]?.filter((s) => !s.destroyed).length ?? 0) + (this.#connecting.get(name) ?? 0);
  }

  /**
   * Sets the agent's limit for the next request: Node's agent counts open connections only, so
   * the ones being opened come off the cluster's limit; an endpoint with no connection at all
   * may open one whatever the limit (Envoy's rule, so no request waits on an endpoint that has
   * nothing to free).
   */
  admit(name: string, limit: number | undefined): void {
    this.maxTotalSockets = limit === undefined || this.connectionsTo(name) === 0 ? Infinity : Math.max(0, limit - this.#connectingTotal);
  }

  /** Whether a request to this endpoint would get an idle connection at once. */
  hasIdle(name: string): boolean {
    return this.freeSockets[name]?.some((s) => !s.destroyed) ?? false;
  }

  /** Whether the request waits in the queue (no connection free, the cluster at its limit). */
  isQueued(name: string, req: http.ClientRequest): boolean {
    return (this.requests[name] as unknown as http.ClientRequest[] | undefined)?.includes(req) ?? false;
  }
}

interface H2Entry {
  session: Promise<ClientHttp2Session>;
  established: boolean;
}

/**
 * The cluster a request goes to: its key names the connection pool, and its circuit breaker
 * bounds connections and pending requests.
 */
export interface PoolScope {
  key: string;
  breaker: Breaker;
}

export interface UpstreamClientOptions {
  /** Idle keep-alive tunnels kept per endpoint. */
  maxFreeSockets?: number;
  /** 1 disables keep-alive (DestinationPolicy maxRequestsPerConnection). */
  keepAlive?: boolean;
}

const OVERFLOW = 'upstream connect error or disconnect/reset before headers. reset reason: overflow';

export class UpstreamClient {
  readonly #agents = new Map<string, TunnelAgent>();
  readonly #sessions = new Map<string, H2Entry>();
  #closed = false;

  constructor(
    private readonly connector: TunnelConnector,
    private readonly opts: UpstreamClientOptions = {},
  ) {}

  send(t: UpstreamTarget, protocol: UpstreamProtocol, req: OutgoingRequest, signal: AbortSignal, pool: PoolScope): Promise<UpstreamResponse> {
    if (this.#closed) return Promise.reject(new UpstreamError('connect-failure', 'the waypoint is shutting down'));
    return protocol === 'h2' ? this.#sendH2(t, req, signal, pool) : this.#sendH1(t, req, signal, pool);
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

  #agent(pool: PoolScope): TunnelAgent {
    let a = this.#agents.get(pool.key);
    if (!a) {
      a = new TunnelAgent(this.connector, pool.breaker, { keepAlive: this.opts.keepAlive ?? true, maxFreeSockets: this.opts.maxFreeSockets ?? 32 });
      this.#agents.set(pool.key, a);
    }
    // A changed DestinationPolicy makes a new cluster (and breaker) under the same key.
    a.breaker = pool.breaker;
    return a;
  }

  #sendH1(t: UpstreamTarget, r: OutgoingRequest, signal: AbortSignal, pool: PoolScope): Promise<UpstreamResponse> {
    const where = `HTTP/1.1 to ${t.ip}:${t.port}`;
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { ...stripUndefined(r.headers), host: r.authority };
      const agent = this.#agent(pool);
      const options: TunnelRequestOptions = { agent, host: t.ip, port: t.port, method: r.method, path: r.path, headers, signal, target: t, tunnel: r.tunnel };
      const name = agent.getName(options);
      // Without an idle connection the request is pending (waiting for one being opened or for
      // one to free up) and needs a pending slot, or it overflows before anything is sent.
      const pending = agent.hasIdle(name) ? undefined : pool.breaker.tryPending();
      if (!agent.hasIdle(name) && !pending) return reject(new UpstreamError('overflow', `${where}: ${OVERFLOW}`));
      const limit = pool.breaker.connectionLimit;
      agent.admit(name, limit);
      const req = http.request(options);
      // What Node's agent reads when a connection closes and a queued request needs a new one.
      agent.maxTotalSockets = limit ?? Infinity;
      if (agent.isQueued(name, req)) pool.breaker.noteConnectionOverflow();
      if (pending) {
        req.once('socket', pending);
        req.once('close', pending);
      }
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

  #session(t: UpstreamTarget, tunnel: TunnelHeaders, breaker: Breaker): H2Entry {
    const key = targetKey(t);
    const cur = this.#sessions.get(key);
    if (cur) return cur;
    // One session per endpoint: always allowed (an endpoint without a connection may open one),
    // and counted against the cluster's connections while it lives.
    const release = breaker.countConnection();
    const entry: H2Entry = {
      established: false,
      session: this.connector.open(t, tunnel).then((stream) => {
        entry.established = true;
        const s = http2.connect(`http://${t.ip}:${t.port}`, { createConnection: () => stream, settings: { enablePush: false } });
        const forget = (): void => {
          if (this.#sessions.get(key) === entry) this.#sessions.delete(key);
        };
        s.on('error', forget);
        s.once('close', forget);
        s.once('goaway', forget);
        stream.once('close', () => {
          release();
          s.destroy();
        });
        // An idle session must not keep the process alive; the pool's idle timeout closes the tunnel.
        s.unref();
        return s;
      }),
    };
    entry.session.catch(() => {
      release();
      if (this.#sessions.get(key) === entry) this.#sessions.delete(key);
    });
    this.#sessions.set(key, entry);
    return entry;
  }

  async #sendH2(t: UpstreamTarget, r: OutgoingRequest, signal: AbortSignal, pool: PoolScope): Promise<UpstreamResponse> {
    const where = `HTTP/2 to ${t.ip}:${t.port}`;
    const entry = this.#session(t, r.tunnel, pool.breaker);
    // A request waiting for the session to be established is pending.
    const pending = entry.established ? undefined : pool.breaker.tryPending();
    if (!entry.established && !pending) throw new UpstreamError('overflow', `${where}: ${OVERFLOW}`);
    let session: ClientHttp2Session;
    try {
      session = await entry.session;
    } catch (e) {
      throw classifyError(e, where);
    } finally {
      pending?.();
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
