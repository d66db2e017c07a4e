/**
 * The File back end: cluster state in a directory shared by several processes (the long-running
 * runner watches while short-lived CLI commands write).
 *
 *   <dir>/journal/journal.log                                   every change, in rv order (the commit log)
 *   <dir>/objects/<resource>/<namespace|_cluster>/<name>.yaml   the objects, checkpointed from it
 *   <dir>/locks/write.lock                                      held by the one writer at a time
 *
 * A write takes the lock, catches up with the journal (so its rv is the cluster's next) and
 * appends its change. Each process keeps the whole state in memory, fed by the journal: reads are
 * one stat away from current, and watchers are served from the same feed, in order, across
 * processes. Object files trail the journal by about `checkpointIntervalMs` while stores are open
 * and are current once every store has closed. See disk.ts for the checkpoint and lock.ts for
 * crash recovery.
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger, type Logger } from '../telemetry/log.js';
import { DiskState } from './disk.js';
import { Dispatcher, type Subscriber } from './dispatch.js';
import { kindInfo, resourceName } from './kinds.js';
import { cleanStaleTokens, DirLock, LOCK_RETRY_MAX_MS } from './lock.js';
import { storageKey } from './object-files.js';
import { matchesFields, matchesSelector } from './objects.js';
import { applyOp, createOp, patchOp, prepare, type Decision } from './ops.js';
import { startWatch, type WatchSource } from './watch.js';
import type { ClusterStore, Kind, KubeObject, ListOptions, MergePatch, ObjectKey, Watch, WatchEvent, WatchOptions } from './types.js';

export interface FileStoreOptions {
  logger?: Logger;
  /** Safety-net poll of the journal while watching, in case a file event is missed (default 1000 ms). */
  pollIntervalMs?: number;
  /** Follow the journal with fs.watch (default true); without it, only the poll. */
  fsWatch?: boolean;
  /** Write changed objects to their files this long after the first change (default 1000 ms)… */
  checkpointIntervalMs?: number;
  /** …in slices of at most this long under the write lock, so writers are not held up (default 20 ms). */
  checkpointSliceMs?: number;
  /** Compact the journal once it is larger than this (default 4 MiB)… */
  compactBytes?: number;
  /** …keeping about this much of its newest changes, for watchers that lag (default 1 MiB). */
  retainBytes?: number;
  /** How long a write waits for another process's lock (default 30 s). */
  lockTimeoutMs?: number;
}

export class FileStore implements ClusterStore, WatchSource {
  /** Read by watches (WatchSource). */
  readonly disk: DiskState;
  readonly dispatch: Dispatcher;
  readonly log: Logger;
  private readonly lock: DirLock;
  private ready?: Promise<void>;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** close() was called: no new watches, tailing or timers; queued operations still finish. */
  private closing = false;
  private tail?: { watcher?: FSWatcher; timer: NodeJS.Timeout };
  private tailScheduled = false;
  private checkpointTimer?: NodeJS.Timeout;
  private checkpointDue = 0;

  constructor(
    readonly dir: string,
    private readonly opts: FileStoreOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger();
    this.dispatch = new Dispatcher(this.log);
    const compactBytes = opts.compactBytes ?? 4 << 20;
    // Keeping as much as the threshold would compact on every write.
    const diskOpts = { compactBytes, retainBytes: Math.min(opts.retainBytes ?? 1 << 20, compactBytes / 2) };
    this.disk = new DiskState(dir, this.dispatch, this.log, diskOpts, (own) => this.scheduleCheckpoint(own));
    this.lock = new DirLock(join(dir, 'locks', 'write.lock'), { timeoutMs: opts.lockTimeoutMs ?? 30_000 });
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      this.disk.prepare();
      cleanStaleTokens(this.lock.path);
      await this.locked(() => undefined, true);
    })();
    return this.ready;
  }

  /** Runs `fn` holding the write lock, fully caught up; serialised within this process too. */
  private locked<R>(fn: () => R, initial = false): Promise<R> {
    const run = async (): Promise<R> => {
      if (this.closed) throw new Error(`store ${this.dir} is closed`);
      const { recovered } = await this.lock.acquire();
      try {
        if (recovered) this.log.warn({ dir: this.dir }, 'took over the write lock of a process that died');
        this.disk.sync(initial);
        return fn();
      } finally {
        this.lock.release();
        this.dispatch.flush();
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Brings this process's view up to date with other processes' writes. */
  async catchUp(): Promise<void> {
    await this.init();
    if (this.closed) throw new Error(`store ${this.dir} is closed`);
    if (!this.disk.readNew()) await this.locked(() => undefined);
    this.dispatch.flush();
  }

  private async write<T extends KubeObject>(key: string, outApiVersion: string, decide: (cur: KubeObject | undefined) => Decision): Promise<T | undefined> {
    await this.init();
    return this.locked(() => {
      const d = decide(this.disk.objects.get(key));
      if (d.type === 'NONE') return d.object && out<T>(d.object, outApiVersion);
      return out<T>(this.disk.commit(d), outApiVersion);
    });
  }

  async list<T extends KubeObject = KubeObject>(kind: Kind, opts: ListOptions = {}): Promise<T[]> {
    await this.catchUp();
    const info = kindInfo(kind);
    const prefix = `${resourceName(info)}/${info.namespaced && opts.namespace !== undefined ? `${opts.namespace}/` : ''}`;
    const res: T[] = [];
    for (const [k, o] of this.disk.objects) {
      if (k.startsWith(prefix) && matchesSelector(o.metadata.labels, opts.labelSelector) && matchesFields(o, opts.fieldSelector)) res.push(out<T>(o, kind.apiVersion));
    }
    return res.sort((a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name));
  }

  async get<T extends KubeObject = KubeObject>(key: ObjectKey): Promise<T | undefined> {
    await this.catchUp();
    const o = this.disk.objects.get(keyOf(key));
    return o && out<T>(o, key.apiVersion);
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    const clean = prepare(obj);
    return (await this.write<T>(storageKey(clean), obj.apiVersion, (cur) => createOp(clean, cur))) as T;
  }

  async apply<T extends KubeObject>(obj: T): Promise<T> {
    const clean = prepare(obj);
    return (await this.write<T>(storageKey(clean), obj.apiVersion, (cur) => applyOp(clean, cur))) as T;
  }

  async patch<T extends KubeObject = KubeObject>(key: ObjectKey, patch: MergePatch, opts: { resourceVersion?: string } = {}): Promise<T> {
    return (await this.write<T>(keyOf(key), key.apiVersion, (cur) => patchOp(key, cur, patch, opts.resourceVersion))) as T;
  }

  async delete<T extends KubeObject = KubeObject>(key: ObjectKey): Promise<T | undefined> {
    return this.write<T>(keyOf(key), key.apiVersion, (cur) => (cur ? { type: 'DELETED', object: structuredClone(cur) } : { type: 'NONE', object: undefined }));
  }

  /** The cluster-wide resourceVersion this process has caught up to. */
  async currentResourceVersion(): Promise<string> {
    await this.catchUp();
    return String(this.disk.journal.lastRv);
  }

  /** Writes pending changes to the object files now (they otherwise follow within checkpointIntervalMs). */
  async checkpoint(): Promise<void> {
    await this.init();
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
    await this.checkpointAll();
  }

  /** In slices, pausing in between so that a writer waiting for the lock gets it. */
  private async checkpointAll(): Promise<void> {
    const slice = this.opts.checkpointSliceMs ?? 20;
    while (!(await this.locked(() => this.disk.checkpoint(slice)))) await sleep(LOCK_RETRY_MAX_MS + 1);
  }

  /**
   * A writer checkpoints its own changes soon; other processes' changes only later, by when their
   * writer has usually done it (then there is nothing left to write), so that two processes do not
   * both write the same files. Other processes' changes still get written if their writer died.
   */
  private scheduleCheckpoint(own: boolean): void {
    if (this.closing) return;
    const delay = (this.opts.checkpointIntervalMs ?? 1000) * (own ? 1 : 3);
    const due = performance.now() + delay;
    if (this.checkpointTimer) {
      if (due >= this.checkpointDue) return;
      clearTimeout(this.checkpointTimer);
    }
    this.checkpointDue = due;
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      if (this.closing || this.disk.pending === 0) return;
      this.checkpointAll().catch((err: unknown) => {
        this.log.error({ err: (err as Error).message, dir: this.dir }, 'writing object files failed; will retry');
        this.scheduleCheckpoint(true);
      });
    }, delay);
    this.checkpointTimer.unref();
  }

  watch<T extends KubeObject = KubeObject>(kind: Kind, opts: WatchOptions, onEvent: (ev: WatchEvent<T>) => void): Watch {
    return startWatch(this, kind, opts, onEvent as (ev: WatchEvent) => void);
  }

  /** Tails the journal while anyone watches. */
  private watchersChanged(): void {
    if (this.dispatch.subs.size > 0) this.startTail();
    else this.stopTail();
  }

  register(sub: Subscriber): boolean {
    if (this.closing) return false;
    this.dispatch.subs.add(sub);
    this.watchersChanged();
    return true;
  }

  unregister(sub: Subscriber): void {
    this.dispatch.subs.delete(sub);
    this.watchersChanged();
  }

  private startTail(): void {
    if (this.tail || this.closing) return;
    let watcher: FSWatcher | undefined;
    if (this.opts.fsWatch ?? true) {
      watcher = fsWatch(join(this.dir, 'journal'), () => this.scheduleTail());
      watcher.on('error', (err) => this.log.warn({ err: err.message }, 'journal watch failed; relying on polling'));
    }
    const timer = setInterval(() => this.scheduleTail(), this.opts.pollIntervalMs ?? 1000);
    // fs.watch keeps the process alive while watching; the poll does only when it is alone.
    if (watcher) timer.unref();
    this.tail = { ...(watcher ? { watcher } : {}), timer };
  }

  private stopTail(): void {
    if (!this.tail) return;
    this.tail.watcher?.close();
    clearInterval(this.tail.timer);
    this.tail = undefined;
  }

  private scheduleTail(): void {
    if (this.tailScheduled || this.closing) return;
    this.tailScheduled = true;
    setImmediate(() => {
      this.tailScheduled = false;
      if (this.closing || !this.tail) return;
      this.catchUp().catch((err: unknown) => this.log.error({ err: (err as Error).message, dir: this.dir }, 'reading the journal failed; will retry'));
    });
  }

  /** Stops watches and timers, writes pending object files, releases the directory. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopTail();
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    for (const s of this.dispatch.subs) s.closed = true;
    this.dispatch.subs.clear();
    if (this.ready) {
      await this.ready.catch(() => undefined);
      if (this.disk.pending > 0) await this.checkpointAll().catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'final checkpoint failed'));
    }
    await this.queue;
    this.closed = true;
    this.disk.journal.close();
    this.lock.dispose();
  }
}

function keyOf(key: ObjectKey): string {
  const info = kindInfo(key);
  return `${resourceName(info)}/${info.namespaced ? (key.namespace ?? 'default') : ''}/${key.name}`;
}

/** A copy for the caller, at the apiVersion it asked for (all versions of a kind are one resource). */
function out<T extends KubeObject>(o: KubeObject, apiVersion: string): T {
  const c = structuredClone(o);
  c.apiVersion = apiVersion;
  return c as T;
}
