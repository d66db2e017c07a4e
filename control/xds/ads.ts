// DeltaAggregatedResources behind authentication and admission: a stream starts only once its
// bearer credential (the same one the certificate service accepts) verifies, otherwise it ends
// with UNAUTHENTICATED; and at most `maxConcurrentSyncs` streams receive their initial (full)
// push at a time, so that many clients connecting at once (a control plane restart) do not hold
// a full copy of the model each in memory at once, like istiod's push throttle. Before anything
// is served, the node of the first request must fit the credential (admission.ts), else the
// stream ends with PERMISSION_DENIED.
import * as grpc from '@grpc/grpc-js';
import type { DeltaDiscoveryRequest } from '../../lib/proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import type { Logger } from '../../lib/telemetry/log.js';
import type { StreamInfo, XdsServer, XdsServerEvents } from '../../lib/xds/server.js';
import type { DeltaCall } from '../../lib/xds/server-stream.js';
import { describeCaller, type Authenticator, type Caller } from '../ca/authn.js';
import { isCaError } from '../ca/errors.js';
import { credentialOf } from '../certs/grpc.js';
import { admitStream, stringMetadata, type AdmissionContext } from './admission.js';

export interface AdsOptions {
  authenticator: Authenticator;
  /** What admission needs to know of the cluster (which service accounts are waypoints'). */
  admission: AdmissionContext;
  logger: Logger;
  /** Streams in their initial sync at once (default 8); the others wait their turn. */
  maxConcurrentSyncs?: number;
  /** A stream was refused (metrics). */
  onRefused?: (reason: string) => void;
}

/** A stream in its initial sync: the types it was sent a first response for, and those answered. */
interface Syncing {
  pushed: Set<string>;
  answered: Set<string>;
  timer: NodeJS.Timeout;
}

/** Past this, a stream that never answers its initial push stops holding a sync slot. */
const SYNC_TIMEOUT_MS = 30_000;

export class AdsGate {
  /** Wire these into the XdsServer's events (the gate follows each stream's initial sync). */
  readonly events: XdsServerEvents;
  private readonly callers = new Map<number, Caller>();
  private readonly syncing = new Map<number, Syncing>();
  private readonly waiting: Array<{ call: DeltaCall; caller: Caller }> = [];
  private readonly max: number;
  private opened: StreamInfo | undefined;
  private xds: XdsServer | undefined;

  constructor(private readonly opts: AdsOptions) {
    this.max = Math.max(1, opts.maxConcurrentSyncs ?? 8);
    this.events = {
      // Fired synchronously inside XdsServer.handle(): ties the call we admitted to its stream id.
      streamOpened: (s) => (this.opened = s),
      streamClosed: (s) => {
        this.callers.delete(s.id);
        this.release(s.id);
      },
      pushed: (s, p) => {
        if (p.initial) this.syncing.get(s.id)?.pushed.add(p.typeUrl);
      },
      acked: (s, a) => this.answered(s.id, a.typeUrl),
      nacked: (s, n) => this.answered(s.id, n.typeUrl),
    };
  }

  /** Who is on each stream, by stream id, for /debug/connections. */
  callerOf(streamId: number): Caller | undefined {
    return this.callers.get(streamId);
  }

  get waitingStreams(): number {
    return this.waiting.length;
  }

  register(server: grpc.Server, xds: XdsServer): void {
    this.xds = xds;
    xds.register(server, (call) => this.authenticate(call));
  }


  private authenticate(call: DeltaCall): void {
    const peer = call.getPeer();
    this.opts.authenticator.authenticate(credentialOf(call.metadata), { address: peer }).then(
      (caller) => {
        if (call.cancelled || call.destroyed) return;
        // Until admitted, nothing reads the call: its requests wait in the stream's buffer.
        this.waiting.push({ call, caller });
        this.admit();
      },
      (err: unknown) => {
        const reason = isCaError(err) ? err.message : `authentication failed: ${(err as Error).message}`;
        this.opts.logger.warn({ peer, reason, code: isCaError(err) ? err.code : undefined }, 'xDS stream refused: unauthenticated');
        this.opts.onRefused?.(isCaError(err) ? err.code : 'CREDENTIAL_INVALID');
        call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: `xDS needs a valid credential ("authorization: Bearer <token>"): ${reason}` });
      },
    );
  }

  private admit(): void {
    while (this.syncing.size < this.max && this.waiting.length > 0) {
      const { call, caller } = this.waiting.shift()!;
      if (call.cancelled || call.destroyed) continue;
      const peer = call.getPeer();
      const stream: { id?: number } = {};
      // Registered before the XdsServer's own listener: both see the first request, which names the node.
      call.once('data', (req: DeltaDiscoveryRequest) => {
        this.opts.logger.info({ peer, stream: stream.id, caller: describeCaller(caller), node: req.node?.id ?? '' }, 'xDS client authenticated');
        // The server answers a request at once; a stream that got nothing (types this server does not serve) holds no slot.
        setImmediate(() => stream.id !== undefined && this.syncing.get(stream.id)?.pushed.size === 0 && this.release(stream.id));
      });
      this.opened = undefined;
      this.xds!.handle(call, (node) => {
        const a = admitStream(caller, { id: node?.id ?? '', metadata: stringMetadata(node?.metadata) }, this.opts.admission);
        if (a.admitted) return undefined;
        this.opts.onRefused?.('NODE_NOT_ALLOWED');
        return `${describeCaller(caller)} may not subscribe: ${a.reason}`;
      });
      const s = this.opened as StreamInfo | undefined;
      this.opened = undefined;
      if (!s) continue; // the server refused it (shutting down)
      stream.id = s.id;
      this.callers.set(s.id, caller);
      const timer = setTimeout(() => this.release(s.id), SYNC_TIMEOUT_MS);
      timer.unref();
      this.syncing.set(s.id, { pushed: new Set(), answered: new Set(), timer });
    }
  }

  private answered(id: number, typeUrl: string): void {
    const st = this.syncing.get(id);
    if (!st) return;
    st.answered.add(typeUrl);
    for (const t of st.pushed) if (!st.answered.has(t)) return;
    this.release(id);
  }

  private release(id: number): void {
    const st = this.syncing.get(id);
    if (!st) return;
    clearTimeout(st.timer);
    this.syncing.delete(id);
    this.admit();
  }

  /** Ends the streams still waiting for a sync slot (shutdown). */
  close(): void {
    for (const { call } of this.waiting.splice(0)) call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'control plane is shutting down' });
    for (const st of this.syncing.values()) clearTimeout(st.timer);
    this.syncing.clear();
  }
}
