/**
 * Starting a watch on a FileStore: the initial events (every current object, or the journal's
 * history after a resourceVersion) are queued for the new watcher alone, in the same turn as it is
 * registered at the current rv, so that it misses nothing and sees nothing twice.
 */
import type { Logger } from '../telemetry/log.js';
import type { DiskState } from './disk.js';
import type { Dispatcher, Subscriber } from './dispatch.js';
import { kindInfo, resourceName } from './kinds.js';
import { storageKey } from './object-files.js';
import { StoreError, type Kind, type KubeObject, type Watch, type WatchEvent, type WatchOptions } from './types.js';

/**
 * What a watch needs of its store, and no more: FileStore implements it. Declared here, on the
 * side that uses it, so that the store depends on the watch and not the other way round.
 */
export interface WatchSource {
  readonly log: Logger;
  /** The objects and the journal, as of the last catch-up. */
  readonly disk: Pick<DiskState, 'objects' | 'journal'>;
  readonly dispatch: Pick<Dispatcher, 'push' | 'flush'>;
  /** Brings the store's view up to date with other processes' writes. */
  catchUp(): Promise<void>;
  /** Adds a watcher; false when the store is closing (the watcher is then not added). */
  register(sub: Subscriber): boolean;
  /** Removes a watcher that closed. */
  unregister(sub: Subscriber): void;
}

export function startWatch(store: WatchSource, kind: Kind, opts: WatchOptions, onEvent: (ev: WatchEvent) => void): Watch {
  const info = kindInfo(kind);
  const sub: Subscriber = {
    resource: resourceName(info),
    apiVersion: kind.apiVersion,
    ...(info.namespaced && opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
    ...(opts.labelSelector ? { selector: opts.labelSelector } : {}),
    ...(opts.fieldSelector ? { fields: opts.fieldSelector } : {}),
    onEvent,
    ...(opts.onError ? { onError: opts.onError } : {}),
    fromRv: 0,
    closed: false,
  };
  const close = (): void => {
    if (sub.closed) return;
    sub.closed = true;
    store.unregister(sub);
  };
  begin(store, sub, opts.resourceVersion).catch((err: unknown) => {
    if (sub.closed) return;
    const e = err instanceof StoreError ? err : new StoreError('Invalid', `watch of ${sub.resource} failed: ${(err as Error).message}`);
    if (sub.onError) sub.onError(e);
    else store.log.error({ err: e.message, resource: sub.resource }, 'watch failed');
    close();
  });
  return { close };
}

async function begin(store: WatchSource, sub: Subscriber, resourceVersion: string | undefined): Promise<void> {
  await store.catchUp();
  if (sub.closed) return;
  const { disk, dispatch } = store;
  if (resourceVersion === undefined) {
    for (const o of disk.objects.values()) {
      const resource = resourceName(kindInfo(o));
      if (resource === sub.resource) dispatch.push({ type: 'ADDED', rv: disk.journal.lastRv, object: o, resource, target: sub });
    }
  } else {
    const from = Number(resourceVersion);
    if (!/^\d+$/.test(resourceVersion) || !Number.isSafeInteger(from)) {
      throw new StoreError('Invalid', `watch of ${sub.resource}: resourceVersion "${resourceVersion}" is not a number`);
    }
    const history = disk.journal.entriesAfter(from);
    if (!history) {
      throw new StoreError('Gone', `watch of ${sub.resource}: resourceVersion ${from} is older than the history kept (${disk.journal.baseRv}); list again and watch without a resourceVersion`);
    }
    const seen = new Map<string, KubeObject>();
    for (const e of history) {
      const key = storageKey(e.object);
      const prev = seen.get(key);
      seen.set(key, e.object);
      dispatch.push({ type: e.type, rv: e.rv, object: e.object, resource: resourceName(kindInfo(e.object)), ...(prev ? { prev } : {}), target: sub });
    }
  }
  sub.fromRv = disk.journal.lastRv;
  if (!store.register(sub)) {
    sub.closed = true;
    return;
  }
  dispatch.flush();
}
