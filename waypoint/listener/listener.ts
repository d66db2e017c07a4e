// The waypoint's inbound side: an HBONE server on 15008 presenting the waypoint's certificate.
// Each tunnel's :authority (a service VIP or hostname, and port, as ztunnel sends it) names the
// service; the first bytes tell HTTP/2 (h2c preface), HTTP/1.1, or anything else. HTTP goes to
// Node's own http / http2 servers, fed the tunnel through an in-memory socket pair
// (`server.emit('connection', …)`); other bytes are forwarded as TCP to a balanced endpoint.
import http from 'node:http';
import http2, { type ServerHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { bridge } from '../../lib/hbone/copy.js';
import type { SockAddr } from '../../lib/hbone/authority.js';
import { HboneServer, type ConnectRequest, type ConnectResult } from '../../lib/hbone/server.js';
import type { Credentials } from '../../lib/hbone/tls.js';
import { formatHostPort } from '../../lib/net/host-port.js';
import type { Logger } from '../../lib/telemetry/log.js';
import type { HboneMetrics } from '../../lib/telemetry/metrics.js';
import type { ServiceInfo, WaypointView } from '../state/types.js';
import type { TunnelConnector } from '../upstream/connector.js';
import type { ClusterManager } from '../upstream/cluster.js';
import { duplexPair, type PairEnd } from './duplex-pair.js';
import type { ConnContext, RequestHandler } from './request-handler.js';
import { detectProtocol, type Detected } from './sniff.js';

export interface ListenerDeps {
  view: WaypointView;
  credentials: () => Promise<Credentials>;
  handler: RequestHandler;
  clusters: ClusterManager;
  connector: TunnelConnector;
  log: Logger;
  hboneMetrics?: HboneMetrics;
  /**
   * How long to wait for the client's first bytes before treating the connection as TCP: a
   * server-first protocol (the server speaks first) sends nothing until then.
   */
  sniffTimeoutMs?: number;
}

export interface ListenerStats {
  http1: number;
  h2: number;
  tcp: number;
  refused: number;
}

const SNIFF_TIMEOUT_MS = 1_000;
const SNIFF_MAX_BYTES = 64;

/** The client's IP from HBONE `forwarded: for=…` (RFC 7239: `ip`, `"ip:port"`, `"[v6]:port"`), else the tunnel's peer. */
export function sourceIpOf(forwarded: string | undefined, peer: SockAddr): string {
  const m = forwarded ? /(?:^|[;,\s])for=("?)([^";,\s]+)\1/i.exec(forwarded) : null;
  if (!m) return peer.address;
  const v = m[2]!;
  if (v.startsWith('[')) return v.slice(1, v.indexOf(']') > 0 ? v.indexOf(']') : undefined);
  const colons = v.split(':').length - 1;
  return colons === 1 ? v.slice(0, v.indexOf(':')) : v;
}

/** Reads until the protocol is known (or the timeout), then puts the bytes back. */
function sniff(s: Duplex, timeoutMs: number): Promise<Detected> {
  return new Promise((resolve) => {
    let head = Buffer.alloc(0);
    const finish = (d: Detected): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('end', onEnd);
      s.pause();
      if (head.length > 0) s.unshift(head);
      resolve(d);
    };
    const onData = (c: Buffer): void => {
      head = Buffer.concat([head, c]);
      const d = detectProtocol(head);
      if (d) finish(d);
      else if (head.length >= SNIFF_MAX_BYTES) finish('tcp');
    };
    const onEnd = (): void => finish('tcp');
    const timer = setTimeout(() => finish('tcp'), timeoutMs);
    s.on('data', onData);
    s.once('end', onEnd);
  });
}

export class WaypointListener {
  readonly hbone: HboneServer;
  readonly #http1: http.Server;
  readonly #h2: http2.Http2Server;
  readonly #ctx = new WeakMap<object, ConnContext>();
  readonly #h2Sessions = new Set<ServerHttp2Session>();
  #pending: ConnContext | undefined;
  readonly #stats: ListenerStats = { http1: 0, h2: 0, tcp: 0, refused: 0 };

  constructor(private readonly d: ListenerDeps) {
    this.hbone = new HboneServer({
      credentials: () => d.credentials(),
      onConnect: (r) => this.#onConnect(r),
      logger: d.log,
      ...(d.hboneMetrics ? { onHandshakeShed: () => d.hboneMetrics!.handshakesShed.inc() } : {}),
    });
    // Route and retry timeouts govern requests; the servers' own would cut long gRPC streams.
    this.#http1 = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 60_000 });
    this.#http1.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const ctx = this.#ctx.get(req.socket);
      if (!ctx) return void res.writeHead(500).end();
      d.handler.handle(ctx, req, res);
    });
    this.#http1.on('clientError', (_e, socket: Duplex) => socket.destroy());
    this.#h2 = http2.createServer({ settings: { enablePush: false } });
    this.#h2.on('session', (s: ServerHttp2Session) => {
      const ctx = this.#pending;
      if (!ctx) return void s.destroy();
      this.#ctx.set(s, ctx);
      this.#h2Sessions.add(s);
      s.once('close', () => this.#h2Sessions.delete(s));
      s.on('error', () => {});
    });
    this.#h2.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      const ctx = this.#ctx.get(req.stream.session!);
      if (!ctx) return void res.writeHead(500).end();
      d.handler.handle(ctx, req, res);
    });
  }

  listen(host: string, port: number): Promise<SockAddr> {
    return this.hbone.listen({ host, port });
  }

  stats(): ListenerStats & { hbone: ReturnType<HboneServer['stats']> } {
    return { ...this.#stats, hbone: this.hbone.stats() };
  }

  /** GOAWAY to HBONE clients and HTTP/2 sessions, idle HTTP/1.1 connections closed; waits up to `ms`. */
  async drain(ms: number): Promise<void> {
    for (const s of this.#h2Sessions) if (!s.closed) s.close();
    this.#http1.closeIdleConnections();
    await this.hbone.drain(ms);
    this.#http1.closeAllConnections();
  }

  async #onConnect(r: ConnectRequest): Promise<ConnectResult> {
    const service = this.#service(r.host);
    if (!service) {
      this.#stats.refused++;
      return { status: 503, reason: `no service with address ${r.host} is known to this waypoint; is it bound to it (istio.io/use-waypoint) and has the control plane sent it?` };
    }
    if (!service.ports.some((p) => p.port === r.port)) {
      this.#stats.refused++;
      return { status: 503, reason: `service ${service.hostname} has no port ${r.port}` };
    }
    const [outer, inner] = duplexPair();
    inner.remoteAddress = sourceIpOf(r.forwarded, r.peerAddress);
    inner.localAddress = r.localAddress.address;
    inner.localPort = r.localAddress.port;
    const appProtocol = service.ports.find((p) => p.port === r.port)?.appProtocol;
    const base = { service, port: r.port, peerIdentity: r.peerIdentity, sourceIp: inner.remoteAddress, ...(r.traceparent ? { tunnelTraceparent: r.traceparent } : {}) };
    void (async () => {
      const kind: Detected = appProtocol === 'TCP' || appProtocol === 'TLS' ? 'tcp' : await sniff(inner, this.d.sniffTimeoutMs ?? SNIFF_TIMEOUT_MS);
      if (inner.destroyed) return;
      if (kind === 'tcp') return this.#tcp({ ...base, downstream: 'HTTP/1.1' }, inner, r);
      const ctx: ConnContext = { ...base, downstream: kind === 'h2' ? 'HTTP/2' : 'HTTP/1.1' };
      if (kind === 'h2') {
        this.#stats.h2++;
        this.#pending = ctx;
        try {
          this.#h2.emit('connection', inner);
        } finally {
          this.#pending = undefined;
        }
      } else {
        this.#stats.http1++;
        this.#ctx.set(inner, ctx);
        this.#http1.emit('connection', inner);
        // sniff() paused the socket, and a 'data' listener does not resume an explicitly paused
        // stream; the HTTP/2 session reads on 'readable' instead and needs no resume.
        inner.resume();
      }
    })().catch((e: unknown) => {
      this.d.log.warn({ authority: r.authority, err: (e as Error).message }, 'waypoint: tunnel failed');
      inner.destroy();
    });
    return { status: 200, upstream: outer };
  }

  #service(host: string): ServiceInfo | undefined {
    return this.d.view.serviceByVip(host) ?? this.d.view.serviceByHostname(host);
  }

  async #tcp(ctx: ConnContext, inner: PairEnd, r: ConnectRequest): Promise<void> {
    this.#stats.tcp++;
    const cluster = this.d.clusters.get(ctx.service, ctx.port, '', {});
    const picked = cluster.pick(this.d.view, { headers: {}, sourceIp: ctx.sourceIp });
    const log = this.d.log.child({ target: 'access' });
    const started = performance.now();
    if (!picked) {
      log.warn({ 'src.identity': ctx.peerIdentity, 'dst.service': ctx.service.hostname, response_flags: 'UH' }, 'connection failed: no healthy upstream');
      inner.destroy();
      return;
    }
    let tunnel: Duplex;
    try {
      tunnel = await this.d.connector.open(picked.target, { forwarded: `for=${ctx.sourceIp}`, ...(r.baggage ? { baggage: r.baggage } : {}) });
    } catch (e) {
      picked.done('connect-failure');
      log.warn({ 'src.identity': ctx.peerIdentity, 'dst.service': ctx.service.hostname, 'dst.addr': formatHostPort(picked.target.ip, picked.target.port), response_flags: 'UF', error: (e as Error).message }, 'connection failed');
      inner.destroy();
      return;
    }
    const b = bridge(inner, tunnel);
    const res = await b.done;
    picked.done('success');
    log.info({
      'src.addr': ctx.sourceIp,
      'src.identity': ctx.peerIdentity,
      'dst.service': ctx.service.hostname,
      'dst.addr': formatHostPort(picked.target.ip, picked.target.port),
      'dst.identity': picked.endpoint.identity,
      bytes_recv: res.aToB,
      bytes_sent: res.bToA,
      duration: `${Math.round(performance.now() - started)}ms`,
      ...(res.error ? { error: res.error.message } : {}),
    }, 'connection complete');
  }
}
