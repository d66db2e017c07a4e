// A tiny informer: keeps an in-memory copy of one kind, fed by a store watch, and calls back on
// every change. Controllers read the caches and never list the store in their loops.
import type { ClusterStore, Kind, KubeObject, Watch } from '../../../lib/store/types.js';

export function objectKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export class Informer<T extends KubeObject> {
  readonly items = new Map<string, T>();
  private watch?: Watch;

  constructor(
    private readonly store: ClusterStore,
    private readonly kind: Kind,
    private readonly onChange: (type: string, obj: T) => void,
  ) {}

  start(): this {
    this.watch = this.store.watch<T>(this.kind, {}, (ev) => {
      const k = objectKey(ev.object);
      if (ev.type === 'DELETED') this.items.delete(k);
      else this.items.set(k, ev.object);
      this.onChange(ev.type, ev.object);
    });
    return this;
  }

  list(namespace?: string): T[] {
    const all = [...this.items.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.items.get(`${namespace ?? ''}/${name}`);
  }

  close(): void {
    this.watch?.close();
  }
}

/** Runs `fn` once after changes settle, never concurrently with itself; a change during a run triggers one more run. */
export function debounced(fn: () => Promise<void>, ms: number, onError: (e: unknown) => void): { trigger(): void; idle(): Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let cancelled = false;
  const run = () => {
    timer = undefined;
    if (cancelled) return;
    if (running) {
      again = true;
      return;
    }
    running = fn()
      .catch(onError)
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          trigger();
        }
      });
  };
  const trigger = () => {
    if (cancelled) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, ms);
  };
  return {
    trigger,
    async idle() {
      while (timer || running) await (running ?? new Promise((r) => setTimeout(r, ms)));
    },
    cancel() {
      cancelled = true;
      if (timer) clearTimeout(timer);
    },
  };
}
