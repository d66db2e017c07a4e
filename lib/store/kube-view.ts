/**
 * What a watcher has been told, per object: the state a watch over a list keeps so that a
 * re-list (after 410 Gone) tells the watcher only what changed — objects that appeared, changed or
 * disappeared while it was not watching — and never repeats what it already knows. Pure.
 */
import type { KubeObject, WatchEvent } from './types.js';

export function objectKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export class WatchView {
  private readonly known = new Map<string, KubeObject>();

  get size(): number {
    return this.known.size;
  }

  objects(): KubeObject[] {
    return [...this.known.values()];
  }

  /**
   * Folds one event from a watch stream into the view and returns what the watcher should see:
   * the event as the view makes it (ADDED for an object it did not know, MODIFIED for one it did),
   * or undefined when it tells nothing new (the same resourceVersion again, a deletion of an
   * unknown object).
   */
  apply(ev: WatchEvent): WatchEvent | undefined {
    const key = objectKey(ev.object);
    const cur = this.known.get(key);
    if (ev.type === 'DELETED') {
      if (!cur) return undefined;
      this.known.delete(key);
      return ev;
    }
    if (cur && cur.metadata.resourceVersion === ev.object.metadata.resourceVersion) return undefined;
    this.known.set(key, ev.object);
    return { type: cur ? 'MODIFIED' : 'ADDED', object: ev.object };
  }

  /**
   * Replaces the view with a fresh list and returns the events that turn the old view into it:
   * ADDED and MODIFIED in list order, then DELETED (with the last state seen) for what is gone.
   */
  replace(listed: readonly KubeObject[]): WatchEvent[] {
    const out: WatchEvent[] = [];
    const seen = new Set<string>();
    for (const o of listed) {
      seen.add(objectKey(o));
      const ev = this.apply({ type: 'ADDED', object: o });
      if (ev) out.push(ev);
    }
    for (const [key, o] of this.known) {
      if (seen.has(key)) continue;
      this.known.delete(key);
      out.push({ type: 'DELETED', object: o });
    }
    return out;
  }
}
