// HBONE connection pool (ARCHITECTURE.md §2): connections keyed by {source identity, expected
// destination identities, destination address, original source IP}, created single-flight,
// at most N streams each, dropped on GOAWAY, close, error or idleness.
import { silentLogger, type Logger } from '../telemetry/log.js';
import { parseAuthority } from './authority.js';
import { connectHeaders, dial, openTunnel, type HboneConnection, type HboneTunnel, type SocketFactory, type TunnelRequest } from './client.js';
import { POOL_IDLE_TIMEOUT_MS, POOL_MAX_STREAMS_PER_CONNECTION } from './constants.js';
import { HboneError, errorMessage, isHboneError } from './errors.js';
import type { KeepAliveOptions } from './keepalive.js';
import { defaultContextCache, type CredentialEntry, type Credentials, type MaybePromise, type TlsContextCache } from './tls.js';

export interface PoolKeyParts {
  /** Our workload's SPIFFE id; the credentials must be for it. */
  sourceIdentity: string;
  /** The server must prove one of these (order does not matter). */
  destinationIdentities: readonly string[];
  /** Next hop, `ip:port` or `[v6]:port` (normally <pod IP>:15008). */
  destination: string;
  /** The downstream client's IP, when connections must not be shared across sources. */
  originalSourceIp?: string;
}

export interface PoolConnectOptions extends PoolKeyParts, TunnelRequest {
  /** Called per connect: rotated credentials take effect for new connections at once. */
  credentials: Credentials | (() => MaybePromise<Credentials>);
  socketFactory?: SocketFactory;
}

export interface HbonePoolOptions {
  /** Streams per connection before another is opened (default 100; the peer's limit also applies). */
  maxStreamsPerConnection?: number;
  /** Close a connection unused this long (default 5 min). */
  idleTimeoutMs?: number;
  connectTimeoutMs?: number;
  keepAlive?: KeepAliveOptions;
  contexts?: TlsContextCache;
  logger?: Logger;
}

export interface HbonePoolStats {
  keys: number;
  /** Open connections, including those retired and finishing their streams. */
  connections: number;
  streams: number;
  connectionsOpened: number;
  connectFailures: number;
}

/** The pool key as a string. Pure; throws HBONE_INVALID_ARGUMENT naming the bad part. */
export function poolKey(p: PoolKeyParts): string {
  const bad = (what: string): never => {
    throw new HboneError('HBONE_INVALID_ARGUMENT', `HBONE pool key: ${what}`);
  };
  if (typeof p.sourceIdentity !== 'string' || !p.sourceIdentity.startsWith('spiffe://')) bad(`sourceIdentity "${String(p.sourceIdentity)}" is not a SPIFFE id`);
  if (!Array.isArray(p.destinationIdentities) || p.destinationIdentities.length === 0) bad('destinationIdentities must list at least one SPIFFE id');
  const dst = parseAuthority(p.destination);
  if (typeof dst === 'string') bad(`destination: ${dst}`);
  return JSON.stringify([p.sourceIdentity, [...p.destinationIdentities].sort(), p.destination, p.originalSourceIp ?? '']);
}

class PooledConnection {
  active = 0;
  retired = false;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly conn: HboneConnection,
    readonly key: string,
  ) {}

  get session() {
    return this.conn.session;
  }

  hasRoom(max: number): boolean {
    const peerMax = this.session.remoteSettings.maxConcurrentStreams ?? Infinity;
    return !this.retired && !this.session.closed && !this.session.destroyed && this.active < Math.min(max, peerMax);
  }
}

interface KeyEntry {
  conns: PooledConnection[];
  creating: Promise<void> | undefined;
}

export class HbonePool {
  private readonly entries = new Map<string, KeyEntry>();
  private readonly all = new Set<PooledConnection>();
  private readonly maxStreams: number;
  private readonly idleMs: number;
  private readonly contexts: TlsContextCache;
  private readonly log: Logger;
  private closed = false;
  private opened = 0;
  private failures = 0;

  constructor(private readonly opts: HbonePoolOptions = {}) {
    this.maxStreams = opts.maxStreamsPerConnection ?? POOL_MAX_STREAMS_PER_CONNECTION;
    this.idleMs = opts.idleTimeoutMs ?? POOL_IDLE_TIMEOUT_MS;
    if (!(Number.isInteger(this.maxStreams) && this.maxStreams > 0)) throw new HboneError('HBONE_INVALID_ARGUMENT', `HbonePool: maxStreamsPerConnection must be a positive integer, got ${this.maxStreams}`);
    if (!(this.idleMs > 0)) throw new HboneError('HBONE_INVALID_ARGUMENT', `HbonePool: idleTimeoutMs must be positive, got ${this.idleMs}`);
    this.contexts = opts.contexts ?? defaultContextCache;
    this.log = (opts.logger ?? silentLogger()).child({ subsystem: 'hbone-pool' });
  }

  /** A tunnel to `authority` through a pooled connection; resolves after the server's 200. */
  async connect(o: PoolConnectOptions): Promise<HboneTunnel> {
    if (this.closed) throw new HboneError('HBONE_CLOSED', 'HbonePool is closed');
    const key = poolKey(o);
    connectHeaders(o); // refuse a bad authority before dialing
    let creds: Credentials;
    try {
      creds = typeof o.credentials === 'function' ? await o.credentials() : o.credentials;
    } catch (e) {
      throw new HboneError('HBONE_CREDENTIALS', `HBONE pool: no credentials for ${o.sourceIdentity}: ${errorMessage(e)}`, { cause: e });
    }
    const entry = this.contexts.entry(creds);
    if (entry.identity !== o.sourceIdentity) {
      throw new HboneError('HBONE_CREDENTIALS', `HBONE pool: credentials are for ${entry.identity}, the request is from ${o.sourceIdentity}`);
    }
    for (let attempt = 0; ; attempt++) {
      const pc = await this.checkout(key, o, entry);
      try {
        return await openTunnel(pc.conn, o, () => this.release(pc));
      } catch (e) {
        // The connection went away under us before the server saw the request: once more on another.
        if (isHboneError(e) && e.retryable && attempt === 0) {
          this.retire(pc, 'stream refused');
          continue;
        }
        throw e;
      }
    }
  }

  stats(): HbonePoolStats {
    let streams = 0;
    for (const pc of this.all) streams += pc.active;
    return { keys: this.entries.size, connections: this.all.size, streams, connectionsOpened: this.opened, connectFailures: this.failures };
  }

  /** Destroys every connection; later connects fail with HBONE_CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    const waits = [...this.all].map((pc) => new Promise<void>((r) => (pc.session.destroyed ? r() : (pc.session.once('close', () => r()), pc.session.destroy()))));
    this.entries.clear();
    await Promise.all(waits);
  }

  // === impl ===

  private async checkout(key: string, o: PoolConnectOptions, entry: CredentialEntry): Promise<PooledConnection> {
    for (;;) {
      if (this.closed) throw new HboneError('HBONE_CLOSED', 'HbonePool is closed');
      // After a rotation, new tunnels must present the new certificate.
      for (const pc of [...(this.entries.get(key)?.conns ?? [])]) {
        if (pc.conn.credentialsFingerprint !== entry.fingerprint) this.retire(pc, 'credentials rotated');
      }
      let e = this.entries.get(key);
      if (!e) {
        e = { conns: [], creating: undefined };
        this.entries.set(key, e);
      }
      const pc = e.conns.find((c) => c.hasRoom(this.maxStreams));
      if (pc) {
        this.reserve(pc);
        return pc;
      }
      if (!e.creating) {
        const ke = e;
        ke.creating = this.open(key, ke, o, entry).finally(() => {
          ke.creating = undefined;
          this.forgetIfEmpty(key, ke);
        });
      }
      // Everyone waiting for this key shares the outcome, success or error.
      await e.creating;
    }
  }

  private async open(key: string, e: KeyEntry, o: PoolConnectOptions, entry: CredentialEntry): Promise<void> {
    const dst = parseAuthority(o.destination) as { host: string; port: number };
    let conn: HboneConnection;
    try {
      conn = await dial({
        host: dst.host,
        port: dst.port,
        credentials: entry.credentials,
        expectedIdentities: o.destinationIdentities,
        ...(o.socketFactory ? { socketFactory: o.socketFactory } : {}),
        ...(this.opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.opts.connectTimeoutMs } : {}),
        ...(this.opts.keepAlive ? { keepAlive: this.opts.keepAlive } : {}),
        contexts: this.contexts,
      });
    } catch (err) {
      this.failures++;
      throw err;
    }
    this.opened++;
    if (this.closed) {
      conn.session.destroy();
      throw new HboneError('HBONE_CLOSED', 'HbonePool is closed');
    }
    const pc = new PooledConnection(conn, key);
    e.conns.push(pc);
    this.all.add(pc);
    this.log.debug({ destination: o.destination, peerIdentity: conn.peerIdentity }, 'HBONE connection opened');
    pc.session.on('goaway', () => this.retire(pc, 'GOAWAY'));
    pc.session.once('close', () => this.forget(pc));
    this.startIdle(pc);
  }

  private reserve(pc: PooledConnection): void {
    pc.active++;
    if (pc.idleTimer) clearTimeout(pc.idleTimer);
    pc.idleTimer = undefined;
    if (pc.active === 1) pc.session.ref();
  }

  private release(pc: PooledConnection): void {
    pc.active--;
    if (pc.active > 0) return;
    if (pc.retired) pc.session.close();
    else this.startIdle(pc);
  }

  private startIdle(pc: PooledConnection): void {
    // An idle pooled connection must not keep a process alive.
    pc.session.unref();
    if (pc.idleTimer) clearTimeout(pc.idleTimer);
    pc.idleTimer = setTimeout(() => {
      if (pc.active === 0) this.retire(pc, 'idle');
    }, this.idleMs);
    pc.idleTimer.unref();
  }

  /** No new streams on `pc`; it closes once its streams are done. */
  private retire(pc: PooledConnection, why: string): void {
    if (!pc.retired) this.log.debug({ peerIdentity: pc.conn.peerIdentity, why }, 'HBONE connection retired');
    pc.retired = true;
    this.unlist(pc);
    if (pc.active === 0 && !pc.session.closed) pc.session.close();
  }

  private forget(pc: PooledConnection): void {
    pc.retired = true;
    if (pc.idleTimer) clearTimeout(pc.idleTimer);
    this.unlist(pc);
    this.all.delete(pc);
  }

  private unlist(pc: PooledConnection): void {
    const e = this.entries.get(pc.key);
    if (!e) return;
    const i = e.conns.indexOf(pc);
    if (i >= 0) e.conns.splice(i, 1);
    this.forgetIfEmpty(pc.key, e);
  }

  private forgetIfEmpty(key: string, e: KeyEntry): void {
    if (e.conns.length === 0 && !e.creating && this.entries.get(key) === e) this.entries.delete(key);
  }
}
