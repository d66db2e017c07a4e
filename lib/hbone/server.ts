// The HBONE server: mutual TLS 1.3 + HTTP/2 CONNECT on listeners it is given (a net.Server made in
// a pod's namespace, an fd, or a port), with the certificate chosen per accepted connection.
import type { IncomingHttpHeaders } from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { silentLogger, type Logger } from '../telemetry/log.js';
import { formatSockAddr, sockAddrOf, type SockAddr } from './authority.js';
import {
  H2_CONNECTION_WINDOW,
  H2_MAX_FRAME_SIZE,
  H2_SERVER_MAX_CONCURRENT_STREAMS,
  H2_SERVER_MAX_HEADER_LIST,
  H2_STREAM_WINDOW,
  HBONE_MAX_HANDSHAKES_PER_LISTENER,
  HBONE_STALE_HANDSHAKE_MS,
  TLS_HANDSHAKE_TIMEOUT_MS,
} from './constants.js';
import { HboneError, errorMessage } from './errors.js';
import { H2Session } from './h2/session.js';
import type { H2Stream } from './h2/stream.js';
import { startKeepAlive, type KeepAliveOptions } from './keepalive.js';
import { serveStream, type ConnectHandler, type ConnInfo, type HboneStreamHandle, type StreamHost } from './server-stream.js';
import { TlsEngines, type TlsEngine } from './server-tls.js';
import { checkClientIdentity, defaultContextCache, peerUriSans, type CredentialEntry, type Credentials, type MaybePromise, type TlsContextCache } from './tls.js';

export type { ConnectHandler, ConnectRequest, ConnectResult, HboneStreamHandle, RefusalStatus } from './server-stream.js';

export interface HboneServerOptions {
  /** The certificate to present on a connection accepted at `localAddress` (ztunnel: one pod identity per listener). */
  credentials: (localAddress: SockAddr) => MaybePromise<Credentials>;
  onConnect: ConnectHandler;
  logger?: Logger;
  keepAlive?: KeepAliveOptions;
  handshakeTimeoutMs?: number;
  /**
   * TLS handshakes one listener runs at a time (default HBONE_MAX_HANDSHAKES_PER_LISTENER); a
   * socket accepted beyond it is reset at once, so a flood of sockets that never finish their
   * handshake cannot take the CPU and memory that real clients need.
   */
  maxHandshakesPerListener?: number;
  /**
   * At the cap, a handshake in progress this long (default HBONE_STALE_HANDSHAKE_MS) is reset to
   * make room for the new socket, so sockets that never finish cannot lock real clients out.
   */
  staleHandshakeMs?: number;
  /** Called for each socket shed by that cap (ambit_hbone_handshakes_shed_total). */
  onHandshakeShed?: () => void;
  contexts?: TlsContextCache;
}

/** Where to accept: a server someone else made (and owns), a listening fd, or a port. */
export type ListenTarget = { server: net.Server } | { fd: number } | { port: number; host?: string };

export interface HboneServerStats {
  connectionsAccepted: number;
  connectionsActive: number;
  /** TLS handshakes that failed (garbage, no client certificate, unknown CA, timeout). */
  handshakeFailures: number;
  /** Verified certificates refused after the handshake (trust domain, no SPIFFE id, no h2). */
  peerRefusals: number;
  /** Sockets reset because their listener had maxHandshakesPerListener in progress: new ones, and stale ones evicted for them. */
  handshakesShed: number;
  /** Handshakes in progress now, all listeners together. */
  handshakesActive: number;
  streamsOpened: number;
  streamsActive: number;
  streamsRefused: number;
  /** Refusals by status; 499 counts clients that left before the answer. */
  refusedByStatus: Record<number, number>;
}

interface Listener {
  server: net.Server;
  owned: boolean;
  onConnection: (raw: net.Socket) => void;
  /** Handshakes in progress on this listener, oldest first, by the socket's 4-tuple (the TLS socket reports the same one). */
  handshaking: Map<string, Handshake>;
}

interface Handshake {
  raw: net.Socket;
  startedAt: number;
  done: () => void;
}

const tupleKey = (s: net.Socket): string => `${s.localAddress}|${s.localPort}|${s.remoteAddress}|${s.remotePort}`;

export class HboneServer {
  private readonly log: Logger;
  private readonly contexts: TlsContextCache;
  private readonly engines: TlsEngines;
  private readonly listeners: Listener[] = [];
  /** Every accepted TCP socket until it closes (handshaking or carrying a session). */
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Map<H2Session, ConnInfo>();
  private readonly live = new Set<HboneStreamHandle>();
  private readonly emptyWaiters: (() => void)[] = [];
  private state: 'open' | 'draining' | 'closed' = 'open';
  private streamSeq = 0;
  private readonly counters: HboneServerStats = {
    connectionsAccepted: 0,
    connectionsActive: 0,
    handshakeFailures: 0,
    peerRefusals: 0,
    handshakesShed: 0,
    handshakesActive: 0,
    streamsOpened: 0,
    streamsActive: 0,
    streamsRefused: 0,
    refusedByStatus: {},
  };
  private readonly host: StreamHost;
  private readonly maxHandshakes: number;
  private readonly staleHandshakeMs: number;

  constructor(private readonly opts: HboneServerOptions) {
    if (typeof opts?.credentials !== 'function') throw new HboneError('HBONE_INVALID_ARGUMENT', 'HboneServer: options.credentials must be a function (localAddress) => Credentials');
    if (typeof opts.onConnect !== 'function') throw new HboneError('HBONE_INVALID_ARGUMENT', 'HboneServer: options.onConnect must be a function');
    this.log = (opts.logger ?? silentLogger()).child({ subsystem: 'hbone-server' });
    this.contexts = opts.contexts ?? defaultContextCache;
    this.maxHandshakes = opts.maxHandshakesPerListener ?? HBONE_MAX_HANDSHAKES_PER_LISTENER;
    if (!(Number.isInteger(this.maxHandshakes) && this.maxHandshakes > 0)) {
      throw new HboneError('HBONE_INVALID_ARGUMENT', `HboneServer: maxHandshakesPerListener must be a positive integer, got ${this.maxHandshakes}`);
    }
    this.staleHandshakeMs = opts.staleHandshakeMs ?? HBONE_STALE_HANDSHAKE_MS;
    this.engines = new TlsEngines(this.contexts, opts.handshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS, {
      secure: (s, entry) => this.onSecure(s, entry),
      failed: (err, s, entry) => {
        this.counters.handshakeFailures++;
        // OpenSSL's message is a stack dump; its reason ("wrong version number", "peer did not return a certificate") reads better.
        const why = (err as { reason?: string }).reason ?? err.message;
        this.log.info({ peer: `${s.remoteAddress}:${s.remotePort}`, identity: entry.identity, code: (err as NodeJS.ErrnoException).code, error: why }, 'HBONE TLS handshake failed');
      },
    });
    this.host = {
      onConnect: opts.onConnect,
      nextId: () => ++this.streamSeq,
      refused: (status, reason, ctx) => {
        this.counters.streamsRefused++;
        this.counters.refusedByStatus[status] = (this.counters.refusedByStatus[status] ?? 0) + 1;
        this.log.info({ ...ctx, status, reason }, 'HBONE stream refused');
      },
      opened: (h) => {
        this.counters.streamsOpened++;
        this.counters.streamsActive++;
        this.live.add(h);
      },
      closed: (h, r) => {
        this.counters.streamsActive--;
        this.live.delete(h);
        if (r.closeReason) this.log.info({ peerIdentity: h.peerIdentity, authority: h.authority, reason: r.closeReason }, 'HBONE stream closed by the server');
        else if (r.error) this.log.debug({ peerIdentity: h.peerIdentity, authority: h.authority, error: r.error }, 'HBONE stream ended with an error');
      },
    };
  }

  /** Starts accepting on `target`; resolves with the bound address. */
  async listen(target: ListenTarget): Promise<SockAddr> {
    if (this.state !== 'open') throw new HboneError('HBONE_CLOSED', 'HboneServer.listen: the server is draining or closed');
    const owned = !('server' in target);
    const server = owned ? net.createServer() : target.server;
    const listener: Listener = { server, owned, onConnection: (raw) => void this.accept(raw, listener), handshaking: new Map() };
    server.on('connection', listener.onConnection);
    this.listeners.push(listener);
    try {
      if (!server.listening) {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.once('listening', () => {
            server.off('error', reject);
            resolve();
          });
          if ('fd' in target) server.listen({ fd: target.fd });
          else if ('port' in target) server.listen(target.port, target.host);
        });
      }
    } catch (e) {
      this.detach(listener);
      const where = 'fd' in target ? `fd ${target.fd}` : 'port' in target ? `${target.host ?? '*'}:${target.port}` : 'the given server';
      throw new HboneError('HBONE_INVALID_ARGUMENT', `HBONE listen on ${where}: ${errorMessage(e)}`, { cause: e });
    }
    const a = server.address();
    if (a === null || typeof a === 'string') throw new HboneError('HBONE_INVALID_ARGUMENT', 'HBONE listen: the server is not bound to an IP address');
    return sockAddrOf(a.address, a.port)!;
  }

  stats(): HboneServerStats {
    const handshakesActive = this.listeners.reduce((n, l) => n + l.handshaking.size, 0);
    return { ...this.counters, connectionsActive: this.sessions.size, handshakesActive, refusedByStatus: { ...this.counters.refusedByStatus } };
  }

  /** Live tunnels (those that got 200 and are still copying). */
  streams(): HboneStreamHandle[] {
    return [...this.live];
  }

  /** Closes every live tunnel `match` selects (e.g. those a new policy denies); returns how many. */
  closeStreams(match: (h: HboneStreamHandle) => boolean, reason: string): number {
    let n = 0;
    for (const h of this.streams()) {
      if (match(h)) {
        h.close(reason);
        n++;
      }
    }
    return n;
  }

  /** GOAWAY to every current connection: live streams finish, new ones go elsewhere. Keeps accepting. */
  goAway(): void {
    for (const s of this.sessions.keys()) if (!s.closed) s.close();
  }

  /** Stops accepting, sends GOAWAY, waits for streams to finish, and destroys what is left after `timeoutMs`. */
  async drain(timeoutMs = 5_000): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'draining';
    this.stopAccepting();
    this.goAway();
    if (this.sessions.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.emptyWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await this.close();
  }

  /** Stops accepting and destroys every connection now. */
  async close(): Promise<void> {
    this.state = 'closed';
    this.stopAccepting();
    for (const raw of this.sockets) raw.destroy();
    this.sockets.clear();
    const closing = [...this.sessions.keys()].map((s) => new Promise<void>((r) => (s.destroyed ? r() : (s.once('close', () => r()), s.destroy()))));
    await Promise.all(closing);
  }

  // === impl: accepting ===

  private stopAccepting(): void {
    for (const l of [...this.listeners]) this.detach(l);
  }

  private detach(l: Listener): void {
    l.server.off('connection', l.onConnection);
    if (l.owned && l.server.listening) l.server.close();
    const i = this.listeners.indexOf(l);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  private async accept(raw: net.Socket, listener: Listener): Promise<void> {
    if (this.state !== 'open') return void raw.destroy();
    raw.on('error', () => {}); // reported through tlsClientError once TLS owns the socket
    if (listener.handshaking.size >= this.maxHandshakes) {
      const oldest = listener.handshaking.values().next().value!;
      this.counters.handshakesShed++;
      this.opts.onHandshakeShed?.();
      if (Date.now() - oldest.startedAt < this.staleHandshakeMs) return void raw.resetAndDestroy();
      oldest.done();
      oldest.raw.resetAndDestroy();
    }
    this.counters.connectionsAccepted++;
    raw.setNoDelay(true); // the HTTP/2 layer batches its writes itself
    const local = sockAddrOf(raw.localAddress, raw.localPort);
    const peer = sockAddrOf(raw.remoteAddress, raw.remotePort);
    if (!local || !peer) return void raw.destroy();
    this.sockets.add(raw);
    const key = tupleKey(raw);
    const hs: Handshake = {
      raw,
      startedAt: Date.now(),
      done: () => {
        if (listener.handshaking.get(key) === hs) listener.handshaking.delete(key);
      },
    };
    listener.handshaking.set(key, hs);
    raw.once('close', () => {
      this.sockets.delete(raw);
      hs.done();
    });
    let engine: TlsEngine;
    try {
      engine = this.engines.get(await this.opts.credentials(local));
    } catch (e) {
      this.log.warn({ local: formatSockAddr(local), peer: formatSockAddr(peer), error: errorMessage(e) }, 'HBONE connection refused: no usable certificate for this listener');
      return void raw.destroy();
    }
    if (raw.destroyed || this.state !== 'open') return void raw.destroy();
    engine.server.emit('connection', raw);
  }

  private onSecure(sock: tls.TLSSocket, entry: CredentialEntry): void {
    const key = tupleKey(sock);
    for (const l of this.listeners) l.handshaking.get(key)?.done();
    const peer = sockAddrOf(sock.remoteAddress, sock.remotePort);
    const local = sockAddrOf(sock.localAddress, sock.localPort);
    const refuse = (reason: string): void => {
      this.counters.peerRefusals++;
      this.log.warn({ peer: peer ? formatSockAddr(peer) : undefined, identity: entry.identity, reason }, 'HBONE connection refused');
      sock.destroy();
    };
    if (this.state !== 'open') return refuse('server is draining');
    if (!peer || !local) return refuse('socket closed during the handshake');
    if (sock.alpnProtocol !== 'h2') return refuse(`client did not negotiate ALPN h2 (got ${String(sock.alpnProtocol)})`);
    const v = checkClientIdentity(peerUriSans(sock.getPeerCertificate()), entry.trustDomain);
    if (!v.ok) return refuse(v.reason);
    this.startSession(sock, { peerIdentity: v.identity, peerAddress: peer, localAddress: local });
  }

  private startSession(sock: tls.TLSSocket, info: ConnInfo): void {
    const session = new H2Session(sock, {
      role: 'server',
      settings: {
        initialWindowSize: H2_STREAM_WINDOW,
        maxFrameSize: H2_MAX_FRAME_SIZE,
        maxConcurrentStreams: H2_SERVER_MAX_CONCURRENT_STREAMS,
        maxHeaderListSize: H2_SERVER_MAX_HEADER_LIST,
      },
      connectionWindow: H2_CONNECTION_WINDOW,
    });
    this.sessions.set(session, info);
    session.on('error', (e) => this.log.debug({ peer: formatSockAddr(info.peerAddress), error: e.message }, 'HBONE connection error'));
    session.on('stream', (stream: H2Stream, headers: IncomingHttpHeaders) => void serveStream(stream, headers, info, this.host));
    session.once('close', () => {
      this.sessions.delete(session);
      if (this.sessions.size === 0) for (const w of this.emptyWaiters.splice(0)) w();
    });
    startKeepAlive(session, this.opts.keepAlive, (why) => this.log.info({ peer: formatSockAddr(info.peerAddress), peerIdentity: info.peerIdentity, why }, 'HBONE connection dropped by keep-alive'));
  }
}
