import { createHash } from 'node:crypto';
import type { Any } from '@bufbuild/protobuf/wkt';
import type { ResourceSource, VersionedResource } from './types.js';

/** A version derived from the content, so equal content gives an equal version on every replica and restart. */
export function contentVersion(resource: Any | Uint8Array): string {
  const h = createHash('sha256');
  if (resource instanceof Uint8Array) {
    h.update(resource);
  } else {
    h.update(resource.typeUrl).update('\0').update(resource.value);
  }
  return h.digest('base64url').slice(0, 16);
}

export interface SourceEntry {
  resource: Any | Uint8Array;
  /** Defaults to `contentVersion(resource)`. */
  version?: string;
  aliases?: readonly string[];
}

/**
 * An in-memory ResourceSource: the model writes resources in, the xDS server reads them out.
 * Writing an unchanged version is a no-op, so callers may simply rewrite everything they computed.
 */
export class MemorySource implements ResourceSource {
  readonly #map = new Map<string, VersionedResource>();
  readonly #listeners = new Set<(names?: readonly string[]) => void>();

  snapshot(): ReadonlyMap<string, VersionedResource> {
    return this.#map;
  }

  onChange(listener: (names?: readonly string[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get size(): number {
    return this.#map.size;
  }

  set(name: string, entry: SourceEntry): void {
    if (this.#put(name, entry)) this.#notify([name]);
  }

  delete(name: string): void {
    if (this.#map.delete(name)) this.#notify([name]);
  }

  /** Applies many upserts and removals with one change notification. */
  update(upserts: Iterable<readonly [string, SourceEntry]>, removals: Iterable<string> = []): void {
    const changed: string[] = [];
    for (const [name, entry] of upserts) if (this.#put(name, entry)) changed.push(name);
    for (const name of removals) if (this.#map.delete(name)) changed.push(name);
    if (changed.length > 0) this.#notify(changed);
  }

  /** Makes the content exactly `entries`: everything else is removed. */
  replaceAll(entries: Iterable<readonly [string, SourceEntry]>): void {
    const list = [...entries];
    const keep = new Set(list.map(([name]) => name));
    this.update(list, [...this.#map.keys()].filter((n) => !keep.has(n)));
  }

  #put(name: string, entry: SourceEntry): boolean {
    if (name === '') throw new Error('MemorySource.set: resource name must not be empty');
    const version = entry.version ?? contentVersion(entry.resource);
    if (this.#map.get(name)?.version === version) return false;
    this.#map.set(name, { version, resource: entry.resource, ...(entry.aliases ? { aliases: entry.aliases } : {}) });
    return true;
  }

  #notify(names: readonly string[]): void {
    for (const l of this.#listeners) l(names);
  }
}
