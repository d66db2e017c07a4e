// An in-memory ClusterStore for benchmarks and unit tests: API-server semantics (resource
// versions, merge patch, watch with an initial list) without disk, so a benchmark measures the
// control plane, not the File back end. Objects handed out are shared: callers must not mutate them.
import { kindInfo, resourceName } from './kinds.js';
import { matchesFields, mergePatch } from './objects.js';
import { StoreError, type ClusterStore, type Kind, type KubeObject, type ListOptions, type MergePatch, type ObjectKey, type Watch, type WatchEvent, type WatchOptions } from './types.js';

interface Watcher {
  resource: string;
  namespace: string | undefined;
  onEvent: (ev: WatchEvent) => void;
  closed: boolean;
}

function matches(labels: Record<string, string> | undefined, selector: Record<string, string> | undefined): boolean {
  return !selector || Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

export class MemoryStore implements ClusterStore {
  private readonly objects = new Map<string, KubeObject>();
  private readonly watchers = new Set<Watcher>();
  private rv = 0;

  private keyOf(k: Kind & { namespace?: string | undefined; name: string }): string {
    const info = kindInfo(k);
    return `${resourceName(info)}/${info.namespaced ? (k.namespace ?? 'default') : ''}/${k.name}`;
  }

  private commit(type: WatchEvent['type'], obj: KubeObject): KubeObject {
    const resource = resourceName(kindInfo(obj));
    const key = this.keyOf({ ...obj, namespace: obj.metadata.namespace, name: obj.metadata.name });
    if (type === 'DELETED') this.objects.delete(key);
    else {
      obj.metadata = { ...obj.metadata, resourceVersion: String(++this.rv) };
      this.objects.set(key, obj);
    }
    for (const w of this.watchers) {
      if (w.closed || w.resource !== resource || (w.namespace !== undefined && w.namespace !== obj.metadata.namespace)) continue;
      // Delivered after the write returns, as a real store's watch would.
      queueMicrotask(() => !w.closed && w.onEvent({ type, object: obj }));
    }
    return obj;
  }

  /** Adds many objects at once without events (before anything watches): benchmark setup. */
  load(objs: Iterable<KubeObject>): void {
    for (const o of objs) {
      const c = structuredClone(o);
      c.metadata.resourceVersion = String(++this.rv);
      if (kindInfo(c).namespaced) c.metadata.namespace ??= 'default';
      this.objects.set(this.keyOf({ ...c, namespace: c.metadata.namespace, name: c.metadata.name }), c);
    }
  }

  async list<T extends KubeObject = KubeObject>(kind: Kind, opts: ListOptions = {}): Promise<T[]> {
    const resource = resourceName(kindInfo(kind));
    const out: T[] = [];
    for (const o of this.objects.values()) {
      if (resourceName(kindInfo(o)) !== resource) continue;
      if (opts.namespace !== undefined && o.metadata.namespace !== opts.namespace) continue;
      if (matches(o.metadata.labels, opts.labelSelector) && matchesFields(o, opts.fieldSelector)) out.push(o as T);
    }
    return out;
  }

  async get<T extends KubeObject = KubeObject>(key: ObjectKey): Promise<T | undefined> {
    return this.objects.get(this.keyOf(key)) as T | undefined;
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    const c = structuredClone(obj);
    if (kindInfo(c).namespaced) c.metadata.namespace ??= 'default';
    if (this.objects.has(this.keyOf({ ...c, namespace: c.metadata.namespace, name: c.metadata.name }))) throw new StoreError('AlreadyExists', `${c.kind} ${c.metadata.name} already exists`);
    return this.commit('ADDED', c) as T;
  }

  async apply<T extends KubeObject>(obj: T): Promise<T> {
    const c = structuredClone(obj);
    if (kindInfo(c).namespaced) c.metadata.namespace ??= 'default';
    const exists = this.objects.has(this.keyOf({ ...c, namespace: c.metadata.namespace, name: c.metadata.name }));
    return this.commit(exists ? 'MODIFIED' : 'ADDED', c) as T;
  }

  async patch<T extends KubeObject = KubeObject>(key: ObjectKey, patch: MergePatch, opts: { resourceVersion?: string } = {}): Promise<T> {
    const cur = this.objects.get(this.keyOf(key));
    if (!cur) throw new StoreError('NotFound', `${key.kind} ${key.namespace ?? ''}/${key.name} not found`);
    if (opts.resourceVersion !== undefined && opts.resourceVersion !== cur.metadata.resourceVersion) {
      throw new StoreError('Conflict', `${key.kind} ${key.name} is at resourceVersion ${cur.metadata.resourceVersion}, not ${opts.resourceVersion}`);
    }
    return this.commit('MODIFIED', mergePatch(cur, patch) as KubeObject) as T;
  }

  async delete<T extends KubeObject = KubeObject>(key: ObjectKey): Promise<T | undefined> {
    const cur = this.objects.get(this.keyOf(key));
    if (cur) this.commit('DELETED', cur);
    return cur as T | undefined;
  }

  watch<T extends KubeObject = KubeObject>(kind: Kind, opts: WatchOptions, onEvent: (ev: WatchEvent<T>) => void): Watch {
    const info = kindInfo(kind);
    const w: Watcher = { resource: resourceName(info), namespace: info.namespaced ? opts.namespace : undefined, onEvent: onEvent as (ev: WatchEvent) => void, closed: false };
    const initial = [...this.objects.values()].filter((o) => resourceName(kindInfo(o)) === w.resource && (w.namespace === undefined || o.metadata.namespace === w.namespace));
    this.watchers.add(w);
    queueMicrotask(() => {
      for (const o of initial) if (!w.closed) w.onEvent({ type: 'ADDED', object: o });
    });
    return { close: () => { w.closed = true; this.watchers.delete(w); } };
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.closed = true;
    this.watchers.clear();
  }
}
