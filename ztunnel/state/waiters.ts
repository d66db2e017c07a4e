// Callers waiting for a workload to arrive over xDS (outbound waits up to 5 s for its own pod).
import type { WorkloadView } from './types.js';
import type { WorkloadKey } from './view.js';

interface Waiter {
  key: WorkloadKey;
  done: (w: WorkloadView | undefined) => void;
}

export class Waiters {
  readonly #waiting = new Set<Waiter>();

  constructor(private readonly find: (key: WorkloadKey) => WorkloadView | undefined) {}

  get size(): number {
    return this.#waiting.size;
  }

  wait(key: WorkloadKey, timeoutMs: number): Promise<WorkloadView | undefined> {
    const now = this.find(key);
    if (now || timeoutMs <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const w: Waiter = {
        key,
        done: (found) => {
          clearTimeout(timer);
          this.#waiting.delete(w);
          resolve(found);
        },
      };
      const timer = setTimeout(() => w.done(undefined), timeoutMs);
      this.#waiting.add(w);
    });
  }

  /** Called after workloads were stored. */
  check(): void {
    for (const w of [...this.#waiting]) {
      const found = this.find(w.key);
      if (found) w.done(found);
    }
  }
}
