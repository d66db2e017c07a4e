// One DeltaAggregatedResources stream on the server: subscriptions, nonces, ACK/NACK and the
// rule that at most one response per type is un-ACKed at a time.
import * as grpc from '@grpc/grpc-js';
import type { Node } from '../proto/gen/envoy/config/core/v3/base_pb.js';
import type { DeltaDiscoveryRequest } from '../proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import type { Logger } from '../telemetry/log.js';
import { mergeChanges, type ChangeSet } from './debounce.js';
import { encodeDeltaResponse, resourceChunk, type FullSnapshot } from './encode.js';
import { changeSubscription, commitDelta, computeDelta, openSubscription, type Subscription } from './delta.js';
import type { ResourceSource } from './types.js';

export interface StreamInfo {
  readonly id: number;
  readonly peer: string;
  readonly connectedAt: number;
  /** From the first request that carried one. */
  node: Node | undefined;
}

export interface PushInfo {
  typeUrl: string;
  nonce: string;
  upserts: number;
  removals: number;
  /** The names in the response (the arrays are shared: do not modify). */
  upserted: readonly string[];
  removed: readonly string[];
  /** The first response for this type on this stream. */
  initial: boolean;
  /** Time from the first change that this push carries to the push (undefined for initial responses). */
  sinceChangeMs: number | undefined;
}

export interface AckInfo {
  typeUrl: string;
  nonce: string;
  /** Time from sending the response to receiving its ACK/NACK. */
  latencyMs: number;
}

export interface NackInfo extends AckInfo {
  message: string;
  /** Names of the resources (upserted and removed) in the rejected response. */
  names: readonly string[];
}

/** Hooks for metrics (wired to prom-client by the control plane). All optional, all synchronous. */
export interface XdsServerEvents {
  streamOpened?(s: StreamInfo): void;
  streamClosed?(s: StreamInfo): void;
  pushed?(s: StreamInfo, p: PushInfo): void;
  acked?(s: StreamInfo, a: AckInfo): void;
  nacked?(s: StreamInfo, n: NackInfo): void;
}

/** Sees the node of a stream's first request; a string refuses the stream (PERMISSION_DENIED) with that reason. */
export type NodeVet = (node: Node | undefined) => string | undefined;

export interface StreamContext {
  sourceFor(typeUrl: string): ResourceSource | undefined;
  systemVersion(typeUrl: string): string;
  /**
   * Every resource of a type, encoded once per generation. It may lag the source until the pending
   * flush, which then brings the stream up to date: its sent versions match what it was sent.
   */
  fullSnapshot(typeUrl: string): FullSnapshot;
  closed(stream: DeltaStream): void;
  logger: Logger;
  events: XdsServerEvents;
  controlPlaneId: string | undefined;
}

export interface TypeSummary {
  typeUrl: string;
  wildcard: boolean;
  subscribedNames: number;
  resources: number;
  inflightNonce: string | undefined;
  lastAckAt: number | undefined;
  lastNack: string | undefined;
  /** SYNCED: the last response was ACKed; STALE: one is sent and not answered yet; NACKED: the client rejected the last one it answered. */
  state: SyncState;
  /** system_version_info of the last response sent, ACKed and NACKed on this stream. */
  sentVersion: string | undefined;
  ackedVersion: string | undefined;
  nackedVersion: string | undefined;
  acks: number;
  nacks: number;
}

export type SyncState = 'SYNCED' | 'STALE' | 'NACKED';

/** The sync state of one type on one stream, from what was last sent and answered. */
export function syncState(inflight: boolean, lastAnswer: 'ack' | 'nack' | undefined): SyncState {
  if (inflight) return 'STALE';
  return lastAnswer === 'nack' ? 'NACKED' : 'SYNCED';
}

interface TypeState {
  typeUrl: string;
  source: ResourceSource;
  sub: Subscription;
  forced: Set<string>;
  pending: ChangeSet | undefined;
  changedAt: number | undefined;
  inflight: { nonce: string; sentAt: number; names: string[]; version: string } | undefined;
  lastAckAt: number | undefined;
  lastNack: string | undefined;
  lastAnswer: 'ack' | 'nack' | undefined;
  sentVersion: string | undefined;
  ackedVersion: string | undefined;
  nackedVersion: string | undefined;
  acks: number;
  nacks: number;
}

/** Responses are written as pre-encoded DeltaDiscoveryResponse bytes (see encode.ts). */
export type DeltaCall = grpc.ServerDuplexStream<DeltaDiscoveryRequest, Uint8Array>;

const MAX_LOGGED_NAMES = 50;

export class DeltaStream {
  readonly info: StreamInfo;
  readonly #types = new Map<string, TypeState>();
  readonly #unknownTypes = new Set<string>();
  #nonce = 0;
  #closed = false;
  #vetted = false;

  constructor(
    private readonly call: DeltaCall,
    id: number,
    private readonly ctx: StreamContext,
    private readonly vetNode?: NodeVet,
  ) {
    this.info = { id, peer: call.getPeer(), connectedAt: Date.now(), node: undefined };
    call.on('data', (req: DeltaDiscoveryRequest) => this.#onRequest(req));
    call.on('end', () => this.#finish());
    call.on('error', (err: Error) => {
      ctx.logger.debug({ stream: id, err: err.message }, 'xDS stream error');
      this.#finish();
    });
    call.on('cancelled', () => this.#finish());
    call.on('close', () => this.#finish());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A source changed (after debounce): push now, or after the in-flight response is answered. */
  sourceChanged(typeUrl: string, changes: ChangeSet, firstChangeAt: number): void {
    const st = this.#types.get(typeUrl);
    if (!st || this.#closed) return;
    st.pending = mergeChanges(st.pending, changes);
    st.changedAt ??= firstChangeAt;
    if (!st.inflight) this.#push(st, false);
  }

  /** Ends the stream with UNAVAILABLE so that the client reconnects (to another replica). */
  close(reason: string): void {
    if (this.#closed) return;
    this.call.emit('error', { code: grpc.status.UNAVAILABLE, details: reason });
    this.#finish();
  }

  summary(): TypeSummary[] {
    return [...this.#types.values()].map((st) => ({
      typeUrl: st.typeUrl,
      wildcard: st.sub.wildcard,
      subscribedNames: st.sub.names.size,
      resources: st.sub.sent.size,
      inflightNonce: st.inflight?.nonce,
      lastAckAt: st.lastAckAt,
      lastNack: st.lastNack,
      state: syncState(st.inflight !== undefined, st.lastAnswer),
      sentVersion: st.sentVersion,
      ackedVersion: st.ackedVersion,
      nackedVersion: st.nackedVersion,
      acks: st.acks,
      nacks: st.nacks,
    }));
  }

  #onRequest(req: DeltaDiscoveryRequest): void {
    if (this.#closed) return;
    if (req.node && !this.info.node) this.info.node = req.node;
    if (!this.#vetted) {
      // The first request names the node; nothing is served before it is vetted.
      this.#vetted = true;
      const refusal = this.vetNode?.(req.node);
      if (refusal !== undefined) {
        this.ctx.logger.warn({ stream: this.info.id, node: req.node?.id ?? '', peer: this.info.peer, reason: refusal }, 'xDS stream refused: node not allowed');
        this.call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: refusal });
        this.#finish();
        return;
      }
    }
    if (req.typeUrl === '') {
      this.ctx.logger.warn({ stream: this.info.id, node: this.info.node?.id }, 'xDS request without type_url; closing the stream');
      this.call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'DeltaDiscoveryRequest.type_url is empty; ADS needs the type URL on every request' });
      this.#finish();
      return;
    }
    const st = this.#types.get(req.typeUrl);
    if (!st) {
      this.#open(req);
      return;
    }
    if (req.responseNonce !== '') this.#answer(st, req);
    for (const n of changeSubscription(st.sub, req.resourceNamesSubscribe, req.resourceNamesUnsubscribe)) st.forced.add(n);
    if (!st.inflight) this.#push(st, false);
  }

  #open(req: DeltaDiscoveryRequest): void {
    const source = this.ctx.sourceFor(req.typeUrl);
    if (!source) {
      if (!this.#unknownTypes.has(req.typeUrl)) {
        this.#unknownTypes.add(req.typeUrl);
        this.ctx.logger.warn({ stream: this.info.id, node: this.info.node?.id, typeUrl: req.typeUrl }, 'xDS client asked for a type this server does not serve; ignoring it');
      }
      return;
    }
    const { sub, forced } = openSubscription(req.resourceNamesSubscribe, req.resourceNamesUnsubscribe, req.initialResourceVersions);
    const st: TypeState = {
      typeUrl: req.typeUrl, source, sub, forced, pending: 'all', changedAt: undefined,
      inflight: undefined, lastAckAt: undefined, lastNack: undefined,
      lastAnswer: undefined, sentVersion: undefined, ackedVersion: undefined, nackedVersion: undefined, acks: 0, nacks: 0,
    };
    this.#types.set(req.typeUrl, st);
    this.#push(st, true);
  }

  #answer(st: TypeState, req: DeltaDiscoveryRequest): void {
    const inflight = st.inflight;
    if (!inflight || inflight.nonce !== req.responseNonce) {
      this.ctx.logger.debug({ stream: this.info.id, typeUrl: st.typeUrl, nonce: req.responseNonce }, 'xDS ACK/NACK for a stale nonce; ignored');
      return;
    }
    st.inflight = undefined;
    const now = Date.now();
    const base = { typeUrl: st.typeUrl, nonce: inflight.nonce, latencyMs: now - inflight.sentAt };
    if (req.errorDetail) {
      // Like istiod, the server keeps believing the client holds what was sent: the client keeps
      // its last good state, and the next change of those resources is sent as usual.
      const message = req.errorDetail.message;
      st.lastNack = message;
      st.lastAnswer = 'nack';
      st.nackedVersion = inflight.version;
      st.nacks++;
      this.ctx.logger.warn({
        stream: this.info.id, node: this.info.node?.id, typeUrl: st.typeUrl, nonce: inflight.nonce,
        resources: inflight.names.slice(0, MAX_LOGGED_NAMES), resourceCount: inflight.names.length, error: message,
      }, 'xDS client rejected a response (NACK)');
      this.ctx.events.nacked?.(this.info, { ...base, message, names: inflight.names });
    } else {
      st.lastAckAt = now;
      st.lastAnswer = 'ack';
      st.ackedVersion = inflight.version;
      st.acks++;
      this.ctx.events.acked?.(this.info, base);
    }
  }

  #push(st: TypeState, initial: boolean): void {
    if (st.pending === undefined && st.forced.size === 0) return;
    const fresh = st.sub.wildcard && st.sub.names.size === 0 && st.sub.sent.size === 0 && st.forced.size === 0;
    if (initial && st.pending === 'all' && fresh) {
      this.#pushFull(st);
      return;
    }
    const delta = computeDelta(st.sub, st.source.snapshot(), st.pending ?? new Set(), st.forced);
    const changedAt = st.changedAt;
    st.pending = undefined;
    st.forced = new Set();
    st.changedAt = undefined;
    // The first response is sent even when empty: clients are not ready before they have one per type.
    if (!initial && delta.upserts.length === 0 && delta.removals.length === 0) return;
    commitDelta(st.sub, delta);
    const nonce = `${this.info.id}.${++this.#nonce}`;
    const version = this.ctx.systemVersion(st.typeUrl);
    const response = encodeDeltaResponse(
      {
        typeUrl: st.typeUrl, nonce, systemVersionInfo: version,
        removedResources: delta.removals, controlPlaneId: this.ctx.controlPlaneId,
      },
      delta.upserts.map(([name, r]) => resourceChunk(st.typeUrl, name, r)),
    );
    const now = Date.now();
    const upserted = delta.upserts.map(([n]) => n);
    st.inflight = { nonce, sentAt: now, names: [...upserted, ...delta.removals], version };
    st.sentVersion = version;
    this.call.write(response);
    this.ctx.events.pushed?.(this.info, {
      typeUrl: st.typeUrl, nonce, upserts: upserted.length, removals: delta.removals.length,
      upserted, removed: delta.removals, initial, sinceChangeMs: changedAt === undefined ? undefined : now - changedAt,
    });
  }

  /** A wildcard client with nothing yet gets the whole snapshot, encoded once for all such clients. */
  #pushFull(st: TypeState): void {
    const full = this.ctx.fullSnapshot(st.typeUrl);
    st.pending = undefined;
    st.changedAt = undefined;
    st.sub.sent = new Map(full.versions);
    const nonce = `${this.info.id}.${++this.#nonce}`;
    const version = this.ctx.systemVersion(st.typeUrl);
    const response = encodeDeltaResponse(
      { typeUrl: st.typeUrl, nonce, systemVersionInfo: version, removedResources: [], controlPlaneId: this.ctx.controlPlaneId },
      [full.body],
    );
    st.inflight = { nonce, sentAt: Date.now(), names: full.names, version };
    st.sentVersion = version;
    this.call.write(response);
    this.ctx.events.pushed?.(this.info, {
      typeUrl: st.typeUrl, nonce, upserts: full.names.length, removals: 0, upserted: full.names, removed: [], initial: true, sinceChangeMs: undefined,
    });
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.call.writableEnded && !this.call.destroyed) this.call.end();
    this.ctx.closed(this);
  }
}
