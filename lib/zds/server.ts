// The node agent's half of ZDS: listens on a Unix socket; for every ztunnel that connects and says
// Hello, sends the snapshot (Add / Keep per pod, then SnapshotSent), then live Adds (to the newest
// ztunnel) and Dels (to all of them, so an old and a new ztunnel during a rolling restart both
// drop the pod). Strict lock-step: one request in flight per connection, the next only after the Ack.
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import net from 'node:net';
import { listenUnixSocket, type UnixSocketFile } from '../sys/unix-socket.js';
import { silentLogger, type Logger } from '../telemetry/log.js';
import { FramedConnection } from './conn.js';
import { ZdsError } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from './framing.js';
import { decodeAck, decodeHello, describeRequest, encodeRequest, netnsPathProblem, ZDS_VERSION, type ZdsRequest, type ZdsWorkload } from './messages.js';

/** A pod as the node agent knows it; without `netnsPath` the snapshot can only say Keep. */
export interface ZdsPod extends ZdsWorkload {
  netnsPath?: string;
}

export interface ZdsServerOptions {
  socketPath: string;
  /** How long ztunnel may take to Ack one request before the connection is dropped (Istio: 5 s). */
  ackTimeoutMs?: number;
  /** How long a new connection may take to send its Hello. */
  helloTimeoutMs?: number;
  maxFrameBytes?: number;
  logger?: Logger;
}

export interface ZdsConnectionStatus {
  id: number;
  state: 'hello' | 'snapshot' | 'live';
  queued: number;
}

interface Job {
  req: ZdsRequest;
  resolve(): void;
  reject(err: Error): void;
}

interface Peer {
  id: number;
  conn: FramedConnection;
  state: ZdsConnectionStatus['state'];
  queue: Job[];
  busy: boolean;
}

function podProblem(pod: ZdsPod, needNetns: boolean): string | undefined {
  if (typeof pod?.uid !== 'string' || pod.uid === '') return 'uid is empty';
  if (pod.netnsPath !== undefined) return netnsPathProblem(pod.netnsPath);
  return needNetns ? 'netnsPath is required to add a pod' : undefined;
}

/** Events: 'ready' (id) after a Hello, 'snapshotSent' (id), 'disconnect' (id, Error). */
export class ZdsServer extends EventEmitter {
  private readonly log: Logger;
  private readonly ackTimeoutMs: number;
  private readonly helloTimeoutMs: number;
  private readonly maxFrameBytes: number;
  private server: net.Server | undefined;
  private socketFile: UnixSocketFile | undefined;
  private readonly peers: Peer[] = [];
  private pods = new Map<string, ZdsPod>();
  private nextId = 1;

  constructor(private readonly opts: ZdsServerOptions) {
    super();
    this.log = opts.logger ?? silentLogger();
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 5000;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? 5000;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  async start(): Promise<void> {
    const file = this.opts.socketPath;
    // A socket file left by a crashed agent is replaced; anything else there is not ours to delete.
    const st = await stat(file).catch(() => undefined);
    if (st && !st.isSocket()) throw new ZdsError('INVALID', `ZDS socket path ${file} exists and is not a socket; remove it or choose another path`);
    const server = net.createServer((sock) => this.accept(sock));
    // 0600, as the CNI event socket: only root (ztunnel) may receive pods' network namespaces.
    this.socketFile = await listenUnixSocket(server, file, 0o600);
    server.on('error', (err) => this.log.error({ err: err.message, socket: file }, 'ZDS server error'));
    this.server = server;
    this.log.info({ socket: file }, 'ZDS server listening');
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const p of [...this.peers]) p.conn.close(new ZdsError('CLOSED', 'ZDS server shutting down'));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await this.socketFile?.remove();
    this.socketFile = undefined;
  }

  /** Replaces the pods every newly connecting ztunnel receives as its snapshot; sends nothing now. */
  setPods(pods: Iterable<ZdsPod>): void {
    const next = new Map<string, ZdsPod>();
    for (const p of pods) {
      const problem = podProblem(p, false);
      if (problem) throw new ZdsError('INVALID', `ZDS pod ${p?.namespace}/${p?.name}: ${problem}`);
      next.set(p.uid, { ...p });
    }
    this.pods = next;
  }

  /** The pods a connecting ztunnel would get now. */
  currentPods(): ZdsPod[] {
    return [...this.pods.values()].map((p) => ({ ...p }));
  }

  status(): ZdsConnectionStatus[] {
    return this.peers.map((p) => ({ id: p.id, state: p.state, queued: p.queue.length + (p.busy ? 1 : 0) }));
  }

  /**
   * Hands a pod to the newest ztunnel; resolves once it acknowledged, rejects with NACK (ztunnel's
   * error), NO_ZTUNNEL, TIMEOUT or CLOSED. The pod joins the snapshot of later connections either way.
   */
  add(pod: ZdsPod): Promise<void> {
    const problem = podProblem(pod, true);
    if (problem) return Promise.reject(new ZdsError('INVALID', `ZDS add ${pod?.namespace}/${pod?.name}: ${problem}`));
    this.pods.set(pod.uid, { ...pod });
    const target = this.peers.filter((p) => p.state !== 'hello').at(-1);
    if (!target) {
      return Promise.reject(new ZdsError('NO_ZTUNNEL', `no ztunnel is connected to ${this.opts.socketPath}; is ztunnel running on this node?`));
    }
    return this.enqueue(target, { kind: 'add', workload: { uid: pod.uid, name: pod.name, namespace: pod.namespace, serviceAccount: pod.serviceAccount }, netnsPath: pod.netnsPath! });
  }

  /** Removes a pod from every connected ztunnel; resolves when all acknowledged (or none is connected). */
  async del(uid: string): Promise<void> {
    if (typeof uid !== 'string' || uid === '') throw new ZdsError('INVALID', 'ZDS del: uid is empty');
    this.pods.delete(uid);
    const targets = this.peers.filter((p) => p.state !== 'hello');
    const results = await Promise.allSettled(targets.map((p) => this.enqueue(p, { kind: 'del', uid })));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private accept(sock: net.Socket): void {
    const peer: Peer = { id: this.nextId++, conn: new FramedConnection(sock, this.maxFrameBytes), state: 'hello', queue: [], busy: false };
    this.peers.push(peer);
    this.log.info({ conn: peer.id }, 'ZDS: ztunnel connected');
    peer.conn.onClose((err) => this.dropPeer(peer, err));
    void this.handshake(peer);
  }

  private async handshake(peer: Peer): Promise<void> {
    try {
      const version = decodeHello(await peer.conn.read(this.helloTimeoutMs, 'ZdsHello'));
      if (version !== ZDS_VERSION) throw new ZdsError('VERSION', `ztunnel sent ZDS version ${version}; this agent speaks version ${ZDS_VERSION}`);
    } catch (e) {
      peer.conn.close(e as Error);
      return;
    }
    peer.state = 'snapshot';
    const snapshot = [...this.pods.values()];
    this.log.info({ conn: peer.id, pods: snapshot.length }, 'ZDS: sending snapshot');
    const sent = snapshot.map((p) =>
      this.enqueue(peer, p.netnsPath !== undefined
        ? { kind: 'add', workload: { uid: p.uid, name: p.name, namespace: p.namespace, serviceAccount: p.serviceAccount }, netnsPath: p.netnsPath }
        : { kind: 'keep', uid: p.uid }),
    );
    // ztunnel retries a pod it failed on by itself; the snapshot goes on.
    for (const [i, s] of sent.entries()) {
      s.catch((err: Error) => {
        if (!peer.conn.isClosed) this.log.warn({ conn: peer.id, uid: snapshot[i]!.uid, err: err.message }, 'ZDS: ztunnel refused a snapshot pod');
      });
    }
    const done = this.enqueue(peer, { kind: 'snapshotSent' });
    // After the snapshot is queued: whatever a listener adds now goes behind it.
    this.emit('ready', peer.id);
    done.then(
      () => {
        peer.state = 'live';
        this.emit('snapshotSent', peer.id);
      },
      () => undefined,
    );
  }

  private enqueue(peer: Peer, req: ZdsRequest): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (peer.conn.isClosed) {
        reject(peer.conn.closeReason!);
        return;
      }
      peer.queue.push({ req, resolve, reject });
      void this.pump(peer);
    });
  }

  private async pump(peer: Peer): Promise<void> {
    if (peer.busy) return;
    peer.busy = true;
    try {
      for (let job = peer.queue.shift(); job; job = peer.queue.shift()) {
        if (peer.conn.isClosed) {
          job.reject(peer.conn.closeReason!);
          continue;
        }
        const payload = encodeRequest(job.req);
        if (payload.byteLength > this.maxFrameBytes) {
          job.reject(new ZdsError('INVALID', `ZDS ${describeRequest(job.req)} needs ${payload.byteLength} bytes, more than the ${this.maxFrameBytes}-byte frame limit`));
          continue;
        }
        try {
          peer.conn.send(payload);
          const error = decodeAck(await peer.conn.read(this.ackTimeoutMs, `Ack for ${describeRequest(job.req)}`));
          if (error === '') job.resolve();
          else job.reject(new ZdsError('NACK', `ztunnel refused ${describeRequest(job.req)}: ${error}`));
        } catch (e) {
          // No Ack in time or an unreadable one: lock-step is lost, so this connection is done.
          peer.conn.close(e as Error);
          job.reject(e as Error);
        }
      }
    } finally {
      peer.busy = false;
    }
  }

  private dropPeer(peer: Peer, err: Error): void {
    const i = this.peers.indexOf(peer);
    if (i < 0) return;
    this.peers.splice(i, 1);
    for (const job of peer.queue.splice(0)) job.reject(err);
    const orderly = err instanceof ZdsError && err.code === 'CLOSED';
    if (orderly) this.log.info({ conn: peer.id, reason: err.message }, 'ZDS: ztunnel disconnected');
    else this.log.warn({ conn: peer.id, reason: err.message }, 'ZDS: closing ztunnel connection');
    this.emit('disconnect', peer.id, err);
  }
}
