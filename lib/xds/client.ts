// The client half of delta ADS (what ztunnel and waypoints run): wildcard or explicit
// subscriptions, ACK/NACK per response, reconnect with backoff and initial_resource_versions.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { NodeSchema, type Node } from '../proto/gen/envoy/config/core/v3/base_pb.js';
import {
  AggregatedDiscoveryService,
  DeltaDiscoveryRequestSchema,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
} from '../proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import { createGrpcClient, type ClientOf } from '../proto/grpc.js';
import { silentLogger, type Logger } from '../telemetry/log.js';
import { DEFAULT_BACKOFF, scheduleRetry, validateBackoff } from './backoff.js';
import type { DeltaHandler } from './cache.js';
import { realClock, type Clock, type TimerHandle } from '../sys/clock.js';
import { WILDCARD } from './delta.js';
import { XDS_MAX_MESSAGE_BYTES, type BackoffOptions } from './types.js';

export interface XdsTypeConfig {
  typeUrl: string;
  handler: DeltaHandler;
  /** Explicit resource names; omitted means wildcard (every resource of the type). */
  names?: readonly string[];
}

export interface XdsClientOptions {
  /** host:port of the control plane. */
  address: string;
  /** TLS in production (grpc.credentials.createSsl / createFromSecureContext). */
  credentials: grpc.ChannelCredentials;
  node: MessageInitShape<typeof NodeSchema>;
  types: readonly XdsTypeConfig[];
  channelOptions?: grpc.ChannelOptions;
  /** Metadata for each new stream, e.g. a bearer token read fresh from disk. */
  metadata?: () => grpc.Metadata | Promise<grpc.Metadata>;
  backoff?: Partial<BackoffOptions>;
  /** Times the reconnect back-off; tests pass a ManualClock to step through it. */
  clock?: Clock;
  logger?: Logger;
}

export type XdsClientState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

export interface XdsClientEventMap {
  state: [state: XdsClientState, detail: string | undefined];
  ack: [typeUrl: string, nonce: string];
  nack: [typeUrl: string, nonce: string, message: string];
  synced: [];
}

interface TypeState {
  config: XdsTypeConfig;
  wildcard: boolean;
  names: Set<string>;
  /** Versions of what the handler accepted: the truth sent as initial_resource_versions. */
  known: Map<string, string>;
  synced: boolean;
}

type Call = grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

const INVALID_ARGUMENT = 3;

export class XdsClient extends EventEmitter<XdsClientEventMap> {
  /** Resolves once a response of every type was accepted; rejects if the client is closed first. */
  readonly synced: Promise<void>;
  readonly #opts: XdsClientOptions;
  readonly #backoff: BackoffOptions;
  readonly #log: Logger;
  readonly #node: Node;
  readonly #types = new Map<string, TypeState>();
  #grpc: ClientOf<typeof AggregatedDiscoveryService> | undefined;
  #call: Call | undefined;
  #queue: Promise<void> = Promise.resolve();
  #state: XdsClientState = 'idle';
  #attempt = 0;
  #gotResponse = false;
  #timer: TimerHandle | undefined;
  #resolveSynced!: () => void;
  #rejectSynced!: (err: Error) => void;

  constructor(opts: XdsClientOptions) {
    super();
    if (opts.types.length === 0) throw new Error('XdsClient: options.types is empty; subscribe to at least one type URL');
    this.#opts = opts;
    this.#backoff = validateBackoff({ ...DEFAULT_BACKOFF, ...opts.backoff });
    this.#log = opts.logger ?? silentLogger();
    this.#node = create(NodeSchema, opts.node);
    for (const t of opts.types) {
      if (this.#types.has(t.typeUrl)) throw new Error(`XdsClient: type URL ${t.typeUrl} is configured twice`);
      this.#types.set(t.typeUrl, { config: t, wildcard: t.names === undefined, names: new Set(t.names ?? []), known: new Map(), synced: false });
    }
    this.synced = new Promise<void>((resolve, reject) => {
      this.#resolveSynced = resolve;
      this.#rejectSynced = reject;
    });
    // Nobody has to await `synced`; an unobserved rejection must not crash the process.
    this.synced.catch(() => undefined);
  }

  get state(): XdsClientState {
    return this.#state;
  }

  start(): void {
    if (this.#grpc || this.#state === 'closed') return;
    this.#grpc = createGrpcClient(AggregatedDiscoveryService, this.#opts.address, this.#opts.credentials, {
      'grpc.max_receive_message_length': XDS_MAX_MESSAGE_BYTES,
      ...this.#opts.channelOptions,
    });
    void this.#connect();
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#timer?.cancel();
    const call = this.#call;
    this.#call = undefined;
    call?.cancel();
    this.#grpc?.$client.close();
    this.#setState('closed', undefined);
    this.#rejectSynced(new Error('xDS client closed before every type was synced'));
  }

  /** Versions of the accepted resources of a type. */
  versions(typeUrl: string): ReadonlyMap<string, string> {
    return this.#types.get(typeUrl)?.known ?? new Map();
  }

  /** Adds explicit subscriptions (on-demand lookups). */
  subscribe(typeUrl: string, names: readonly string[]): void {
    const t = this.#typeState(typeUrl);
    for (const n of names) t.names.add(n);
    this.#call?.write(create(DeltaDiscoveryRequestSchema, { typeUrl, resourceNamesSubscribe: [...names] }));
  }

  unsubscribe(typeUrl: string, names: readonly string[]): void {
    const t = this.#typeState(typeUrl);
    for (const n of names) {
      t.names.delete(n);
      if (!t.wildcard) t.known.delete(n);
    }
    this.#call?.write(create(DeltaDiscoveryRequestSchema, { typeUrl, resourceNamesUnsubscribe: [...names] }));
  }

  #typeState(typeUrl: string): TypeState {
    const t = this.#types.get(typeUrl);
    if (!t) throw new Error(`XdsClient: type URL ${typeUrl} is not configured`);
    return t;
  }

  async #connect(): Promise<void> {
    this.#setState('connecting', undefined);
    let metadata: grpc.Metadata | undefined;
    try {
      // Responses of the previous stream may still be applying; their versions belong in the hello.
      await this.#queue;
      metadata = await this.#opts.metadata?.();
    } catch (err) {
      this.#retry(`cannot build call metadata: ${(err as Error).message}`);
      return;
    }
    if (this.#state === 'closed' || !this.#grpc) return;
    const call = this.#grpc.deltaAggregatedResources(metadata);
    this.#call = call;
    this.#gotResponse = false;
    call.on('data', (resp: DeltaDiscoveryResponse) => {
      this.#queue = this.#queue.then(() => this.#onResponse(call, resp));
    });
    call.on('error', (err: grpc.ServiceError) => this.#onEnd(call, `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`));
    call.on('end', () => this.#onEnd(call, 'the server ended the stream'));
    let first = true;
    for (const [typeUrl, t] of this.#types) {
      call.write(create(DeltaDiscoveryRequestSchema, {
        ...(first ? { node: this.#node } : {}),
        typeUrl,
        ...initialSubscription(t),
        initialResourceVersions: Object.fromEntries(t.known),
      }));
      first = false;
    }
  }

  async #onResponse(call: Call, resp: DeltaDiscoveryResponse): Promise<void> {
    if (call !== this.#call) return;
    if (!this.#gotResponse) {
      this.#gotResponse = true;
      this.#setState('connected', undefined);
    }
    const t = this.#types.get(resp.typeUrl);
    let error: string | undefined;
    if (!t) {
      error = `received type ${resp.typeUrl}, which this client did not subscribe to`;
    } else {
      try {
        for (const r of resp.resources) {
          if (r.resource && r.resource.typeUrl !== resp.typeUrl) throw new Error(`resource "${r.name}" is a ${r.resource.typeUrl} in a response for ${resp.typeUrl}`);
        }
        await t.config.handler(resp.resources, resp.removedResources);
        for (const r of resp.resources) t.known.set(r.name, r.version);
        for (const n of resp.removedResources) t.known.delete(n);
      } catch (err) {
        error = (err as Error).message || String(err);
      }
    }
    if (call !== this.#call) return;
    if (error === undefined) {
      call.write(create(DeltaDiscoveryRequestSchema, { typeUrl: resp.typeUrl, responseNonce: resp.nonce }));
      this.emit('ack', resp.typeUrl, resp.nonce);
      if (t && !t.synced) this.#markSynced(t);
    } else {
      this.#log.warn({ typeUrl: resp.typeUrl, nonce: resp.nonce, error }, 'rejected an xDS response (NACK); keeping the last good state');
      call.write(create(DeltaDiscoveryRequestSchema, {
        typeUrl: resp.typeUrl, responseNonce: resp.nonce, errorDetail: { code: INVALID_ARGUMENT, message: error },
      }));
      this.emit('nack', resp.typeUrl, resp.nonce, error);
    }
  }

  #markSynced(t: TypeState): void {
    t.synced = true;
    if ([...this.#types.values()].every((x) => x.synced)) {
      this.#log.info({ address: this.#opts.address }, 'xDS synced: every type received');
      this.#resolveSynced();
      this.emit('synced');
    }
  }

  #onEnd(call: Call, reason: string): void {
    if (call !== this.#call) return;
    this.#call = undefined;
    if (this.#gotResponse) this.#attempt = 0;
    this.#retry(reason);
  }

  #retry(reason: string): void {
    if (this.#state === 'closed') return;
    const { delayMs: delay, timer } = scheduleRetry(this.#backoff, this.#attempt++, () => {
      this.#timer = undefined;
      void this.#connect();
    }, this.#opts.clock ?? realClock);
    this.#timer = timer;
    this.#log.warn({ address: this.#opts.address, reason, retryInMs: delay }, `xDS stream to ${this.#opts.address} lost (${reason}); is the control plane running and reachable?`);
    this.#setState('backoff', reason);
  }

  #setState(state: XdsClientState, detail: string | undefined): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('state', state, detail);
  }
}

/** First request of a type: empty = wildcard; "*" subscribed and unsubscribed = nothing yet (on demand). */
function initialSubscription(t: TypeState): { resourceNamesSubscribe: string[]; resourceNamesUnsubscribe: string[] } {
  const names = [...t.names];
  if (t.wildcard) return { resourceNamesSubscribe: names.length ? [WILDCARD, ...names] : [], resourceNamesUnsubscribe: [] };
  return names.length ? { resourceNamesSubscribe: names, resourceNamesUnsubscribe: [] } : { resourceNamesSubscribe: [WILDCARD], resourceNamesUnsubscribe: [WILDCARD] };
}
