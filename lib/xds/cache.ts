import { fromBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import type { Resource } from '../proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import type { Logger } from '../telemetry/log.js';

/** Handles one delta response of a type; throwing rejects it (NACK) and must leave state unchanged. */
export type DeltaHandler = (upserts: readonly Resource[], removals: readonly string[]) => void | Promise<void>;

export interface CacheChange {
  upserted: readonly string[];
  removed: readonly string[];
}

export interface ResourceCacheOptions<T> {
  /** Checks the whole state a response would produce (cross-resource rules); throw to reject it. */
  validate?: (next: ReadonlyMap<string, T>) => void;
  /** Where a throwing change listener is reported. */
  logger?: Logger;
}

/** A decoder for resources of one generated message type; errors name the resource. */
export function messageDecoder<D extends DescMessage>(schema: D): (r: Resource) => MessageShape<D> {
  const typeUrl = `type.googleapis.com/${schema.typeName}`;
  return (r) => {
    if (!r.resource) throw new Error(`resource "${r.name}" has no body`);
    if (r.resource.typeUrl !== typeUrl) throw new Error(`resource "${r.name}" is a ${r.resource.typeUrl}, expected ${typeUrl}`);
    try {
      return fromBinary(schema, r.resource.value);
    } catch (err) {
      throw new Error(`resource "${r.name}" is not a valid ${schema.typeName}: ${(err as Error).message}`, { cause: err });
    }
  };
}

/**
 * The client-side store of one resource type with all-or-nothing updates: a response is decoded
 * (and validated) completely before anything changes, so a bad response is NACKed and the last
 * good state stays in force.
 */
export class ResourceCache<T> {
  #items = new Map<string, { value: T; version: string }>();
  readonly #listeners = new Set<(change: CacheChange) => void>();
  /** Pass this as the type's handler to XdsClient. */
  readonly handler: DeltaHandler = (upserts, removals) => this.apply(upserts, removals);

  constructor(
    private readonly decode: (r: Resource) => T,
    private readonly opts: ResourceCacheOptions<T> = {},
  ) {}

  apply(upserts: readonly Resource[], removals: readonly string[]): void {
    const decoded = upserts.map((r) => {
      if (r.name === '') throw new Error('resource without a name');
      return [r.name, { value: this.decode(r), version: r.version }] as const;
    });
    const removed = removals.filter((n) => this.#items.has(n));
    if (this.opts.validate) {
      const next = new Map(this.#items);
      for (const [name, item] of decoded) next.set(name, item);
      for (const n of removed) next.delete(n);
      this.opts.validate(new Map([...next].map(([k, v]) => [k, v.value])));
      this.#items = next;
    } else {
      for (const [name, item] of decoded) this.#items.set(name, item);
      for (const n of removed) this.#items.delete(n);
    }
    const change = { upserted: decoded.map(([n]) => n), removed };
    // A listener's failure is not the response's fault: the state is already committed.
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch (err) {
        this.opts.logger?.error({ err: (err as Error).message }, 'resource cache change listener failed');
      }
    }
  }

  /** Called after every committed change. Returns a function that unregisters. */
  onChange(listener: (change: CacheChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get(name: string): T | undefined {
    return this.#items.get(name)?.value;
  }

  version(name: string): string | undefined {
    return this.#items.get(name)?.version;
  }

  has(name: string): boolean {
    return this.#items.has(name);
  }

  get size(): number {
    return this.#items.size;
  }

  *entries(): IterableIterator<[string, T]> {
    for (const [k, v] of this.#items) yield [k, v.value];
  }
}
