// The server half of delta ADS: serves whatever ResourceSources the caller registers, one per type
// URL, to any number of streams. It knows nothing of Kubernetes or of the mesh model.
import * as grpc from '@grpc/grpc-js';
import { AggregatedDiscoveryService, type DeltaDiscoveryRequest } from '../proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import { makeGrpcService } from '../proto/grpc.js';
import { silentLogger, type Logger } from '../telemetry/log.js';
import { DEFAULT_DEBOUNCE, Debouncer, type ChangeSet } from './debounce.js';
import { encodeFullSnapshot, type FullSnapshot } from './encode.js';
import { DeltaStream, type DeltaCall, type NodeVet, type StreamContext, type TypeSummary, type XdsServerEvents } from './server-stream.js';
import type { DebounceOptions, ResourceSource } from './types.js';

export type { AckInfo, NackInfo, NodeVet, PushInfo, StreamInfo, SyncState, TypeSummary, XdsServerEvents } from './server-stream.js';

export interface XdsServerOptions {
  /** One source per type URL. */
  sources: ReadonlyMap<string, ResourceSource> | Readonly<Record<string, ResourceSource>>;
  /** Default 100 ms quiet / 1 s max. */
  debounce?: Partial<DebounceOptions>;
  logger?: Logger;
  events?: XdsServerEvents;
  /** Sent as control_plane.identifier, e.g. the pod name. */
  controlPlaneId?: string;
}

export interface StreamSummary {
  id: number;
  peer: string;
  nodeId: string | undefined;
  /** The node's cluster (Node.cluster) and proxy version (metadata ISTIO_VERSION), when it sent them. */
  cluster: string | undefined;
  version: string | undefined;
  /** This server's control_plane.identifier, as its responses carry it. */
  controlPlane: string | undefined;
  connectedAt: number;
  types: TypeSummary[];
}

interface TypeEntry {
  source: ResourceSource;
  debouncer: Debouncer;
  generation: number;
  unsubscribe: () => void;
  /** The whole snapshot encoded, for streams that start from nothing; rebuilt per generation. */
  full?: { generation: number; snapshot: FullSnapshot };
}

export class XdsServer {
  readonly #types = new Map<string, TypeEntry>();
  readonly #streams = new Set<DeltaStream>();
  readonly #ctx: StreamContext;
  #nextId = 0;
  #closed = false;

  constructor(opts: XdsServerOptions) {
    const debounce = { ...DEFAULT_DEBOUNCE, ...opts.debounce };
    const logger = opts.logger ?? silentLogger();
    const sources: Array<[string, ResourceSource]> = isMap(opts.sources) ? [...opts.sources] : Object.entries(opts.sources);
    for (const [typeUrl, source] of sources) {
      if (!typeUrl.startsWith('type.googleapis.com/')) throw new Error(`XdsServer sources: type URL "${typeUrl}" must start with type.googleapis.com/`);
      const entry: TypeEntry = {
        source,
        generation: 1,
        debouncer: new Debouncer(debounce, (changes, firstAt) => this.#flush(typeUrl, changes, firstAt)),
        unsubscribe: () => undefined,
      };
      entry.unsubscribe = source.onChange((names) => entry.debouncer.add(names));
      this.#types.set(typeUrl, entry);
    }
    this.#ctx = {
      sourceFor: (typeUrl) => this.#types.get(typeUrl)?.source,
      systemVersion: (typeUrl) => String(this.#types.get(typeUrl)?.generation ?? 0),
      fullSnapshot: (typeUrl) => {
        const t = this.#types.get(typeUrl)!;
        if (t.full?.generation !== t.generation) t.full = { generation: t.generation, snapshot: encodeFullSnapshot(typeUrl, t.source.snapshot()) };
        return t.full.snapshot;
      },
      closed: (stream) => {
        if (this.#streams.delete(stream)) {
          logger.info({ stream: stream.info.id, node: stream.info.node?.id, peer: stream.info.peer }, 'xDS client disconnected');
          opts.events?.streamClosed?.(stream.info);
        }
      },
      logger,
      events: opts.events ?? {},
      controlPlaneId: opts.controlPlaneId,
    };
  }

  /**
   * Adds the AggregatedDiscoveryService (delta only; the state-of-the-world method answers
   * UNIMPLEMENTED). `admit`, when given, sees each new stream first (e.g. to authenticate it) and
   * hands it to `handle` when it may proceed.
   */
  register(server: grpc.Server, admit?: (call: DeltaCall) => void): void {
    const def = makeGrpcService(AggregatedDiscoveryService);
    const { responseDeserialize: _unused, ...rest } = def.deltaAggregatedResources;
    const delta: grpc.MethodDefinition<DeltaDiscoveryRequest, Uint8Array> = {
      ...rest,
      // Responses arrive already encoded; only a server uses this definition.
      responseSerialize: (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      responseDeserialize: (b: Buffer) => b,
    };
    server.addService(
      { streamAggregatedResources: def.streamAggregatedResources, deltaAggregatedResources: delta } as grpc.ServiceDefinition,
      { deltaAggregatedResources: (call: DeltaCall) => (admit ? admit(call) : this.handle(call)) } as grpc.UntypedServiceImplementation,
    );
  }

  /**
   * Serves one DeltaAggregatedResources call whose responses are serialized as raw bytes.
   * `vetNode` sees the node of its first request before anything is served.
   */
  handle(call: DeltaCall, vetNode?: NodeVet): void {
    if (this.#closed) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'xDS server is shutting down' });
      return;
    }
    const stream = new DeltaStream(call, ++this.#nextId, this.#ctx, vetNode);
    if (stream.closed) return;
    this.#streams.add(stream);
    this.#ctx.logger.info({ stream: stream.info.id, peer: stream.info.peer }, 'xDS client connected');
    this.#ctx.events.streamOpened?.(stream.info);
  }

  get connectedClients(): number {
    return this.#streams.size;
  }

  streams(): StreamSummary[] {
    return [...this.#streams].map((s) => ({
      id: s.info.id,
      peer: s.info.peer,
      nodeId: s.info.node?.id,
      cluster: s.info.node?.cluster || undefined,
      version: typeof s.info.node?.metadata?.ISTIO_VERSION === 'string' ? s.info.node.metadata.ISTIO_VERSION : undefined,
      controlPlane: this.#ctx.controlPlaneId,
      connectedAt: s.info.connectedAt,
      types: s.summary(),
    }));
  }

  /** Stops watching the sources and ends every stream with UNAVAILABLE so clients move elsewhere. */
  close(reason = 'xDS server is shutting down'): void {
    this.#closed = true;
    for (const t of this.#types.values()) {
      t.unsubscribe();
      t.debouncer.cancel();
    }
    for (const s of [...this.#streams]) s.close(reason);
  }

  #flush(typeUrl: string, changes: ChangeSet, firstAt: number): void {
    const entry = this.#types.get(typeUrl);
    if (!entry) return;
    entry.generation++;
    for (const s of this.#streams) s.sourceChanged(typeUrl, changes, firstAt);
  }
}

function isMap(x: XdsServerOptions['sources']): x is ReadonlyMap<string, ResourceSource> {
  return x instanceof Map;
}
