// An in-memory copy of one kind, fed by a ClusterStore watch, with a "synced" signal: the control
// plane serves nothing before every informer holds the cluster's current state. When a watch
// fails (e.g. Gone after a long pause) it starts over and reconciles, so no deletion is missed.
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../../lib/telemetry/log.js';
import { StoreError, type ClusterStore, type Kind, type KubeObject, type Watch, type WatchEventType } from '../../lib/store/types.js';

export interface InformerEvent {
  type: WatchEventType;
  object: KubeObject;
  /** The previous copy, for MODIFIED and DELETED. */
  old?: KubeObject;
}

export function objectKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** True when only `status` (or bookkeeping metadata) differs: writers of status need not wake readers of spec. */
export function onlyStatusChanged(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject): unknown => {
    const { status: _s, metadata, ...rest } = o;
    const { resourceVersion: _rv, managedFields: _mf, ...meta } = metadata as KubeObject['metadata'] & { managedFields?: unknown };
    return { ...rest, metadata: meta };
  };
  return isDeepStrictEqual(strip(a), strip(b));
}

const RETRY_MS = [500, 1000, 2000, 5000];

export class Informer {
  readonly items = new Map<string, KubeObject>();
  readonly synced: Promise<void>;
  private readonly listeners = new Set<(ev: InformerEvent) => void>();
  private watch: Watch | undefined;
  private resolveSynced!: () => void;
  private isSynced = false;
  private closed = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Bumped per (re)start: events of an abandoned watch are ignored. */
  private generation = 0;

  constructor(
    private readonly store: ClusterStore,
    readonly kind: Kind,
    private readonly log: Logger,
  ) {
    this.synced = new Promise((resolve) => (this.resolveSynced = resolve));
  }

  get hasSynced(): boolean {
    return this.isSynced;
  }

  /** Listeners see every change after it is applied to `items`; they must not throw (it is logged). */
  on(listener: (ev: InformerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): this {
    this.begin();
    return this;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.watch?.close();
    this.watch = undefined;
  }

  private emit(ev: InformerEvent): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        this.log.error({ err: (err as Error).message, kind: this.kind.kind, name: objectKey(ev.object) }, 'informer listener failed; continuing');
      }
    }
  }

  private apply(type: WatchEventType, object: KubeObject): string {
    const key = objectKey(object);
    const old = this.items.get(key);
    if (type === 'DELETED') {
      if (!old) return key;
      this.items.delete(key);
      this.emit({ type, object, old });
    } else {
      this.items.set(key, object);
      this.emit(old ? { type: 'MODIFIED', object, old } : { type: 'ADDED', object });
    }
    return key;
  }

  /**
   * Watches from the current state (every object arrives as ADDED first) and lists once: the copy is
   * synced when every listed object has arrived through the watch. After a restart, objects the
   * list no longer has are deleted.
   */
  private begin(): void {
    if (this.closed) return;
    const seen = new Set<string>();
    const before = new Set(this.items.keys());
    let listed: Set<string> | undefined;
    let done = false;
    const check = (): void => {
      if (done || !listed) return;
      for (const k of listed) if (!seen.has(k)) return;
      done = true;
      this.attempt = 0;
      for (const k of before) {
        const o = this.items.get(k);
        if (o && !listed.has(k) && !seen.has(k)) this.apply('DELETED', o);
      }
      if (!this.isSynced) {
        this.isSynced = true;
        this.log.debug({ kind: this.kind.kind, objects: this.items.size }, 'informer synced');
        this.resolveSynced();
      }
    };
    const gen = ++this.generation;
    this.watch = this.store.watch(this.kind, { onError: (err) => this.retry(gen, `watch failed: ${err.message}`) }, (ev) => {
      if (this.generation !== gen) return;
      seen.add(this.apply(ev.type, ev.object));
      check();
    });
    this.store.list(this.kind).then(
      (objs) => {
        if (this.generation !== gen) return;
        listed = new Set(objs.map(objectKey));
        check();
      },
      (err: unknown) => {
        // A kind the API server does not serve (its CRD is not installed, e.g. the Gateway API)
        // has no objects: the control plane serves without it and picks it up once it is served.
        if (err instanceof StoreError && err.code === 'NotFound' && !this.isSynced && this.generation === gen) {
          this.isSynced = true;
          this.log.info({ kind: this.kind.kind, apiVersion: this.kind.apiVersion }, `${this.kind.kind} is not served by the cluster; treated as empty until its CustomResourceDefinition is installed`);
          this.resolveSynced();
        }
        this.retry(gen, `list failed: ${(err as Error).message}`, err instanceof StoreError && err.code === 'NotFound');
      },
    );
  }

  /** `quiet`: an expected, lasting condition (a kind not served), logged at debug. */
  private retry(gen: number, reason: string, quiet = false): void {
    if (this.closed || this.generation !== gen) return;
    this.generation++;
    this.watch?.close();
    this.watch = undefined;
    const delay = RETRY_MS[Math.min(this.attempt++, RETRY_MS.length - 1)]!;
    this.log[quiet ? 'debug' : 'warn']({ kind: this.kind.kind, reason, retryInMs: delay }, `watching ${this.kind.kind} objects failed; starting over`);
    this.timer = setTimeout(() => this.begin(), delay);
  }
}
