// The proxy instance of one pod: outbound on 15001, inbound plaintext on 15006 and inbound HBONE
// on 15008, on listeners made in the pod's namespace by inpod/, sharing the node-wide inputs.
import net from 'node:net';
import { HbonePool, type HbonePoolOptions } from '../../lib/hbone/pool.js';
import { HboneServer, type ConnectHandler, type ListenTarget } from '../../lib/hbone/server.js';
import type { KeepAliveOptions } from '../../lib/hbone/keepalive.js';
import type { SockAddr } from '../../lib/native/types.js';
import type { PodContext, ProxyInputs } from './context.js';
import { inboundHandler } from './inbound.js';
import { InboundPassthrough } from './inbound-passthrough.js';
import { Outbound } from './outbound.js';
import { resetConnection } from './refuse.js';
import type { PodNet } from './sockets.js';

function noDelay(s: net.Socket): void {
  s.setNoDelay(true);
}

export interface PodListeners {
  /** 15001: the app's redirected outbound connections. */
  outbound: net.Server;
  /** 15006: redirected inbound connections that are not HBONE. */
  plaintext: net.Server;
  /** 15008: HBONE. */
  hbone: ListenTarget;
}

export interface PodProxyStats {
  /** Downstream connections on 15001 and 15006 still open. */
  plainConnections: number;
  hboneStreams: number;
  /** HBONE streams accepted since start (same-node handoffs open none). */
  hboneStreamsOpened: number;
  hboneConnections: number;
  poolConnections: number;
}

export interface PodInfo {
  uid: string;
  name: string;
  namespace: string;
  serviceAccount: string;
  identity: string;
}

export interface PodProxyOptions {
  pool?: HbonePoolOptions;
  keepAlive?: KeepAliveOptions;
}

export class PodProxy {
  readonly pod: PodContext;
  private readonly hbone: HboneServer;
  private readonly outbound: Outbound;
  private readonly plaintext: InboundPassthrough;
  private readonly inbound: ConnectHandler;
  /** Removes this pod from the same-node handoff registry. */
  private unregisterLocal: (() => void) | undefined;
  private readonly open = new Set<net.Socket>();
  private servers: net.Server[] = [];
  /** True once a server of ours owns the HBONE listener's fd: closing the server closes it. */
  hboneFdAdopted = false;
  private state: 'new' | 'serving' | 'draining' | 'closed' = 'new';

  constructor(
    private readonly inputs: ProxyInputs,
    info: PodInfo,
    podNet: PodNet,
    opts: PodProxyOptions = {},
  ) {
    const log = inputs.logger.child({ pod: `${info.namespace}/${info.name}` });
    this.pod = { ...info, net: podNet, pool: new HbonePool({ connectTimeoutMs: inputs.connectTimeoutMs, ...opts.pool, logger: log }) };
    this.outbound = new Outbound(inputs, this.pod);
    this.plaintext = new InboundPassthrough(inputs, this.pod);
    this.inbound = inboundHandler(inputs, this.pod);
    this.hbone = new HboneServer({
      credentials: () => inputs.certs.get(info.identity),
      onConnect: this.inbound,
      logger: log,
      onHandshakeShed: () => inputs.telemetry.hbone?.handshakesShed.inc(),
      ...(opts.keepAlive ? { keepAlive: opts.keepAlive } : {}),
    });
  }

  /** Starts serving on the pod's listeners; resolves with the HBONE address. */
  async start(l: PodListeners): Promise<{ hbone: SockAddr }> {
    if (this.state !== 'new') throw new Error(`PodProxy ${this.pod.namespace}/${this.pod.name}: start() called twice`);
    this.state = 'serving';
    this.servers = [l.outbound, l.plaintext];
    l.outbound.on('connection', (s: net.Socket) => this.serve(s, (x) => this.outbound.handle(x)));
    l.plaintext.on('connection', (s: net.Socket) => this.serve(s, (x) => this.plaintext.handle(x)));
    const hbone = await this.hbone.listen(this.hboneTarget(l.hbone));
    // Reachable in process by the other pods of this ztunnel only while it serves.
    if (this.state === 'serving') this.unregisterLocal = this.inputs.localPods?.add(this.pod.namespace, this.pod.name, { identity: this.pod.identity, connect: this.inbound });
    return { hbone };
  }

  /**
   * The HBONE listener as a server whose accepted sockets have TCP_NODELAY (the HBONE server would
   * make a plain one from an fd or a port). Under HTTP/2 many streams share the socket; with Nagle
   * a stream's small reply waits for the ACK of another's data. A server made here is closed here.
   */
  private hboneTarget(t: ListenTarget): ListenTarget {
    if ('server' in t) {
      t.server.on('connection', noDelay);
      return t;
    }
    const server = net.createServer({ noDelay: true });
    this.servers.push(server);
    if ('fd' in t) {
      server.listen({ fd: t.fd });
      this.hboneFdAdopted = true;
    }
    else server.listen(t.port, t.host);
    return { server };
  }

  stats(): PodProxyStats {
    const h = this.hbone.stats();
    return { plainConnections: this.open.size, hboneStreams: h.streamsActive, hboneStreamsOpened: h.streamsOpened, hboneConnections: h.connectionsActive, poolConnections: this.pod.pool.stats().connections };
  }

  /**
   * Stops accepting, sends GOAWAY on HBONE connections, lets live connections finish for up to
   * `timeoutMs`, then closes whatever is left.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.state === 'closed' || this.state === 'draining') return;
    this.state = 'draining';
    this.stopAccepting();
    const plainDone = this.open.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const check = (): void => {
        if (this.open.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const s of this.open) s.once('close', () => setImmediate(check));
    });
    await Promise.all([this.hbone.drain(timeoutMs), plainDone]);
    await this.close();
  }

  /** Closes everything now. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopAccepting();
    for (const s of this.open) s.destroy();
    this.open.clear();
    await Promise.all([this.hbone.close(), this.pod.pool.close()]);
  }

  private serve(s: net.Socket, handle: (s: net.Socket) => Promise<void>): void {
    if (this.state !== 'serving') return resetConnection(s, 'draining');
    // Replies of request/response traffic are small: without this each waits for the ACK of the last.
    noDelay(s);
    this.open.add(s);
    s.once('close', () => this.open.delete(s));
    handle(s).catch((e: unknown) => {
      this.inputs.logger.error({ err: (e as Error).message }, 'BUG: a connection handler threw');
      resetConnection(s, 'internal error');
    });
  }

  private stopAccepting(): void {
    this.unregisterLocal?.();
    this.unregisterLocal = undefined;
    for (const srv of this.servers.splice(0)) if (srv.listening) srv.close();
  }
}
