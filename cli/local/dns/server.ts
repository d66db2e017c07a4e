import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { silentLogger, type Logger } from '../../../lib/telemetry/log.js';
import { forward, parseUpstream, type Upstream } from './forward.js';
import { answerQuery, parseQuery, reply } from './message.js';
import type { DnsSnapshot } from './records.js';

/**
 * The cluster DNS server: UDP and TCP on one address and port, answering from a snapshot that
 * `setData` replaces whole (readers never see half of an update), forwarding names outside the
 * zone to upstreams when there are any.
 */

export interface DnsServerOptions {
  /** Default 0.0.0.0. */
  address?: string;
  /** Default 53; 0 picks a free port (the same one for UDP and TCP). */
  port?: number;
  /** `ip` or `ip:port`; none (the default) means names outside the zone get REFUSED. */
  upstreams?: string[];
  upstreamTimeoutMs?: number;
  tcpIdleTimeoutMs?: number;
  maxTcpConnections?: number;
  log?: Logger;
}

export interface DnsServerStats {
  queries: number;
  truncated: number;
  malformed: number;
  forwarded: number;
  upstreamFailures: number;
}

export interface BoundAddress {
  address: string;
  port: number;
}

export class ClusterDnsServer {
  private snap: DnsSnapshot;
  private readonly upstreams: Upstream[];
  private readonly log: Logger;
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly conns = new Set<Socket>();
  readonly stats: DnsServerStats = { queries: 0, truncated: 0, malformed: 0, forwarded: 0, upstreamFailures: 0 };

  constructor(
    snapshot: DnsSnapshot,
    private readonly opts: DnsServerOptions = {},
  ) {
    this.snap = snapshot;
    this.upstreams = (opts.upstreams ?? []).map(parseUpstream);
    this.log = opts.log ?? silentLogger();
  }

  setData(snapshot: DnsSnapshot): void {
    this.snap = snapshot;
  }

  get data(): DnsSnapshot {
    return this.snap;
  }

  async listen(): Promise<BoundAddress> {
    const address = this.opts.address ?? '0.0.0.0';
    const wanted = this.opts.port ?? 53;
    for (let attempt = 1; ; attempt++) {
      const udp = await this.bindUdp(address, wanted);
      const port = udp.address().port;
      try {
        this.tcp = await this.listenTcp(address, port);
      } catch (err) {
        udp.close();
        // With port 0 the UDP port may be taken for TCP by someone else: pick another.
        if (wanted === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 10) continue;
        throw listenError(address, port, 'tcp', err);
      }
      this.udp = udp;
      this.log.info({ address, port, upstreams: this.upstreams.map((u) => `${u.host}:${u.port}`) }, 'cluster DNS listening on UDP and TCP');
      return { address, port };
    }
  }

  async close(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const c of this.conns) c.destroy();
    await Promise.all([
      udp && new Promise<void>((resolve) => udp.close(() => resolve())),
      tcp && new Promise<void>((resolve) => tcp.close(() => resolve())),
    ]);
  }

  /** Answers one wire-format query; undefined means send nothing. Never throws. */
  async handle(msg: Buffer, transport: 'udp' | 'tcp', peer: string): Promise<Buffer | undefined> {
    this.stats.queries++;
    const parsed = parseQuery(msg);
    if (!parsed.ok) {
      this.stats.malformed++;
      this.log.warn({ peer, transport, reason: parsed.reason }, 'malformed DNS query');
      return parsed.reply;
    }
    const snap = this.snap;
    const recursion = this.upstreams.length > 0;
    try {
      const r = answerQuery(snap, parsed.query, transport, recursion);
      if (r.action === 'reply') {
        if (r.truncated) this.stats.truncated++;
        return r.reply;
      }
      if (!recursion) return reply(parsed.query, transport, r.otherwise, {}, false).reply;
      this.stats.forwarded++;
      try {
        return await forward(msg, this.upstreams, transport, this.opts.upstreamTimeoutMs ?? 2000);
      } catch (err) {
        this.stats.upstreamFailures++;
        this.log.warn({ peer, name: parsed.query.questions?.[0]?.name, err: (err as Error).message }, 'DNS upstream failed; answering SERVFAIL');
        return reply(parsed.query, transport, 'SERVFAIL', {}, true).reply;
      }
    } catch (err) {
      // A bug or an unencodable record must cost one answer, not the server.
      this.log.error({ peer, err: (err as Error).message, name: parsed.query.questions?.[0]?.name }, 'DNS answer failed; answering SERVFAIL');
      return reply(parsed.query, transport, 'SERVFAIL', {}, recursion).reply;
    }
  }

  private bindUdp(address: string, port: number): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      const sock = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
      const onError = (err: Error): void => reject(listenError(address, port, 'udp', err));
      sock.once('error', onError);
      sock.bind({ address, port, exclusive: true }, () => {
        sock.off('error', onError);
        sock.on('error', (err) => this.log.warn({ err: err.message }, 'DNS UDP socket error'));
        sock.on('message', (msg, rinfo) => {
          const peer = `${rinfo.address}:${rinfo.port}`;
          void this.handle(msg, 'udp', peer).then((out) => {
            if (!out || this.udp !== sock) return;
            sock.send(out, rinfo.port, rinfo.address, (err) => {
              if (err) this.log.warn({ peer, err: err.message }, 'DNS UDP send failed');
            });
          });
        });
        resolve(sock);
      });
    });
  }

  private listenTcp(address: string, port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer((sock) => this.onTcp(sock));
      server.once('error', reject);
      server.listen({ host: address, port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.warn({ err: err.message }, 'DNS TCP server error'));
        resolve(server);
      });
    });
  }

  private onTcp(sock: Socket): void {
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    if (this.conns.size >= (this.opts.maxTcpConnections ?? 256)) {
      this.log.warn({ peer }, 'too many DNS TCP connections; closing the new one');
      sock.destroy();
      return;
    }
    this.conns.add(sock);
    sock.setTimeout(this.opts.tcpIdleTimeoutMs ?? 10_000, () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', (err) => this.log.debug({ peer, err: err.message }, 'DNS TCP connection error'));
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      // RFC 7766: several length-prefixed queries may share a connection and a segment.
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        void this.handle(msg, 'tcp', peer).then((out) => {
          if (!out || sock.destroyed) return;
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(out.length);
          sock.write(Buffer.concat([prefix, out]));
        });
      }
    });
  }
}

function listenError(address: string, port: number, proto: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  const hint =
    code === 'EADDRINUSE'
      ? '; is another DNS server (systemd-resolved, dnsmasq, a previous run) bound there?'
      : code === 'EACCES'
        ? '; ports below 1024 need root or CAP_NET_BIND_SERVICE'
        : code === 'EADDRNOTAVAIL'
          ? '; is that address configured in this network namespace?'
          : '';
  return new Error(`cluster DNS cannot listen on ${address}:${port}/${proto}: ${code}${hint}`);
}
