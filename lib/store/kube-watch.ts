/**
 * A watch on an API server that survives what API servers do to watches: streams that end (the
 * server's timeout, a restart), resourceVersions that expire (410 Gone after compaction or a
 * restart), errors (backed off). Without a starting resourceVersion it is an informer: list, then
 * watch from the list's resourceVersion, and after 410 Gone list again and tell the watcher only
 * the difference (kube-view.ts). From a caller's resourceVersion, 410 Gone ends it through
 * `onError`, as on the File back end: only the caller knows what it had listed.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { clientNode } from './kube-lib.js';
import type { Logger } from '../telemetry/log.js';
import { backoffDelay } from '../xds/backoff.js';
import type { BackoffOptions } from '../xds/types.js';
import { errorFromStatus, isStatus, KubeApiError } from './kube-status.js';
import { WatchView } from './kube-view.js';
import { StoreError, type KubeObject, type Watch, type WatchEvent, type WatchOptions } from './types.js';

export interface KubeWatchStats {
  /** Lists made (the first one and each re-list after 410 Gone). */
  lists: number;
  /** Watch streams opened. */
  streams: number;
  /** 410 Gone answers. */
  gone: number;
  /** Failed lists or streams, retried after a back-off. */
  errors: number;
  bookmarks: number;
}

export interface KubeWatchSource {
  config(): Promise<KubeConfig>;
  /** What the watch is of, for messages: `pods in demo`. */
  what: string;
  /** The collection path, e.g. `/api/v1/namespaces/demo/pods`. */
  path: string;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  list(): Promise<{ items: KubeObject[]; resourceVersion: string }>;
  /** Puts a streamed object in the shape the store returns. */
  normalize(o: KubeObject): KubeObject;
  log: Logger;
  backoff: BackoffOptions;
  /** Asks the server to end each stream after about this long, so that idle streams are renewed. */
  streamTimeoutSeconds: number;
  /** Called once when the watch ends, by close() or a failure. */
  onClosed?: () => void;
}

/** A stream that lived this long was healthy even if it carried nothing: its end is no error. */
const HEALTHY_STREAM_MS = 5_000;

export class KubeWatch implements Watch {
  readonly stats: KubeWatchStats = { lists: 0, streams: 0, gone: 0, errors: 0, bookmarks: 0 };
  private closed = false;
  private abortStream?: () => void;
  private wake?: () => void;
  private readonly view = new WatchView();
  private readonly informer: boolean;
  private rv: string | undefined;

  constructor(
    private readonly src: KubeWatchSource,
    private readonly opts: WatchOptions,
    private readonly onEvent: (ev: WatchEvent) => void,
  ) {
    this.informer = opts.resourceVersion === undefined;
    this.rv = opts.resourceVersion;
    void this.run();
  }

  /** The resourceVersion the watcher is current to (the last event, list or bookmark). */
  get resourceVersion(): string | undefined {
    return this.rv;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.src.onClosed?.();
    this.abortStream?.();
    this.wake?.();
  }

  private deliver(ev: WatchEvent): void {
    if (this.closed) return;
    try {
      this.onEvent(ev);
    } catch (err) {
      this.src.log.error({ err: (err as Error).message, watch: this.src.what }, 'watch handler threw; event dropped');
    }
  }

  private fail(err: StoreError): void {
    if (this.closed) return;
    this.closed = true;
    this.src.onClosed?.();
    if (this.opts.onError) this.opts.onError(err);
    else this.src.log.error({ err: err.message, watch: this.src.what }, 'watch ended');
  }

  private async run(): Promise<void> {
    // Documented as opaque, but every etcd-backed server's resourceVersion is etcd's decimal
    // revision, and a malformed one gets a 500 that would be retried forever.
    if (this.rv !== undefined && !/^\d+$/.test(this.rv)) {
      await Promise.resolve();
      return this.fail(new StoreError('Invalid', `watch of ${this.src.what}: resourceVersion "${this.rv}" is not a number; pass one from a list or an event`));
    }
    let attempt = 0;
    let needList = this.informer;
    while (!this.closed) {
      try {
        if (needList) {
          const { items, resourceVersion } = await this.src.list();
          this.stats.lists++;
          if (this.closed) return;
          for (const ev of this.view.replace(items)) this.deliver(ev);
          this.rv = resourceVersion;
          needList = false;
        }
        const started = performance.now();
        const progressed = await this.stream();
        if (progressed || performance.now() - started >= HEALTHY_STREAM_MS) attempt = 0;
        else await this.sleep(backoffDelay(this.src.backoff, attempt++));
      } catch (err) {
        if (this.closed) return;
        if (err instanceof StoreError && err.code === 'Gone') {
          this.stats.gone++;
          if (!this.informer) return this.fail(new StoreError('Gone', `watch of ${this.src.what} from resourceVersion ${this.rv ?? '?'}: ${err.message}`));
          this.src.log.info({ watch: this.src.what, resourceVersion: this.rv }, 'resourceVersion expired; listing again');
          needList = true;
          continue;
        }
        if (err instanceof StoreError && err.code === 'Invalid') return this.fail(new StoreError('Invalid', `watch of ${this.src.what}: ${err.message}`));
        this.stats.errors++;
        const delay = backoffDelay(this.src.backoff, attempt++);
        this.src.log.warn({ err: (err as Error).message, watch: this.src.what, retryInMs: delay }, 'watch failed; retrying');
        await this.sleep(delay);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /**
   * One watch stream from `this.rv`, until it ends. Resolves with whether it carried anything;
   * rejects with the stream's error (a StoreError `Gone` for an expired resourceVersion).
   */
  private stream(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      let failure: Error | undefined;
      let progressed = false;
      let controller: AbortController | undefined;
      let ended = false;
      const abort = (): void => {
        ended = true;
        controller?.abort();
      };
      this.abortStream = abort;
      this.stats.streams++;
      // The server ends a stream after timeoutSeconds; one still open well after that is from a
      // server or path that silently died (TCP keep-alive alone takes many minutes to notice).
      const stall = setTimeout(abort, (this.src.streamTimeoutSeconds + 30) * 1000);
      stall.unref();
      const query = {
        resourceVersion: this.rv,
        allowWatchBookmarks: true,
        timeoutSeconds: this.src.streamTimeoutSeconds,
        ...(this.src.labelSelector ? { labelSelector: this.src.labelSelector } : {}),
        ...(this.src.fieldSelector ? { fieldSelector: this.src.fieldSelector } : {}),
      };
      const onLine = (type: string, obj: unknown): void => {
        if (ended || this.closed) return;
        if (type === 'ERROR') {
          const st = isStatus(obj) ? obj : undefined;
          failure = errorFromStatus(st?.code ?? 500, obj, `WATCH ${this.src.path}`);
          return abort();
        }
        const o = obj as KubeObject;
        const rv = o?.metadata?.resourceVersion;
        if (rv) this.rv = rv;
        progressed = true;
        if (type === 'BOOKMARK') {
          this.stats.bookmarks++;
          return;
        }
        if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
        const ev: WatchEvent = { type, object: this.src.normalize(o) };
        if (!this.informer) return this.deliver(ev);
        const seen = this.view.apply(ev);
        if (seen) this.deliver(seen);
      };
      const onDone = (err: unknown): void => {
        clearTimeout(stall);
        this.abortStream = undefined;
        if (failure) return reject(failure);
        if (this.closed) return resolve(progressed);
        const code = (err as { statusCode?: number } | null)?.statusCode;
        if (code !== undefined) return reject(errorFromStatus(code, undefined, `WATCH ${this.src.path}`));
        if (err && !ended) return reject(err instanceof Error ? err : new KubeApiError(0, 'Unavailable', String(err)));
        resolve(progressed);
      };
      Promise.all([this.src.config(), clientNode()])
        .then(([kc, { Watch }]) => new Watch(kc).watch(this.src.path, query, onLine, onDone))
        .then(
        (c) => {
          controller = c;
          if (ended || this.closed) c.abort();
        },
        (err: unknown) => onDone(err),
      );
    });
  }
}
