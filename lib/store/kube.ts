/**
 * The Kubernetes back end: the ClusterStore over an API server, so that the model code runs
 * unchanged against a real cluster. Writes are the API server's: `apply` is server-side apply under
 * one field manager (`ambit` unless told otherwise), `status` goes through the status subresource,
 * owner references and everything else the server keeps pass through as sent. Reads are plain
 * GET/LIST; watches are informers (kube-watch.ts). Paths come from the kind registry, so custom
 * resources are reached the same way as built-in kinds.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { silentLogger, type Logger } from '../telemetry/log.js';
import type { BackoffOptions } from '../xds/types.js';
import { validateBackoff } from '../xds/backoff.js';
import { KubeClient } from './kube-client.js';
import { fieldSelectorText, labelSelectorText, resourcePath } from './kube-paths.js';
import { conflictingManagers, isStatus, KubeStoreError } from './kube-status.js';
import { KubeWatch } from './kube-watch.js';
import { kindInfo, resourceName } from './kinds.js';
import { isPlainObject, objectRef } from './objects.js';
import { StoreError, type ClusterStore, type Kind, type KubeObject, type ListOptions, type MergePatch, type ObjectKey, type WatchEvent, type WatchOptions } from './types.js';

export interface KubeStoreOptions {
  logger?: Logger;
  /** The field manager of every write, which server-side apply records as the fields' owner (default `ambit`). */
  fieldManager?: string;
  /** `apply` takes over fields another manager owns instead of failing with Conflict (default false). */
  forceApply?: boolean;
  /** Retries of failed watch streams and lists (default 250 ms doubling to 10 s, 20 % jitter). */
  backoff?: BackoffOptions;
  /** The server ends each watch stream after about this long and it is renewed (default 300 s). */
  watchStreamSeconds?: number;
  /** Per request (default 30 s). */
  requestTimeoutMs?: number;
  /** Objects per page when listing (default 500). */
  pageSize?: number;
}

export interface ApplyOptions {
  /** Take over fields another field manager owns (server-side apply's `force`). */
  force?: boolean;
}

interface KubeList {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubeObject[];
}

/** Set by the server; sending them back would be a precondition or is refused, so writes leave them out. */
const SERVER_FIELDS = ['uid', 'creationTimestamp', 'generation', 'managedFields', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink'] as const;

export class KubeStore implements ClusterStore {
  readonly client: KubeClient;
  readonly fieldManager: string;
  private readonly log: Logger;
  private readonly watches = new Set<KubeWatch>();
  private readonly backoff: BackoffOptions;
  /** Resources found to have no status subresource; their status is written with the object. */
  private readonly noStatusSubresource = new Set<string>();
  private closed = false;

  /** `config` may still be loading (openStore loads it in the background); calls wait for it. */
  constructor(
    config: KubeConfig | Promise<KubeConfig>,
    private readonly opts: KubeStoreOptions = {},
  ) {
    this.client = new KubeClient(config, opts.requestTimeoutMs !== undefined ? { timeoutMs: opts.requestTimeoutMs } : {});
    this.log = opts.logger ?? silentLogger();
    this.fieldManager = opts.fieldManager ?? 'ambit';
    this.backoff = validateBackoff(opts.backoff ?? { initialMs: 250, maxMs: 10_000, multiplier: 2, jitter: 0.2 });
  }

  private check(): void {
    if (this.closed) throw new Error(`store for ${this.client.server} is closed`);
  }

  async list<T extends KubeObject = KubeObject>(kind: Kind, opts: ListOptions = {}): Promise<T[]> {
    const { items } = await this.listWithVersion(kind, opts);
    return items.sort(byNamespaceAndName) as T[];
  }

  /** Every page of a list, and the resourceVersion they are a consistent snapshot at. */
  async listWithVersion(kind: Kind, opts: ListOptions = {}): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    this.check();
    const path = resourcePath(kind, { namespace: opts.namespace });
    const items: KubeObject[] = [];
    let resourceVersion = '';
    let cont: string | undefined;
    do {
      let page: KubeList;
      try {
        page = await this.client.request<KubeList>({ method: 'GET', path, query: { labelSelector: labelSelectorText(opts.labelSelector), fieldSelector: fieldSelectorText(opts.fieldSelector), limit: this.opts.pageSize ?? 500, continue: cont } });
      } catch (err) {
        throw notServed(err, kind, this.client.server);
      }
      resourceVersion ||= page.metadata?.resourceVersion ?? '';
      for (const o of page.items ?? []) items.push(normalize(o, kind));
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  /** GET of an API path (a kind the store does not model, or a raw answer); undefined when not found. */
  async getPath<T>(apiPath: string): Promise<T | undefined> {
    this.check();
    try {
      return await this.client.request<T>({ method: 'GET', path: apiPath });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NotFound') return undefined;
      throw err;
    }
  }

  async get<T extends KubeObject = KubeObject>(key: ObjectKey): Promise<T | undefined> {
    this.check();
    try {
      return normalize(await this.client.request<KubeObject>({ method: 'GET', path: resourcePath(key, key) }), key) as T;
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NotFound') return undefined;
      throw err;
    }
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    this.check();
    const body = forServer(obj, false);
    const path = resourcePath(obj, { namespace: body.metadata.namespace });
    let out = normalize(await this.client.request<KubeObject>({ method: 'POST', path, query: { fieldManager: this.fieldManager }, body }), obj);
    // A create ignores status where the kind has a status subresource; the File back end keeps it.
    if (obj.status !== undefined) out = await this.writeStatus(keyOf(out), { status: obj.status }, 'merge');
    return out as T;
  }

  /**
   * Server-side apply of the whole object under the store's field manager: fields this manager
   * applied before and leaves out now are removed, fields other managers own are kept, and
   * changing a field another manager owns fails with Conflict unless forced. A resourceVersion in
   * the object is a precondition. Its status, if any, is applied through the status subresource.
   */
  async apply<T extends KubeObject>(obj: T, opts: ApplyOptions = {}): Promise<T> {
    this.check();
    const body = forServer(obj, true);
    const { status, ...main } = body;
    const path = resourcePath(obj, { namespace: body.metadata.namespace, name: body.metadata.name });
    let out = normalize(await this.serverSideApply(path, main, opts.force), obj);
    if (status !== undefined) {
      const partial = { apiVersion: body.apiVersion, kind: body.kind, metadata: { name: body.metadata.name, ...(body.metadata.namespace ? { namespace: body.metadata.namespace } : {}) }, status };
      out = await this.writeStatus(keyOf(out), partial, 'apply', opts.force);
    }
    return out as T;
  }

  /**
   * A JSON merge patch. `status` in it goes to the status subresource, the rest to the object
   * (two requests when it has both: the object first). A resourceVersion is a precondition of the
   * first request.
   */
  async patch<T extends KubeObject = KubeObject>(key: ObjectKey, patch: MergePatch, opts: { resourceVersion?: string } = {}): Promise<T> {
    this.check();
    if (!isPlainObject(patch)) throw new StoreError('Invalid', `patch of ${refOf(key)} must be a JSON object`);
    const { status, ...main } = patch;
    const hasStatus = 'status' in patch;
    let precondition = opts.resourceVersion;
    let out: KubeObject | undefined;
    if (Object.keys(main).length > 0 || !hasStatus) {
      out = await this.mergePatch(key, resourcePath(key, key), withPrecondition(main, precondition));
      precondition = undefined;
    }
    if (hasStatus) out = await this.writeStatus(key, withPrecondition({ status }, precondition), 'merge');
    return out as T;
  }

  private async mergePatch(key: ObjectKey, path: string, body: MergePatch): Promise<KubeObject> {
    const o = await this.client.request<KubeObject>({ method: 'PATCH', path, contentType: 'application/merge-patch+json', query: { fieldManager: this.fieldManager }, body });
    return normalize(o, key);
  }

  /** Through the status subresource, or with the object for a resource that has none. */
  private async writeStatus(key: ObjectKey, body: Record<string, unknown>, how: 'merge' | 'apply', force?: boolean): Promise<KubeObject> {
    const resource = resourceName(kindInfo(key));
    const main = resourcePath(key, key);
    if (!this.noStatusSubresource.has(resource)) {
      try {
        return how === 'merge' ? await this.mergePatch(key, `${main}/status`, body) : normalize(await this.serverSideApply(`${main}/status`, body, force), key);
      } catch (err) {
        // A 404 from /status for an object that exists means the resource has no status subresource.
        if (!(err instanceof StoreError && err.code === 'NotFound') || !(await this.get(key))) throw err;
        this.noStatusSubresource.add(resource);
        this.log.debug({ resource }, 'no status subresource; writing status with the object');
      }
    }
    if (how === 'merge') return this.mergePatch(key, main, body);
    return normalize(await this.serverSideApply(main, body, force), key);
  }

  /**
   * A server-side apply. The store's own merge patches and creates are recorded as the same
   * manager's `Update`s, which apply counts as another owner; a conflict with nobody but this
   * manager is taken over, so the store never conflicts with itself.
   */
  private async serverSideApply(path: string, body: unknown, force: boolean | undefined): Promise<KubeObject> {
    const send = (f: boolean): Promise<KubeObject> =>
      this.client.request<KubeObject>({ method: 'PATCH', path, contentType: 'application/apply-patch+yaml', query: { fieldManager: this.fieldManager, force: f }, body });
    const f = force ?? this.opts.forceApply ?? false;
    try {
      return await send(f);
    } catch (err) {
      if (f || !(err instanceof KubeStoreError) || err.code !== 'Conflict') throw err;
      const others = conflictingManagers(err.status);
      if (others.length === 0 || others.some((m) => m !== this.fieldManager)) throw err;
      return send(true);
    }
  }

  /**
   * Deletes in the background (dependents are garbage-collected afterwards) and returns the object
   * as it was deleted: the server's answer when it returns the object (graceful deletion, e.g. a
   * Pod or a Namespace with finalizers), else the last state read before.
   */
  async delete<T extends KubeObject = KubeObject>(key: ObjectKey): Promise<T | undefined> {
    this.check();
    const path = resourcePath(key, key);
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(key);
      if (!cur) return undefined;
      try {
        const res = await this.client.request<unknown>({
          method: 'DELETE',
          path,
          body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid: cur.metadata.uid } },
        });
        return (isStatus(res) || !isPlainObject(res) ? cur : normalize(res as KubeObject, key)) as T;
      } catch (err) {
        if (err instanceof StoreError && err.code === 'NotFound') return undefined;
        // The uid precondition failed: the object was replaced between the read and the delete.
        if (err instanceof StoreError && err.code === 'Conflict' && attempt < 3) continue;
        throw err;
      }
    }
  }

  watch<T extends KubeObject = KubeObject>(kind: Kind, opts: WatchOptions, onEvent: (ev: WatchEvent<T>) => void): KubeWatch {
    this.check();
    const info = kindInfo(kind);
    const namespace = info.namespaced ? opts.namespace : undefined;
    const w: KubeWatch = new KubeWatch(
      {
        config: () => this.client.config(),
        what: `${resourceName(info)}${namespace ? ` in ${namespace}` : ''}`,
        path: resourcePath(kind, { namespace }),
        labelSelector: labelSelectorText(opts.labelSelector),
        fieldSelector: fieldSelectorText(opts.fieldSelector),
        list: () => this.listWithVersion(kind, opts),
        normalize: (o) => normalize(o, kind),
        log: this.log,
        backoff: this.backoff,
        streamTimeoutSeconds: this.opts.watchStreamSeconds ?? 300,
        onClosed: () => this.watches.delete(w),
      },
      opts,
      onEvent as (ev: WatchEvent) => void,
    );
    this.watches.add(w);
    return w;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.watches]) w.close();
    this.watches.clear();
    this.client.close();
  }
}

function byNamespaceAndName(a: KubeObject, b: KubeObject): number {
  return (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name);
}

function keyOf(o: KubeObject): ObjectKey {
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, ...(o.metadata.namespace !== undefined ? { namespace: o.metadata.namespace } : {}) };
}

function refOf(key: ObjectKey): string {
  const info = kindInfo(key);
  return objectRef(info.plural, info.namespaced ? (key.namespace ?? 'default') : undefined, key.name);
}

/** As the store returns objects: at the asked version (lists omit it per item), without managedFields. */
function normalize(o: KubeObject, kind: Kind): KubeObject {
  o.apiVersion = kind.apiVersion;
  o.kind = kind.kind;
  delete (o.metadata as { managedFields?: unknown }).managedFields;
  return o;
}

/**
 * A copy to send: namespaced kinds in `default` when no namespace is given, cluster-scoped ones
 * without one, and without the fields the server sets. `keepResourceVersion`: as a precondition.
 */
function forServer(obj: KubeObject, keepResourceVersion: boolean): KubeObject {
  if (!isPlainObject(obj) || !isPlainObject(obj.metadata) || typeof obj.metadata.name !== 'string' || !obj.metadata.name) {
    throw new StoreError('Invalid', `${obj?.kind ?? 'object'}: metadata.name: required; give the object a name`);
  }
  const c = JSON.parse(JSON.stringify(obj)) as KubeObject;
  const info = kindInfo(c);
  if (info.namespaced) c.metadata.namespace ??= 'default';
  else delete c.metadata.namespace;
  for (const f of SERVER_FIELDS) delete (c.metadata as unknown as Record<string, unknown>)[f];
  if (!keepResourceVersion) delete c.metadata.resourceVersion;
  return c;
}

function withPrecondition(patch: MergePatch, resourceVersion: string | undefined): MergePatch {
  if (resourceVersion === undefined) return patch;
  const meta = isPlainObject(patch.metadata) ? patch.metadata : {};
  return { ...patch, metadata: { ...meta, resourceVersion } };
}

/** A list's 404 means the kind is not served at all, which deserves a better message than "not found". */
function notServed(err: unknown, kind: Kind, server: string): unknown {
  if (!(err instanceof StoreError && err.code === 'NotFound')) return err;
  return new StoreError('NotFound', `${kind.kind} (${kind.apiVersion}) is not served by the API server at ${server}; install its CustomResourceDefinition or check the apiVersion`);
}
