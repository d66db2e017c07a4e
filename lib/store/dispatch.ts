/**
 * Delivers changes to watchers in one global order. Every change the store applies is queued with
 * its rv; a watcher registered at rv N ignores queued changes up to N (its initial list already
 * holds them), and its initial events are queued for it alone, so nothing is lost or doubled.
 * Label selectors follow the API server: an object that starts or stops matching is ADDED or
 * DELETED for that watcher.
 */
import type { Logger } from '../telemetry/log.js';
import { matchesFields, matchesSelector } from './objects.js';
import type { KubeObject, StoreError, WatchEvent, WatchEventType } from './types.js';

export interface Subscriber {
  resource: string;
  /** Objects are handed out at the apiVersion the watcher asked for. */
  apiVersion: string;
  namespace?: string;
  selector?: Record<string, string>;
  fields?: Record<string, string>;
  onEvent: (ev: WatchEvent) => void;
  onError?: (err: StoreError) => void;
  fromRv: number;
  closed: boolean;
}

export interface Change {
  type: WatchEventType;
  resource: string;
  rv: number;
  object: KubeObject;
  /** The object before the change, when known: decides selector transitions. */
  prev?: KubeObject;
  /** Only for this watcher (its initial events), regardless of rv. */
  target?: Subscriber;
}

/** The event a watcher sees for a change, or undefined if the change is not for it. */
export function eventFor(sub: Subscriber, c: Change): WatchEventType | undefined {
  if (c.resource !== sub.resource) return undefined;
  if (sub.namespace !== undefined && c.object.metadata.namespace !== sub.namespace) return undefined;
  const match = (o: KubeObject): boolean => matchesSelector(o.metadata.labels, sub.selector) && matchesFields(o, sub.fields);
  const now = match(c.object);
  if (c.type !== 'MODIFIED' || (!sub.selector && !sub.fields)) return now ? c.type : undefined;
  // Without the previous object, assume it matched as it does now.
  const before = c.prev ? match(c.prev) : now;
  if (now) return before ? 'MODIFIED' : 'ADDED';
  return before ? 'DELETED' : undefined;
}

export class Dispatcher {
  readonly subs = new Set<Subscriber>();
  private queue: Change[] = [];
  private flushing = false;

  constructor(private readonly log: Logger) {}

  push(c: Change): void {
    this.queue.push(c);
  }

  /** Delivers queued changes; re-entrant calls (from a callback) just let the running loop continue. */
  flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (let i = 0; i < this.queue.length; i++) {
        const c = this.queue[i];
        if (!c) continue;
        for (const sub of c.target ? [c.target] : this.subs) {
          if (sub.closed || (!c.target && c.rv <= sub.fromRv)) continue;
          const type = eventFor(sub, c);
          if (type) this.deliver(sub, type, c.object);
        }
      }
    } finally {
      this.queue = [];
      this.flushing = false;
    }
  }

  private deliver(sub: Subscriber, type: WatchEventType, obj: KubeObject): void {
    const object = structuredClone(obj);
    object.apiVersion = sub.apiVersion;
    try {
      sub.onEvent({ type, object });
    } catch (err) {
      this.log.error({ err, resource: sub.resource, name: obj.metadata.name }, 'watch handler threw; the watch goes on');
    }
  }
}
