// Per-pod serialisation: every operation on one pod (CNI ADD/DEL/CHECK, a reconcile) runs after the
// previous one on that pod, whatever its outcome; pods do not wait for each other. Reconciles
// coalesce (one queued per pod is enough: it reads the current state when it runs) and a failed
// one is retried with back-off, or at once when `retryNow` says the world changed (ztunnel came).

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
}

export class KeyedQueue {
  private readonly chains = new Map<string, Promise<void>>();

  /** Runs `fn` once the previous operation on `key` has finished. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const p = prev.then(fn);
    const tail = p.then(() => undefined, () => undefined);
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return p;
  }

  get size(): number {
    return this.chains.size;
  }

  /** Resolves when nothing is queued or running (new work queued meanwhile is waited for too). */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }
}

interface Retry {
  attempt: number;
  timer?: NodeJS.Timeout;
}

export class Reconciler {
  private readonly queued = new Set<string>();
  private readonly retries = new Map<string, Retry>();
  private stopped = false;

  constructor(
    private readonly queue: KeyedQueue,
    private readonly work: (key: string) => Promise<void>,
    private readonly onError: (key: string, err: Error, retryInMs: number) => void,
    private readonly policy: RetryPolicy = { initialMs: 250, maxMs: 10_000 },
  ) {}

  /** Queues a reconcile of `key` unless one is already waiting to run. */
  schedule(key: string): void {
    if (this.stopped || this.queued.has(key)) return;
    this.queued.add(key);
    // Through the event loop: a reconcile whose own writes schedule it again must not starve timers.
    setImmediate(() => void this.queue.run(key, async () => {
      this.queued.delete(key);
      if (this.stopped) return;
      const r = this.retries.get(key);
      if (r?.timer) clearTimeout(r.timer);
      try {
        await this.work(key);
        this.retries.delete(key);
      } catch (e) {
        const next = this.retries.get(key) ?? { attempt: 0 };
        const delay = Math.min(this.policy.initialMs * 2 ** next.attempt, this.policy.maxMs);
        next.attempt++;
        this.retries.set(key, next);
        this.onError(key, e instanceof Error ? e : new Error(String(e)), delay);
        if (!this.stopped) {
          next.timer = setTimeout(() => {
            next.timer = undefined;
            this.schedule(key);
          }, delay);
          next.timer.unref();
        }
      }
    }));
  }

  /** Resolves once no reconcile is queued or running (retries waiting on their timer do not count). */
  async idle(): Promise<void> {
    while (this.queued.size > 0 || this.queue.size > 0) {
      await new Promise((r) => setImmediate(r));
      await this.queue.idle();
    }
  }

  /** Keys waiting for a retry. */
  get failing(): string[] {
    return [...this.retries.keys()];
  }

  /** Retries every failing key now (keeping its back-off step). */
  retryNow(): void {
    for (const [key, r] of this.retries) {
      if (r.timer) clearTimeout(r.timer);
      r.timer = undefined;
      this.schedule(key);
    }
  }

  /** Forgets a key's retry (the pod is gone). */
  forget(key: string): void {
    const r = this.retries.get(key);
    if (r?.timer) clearTimeout(r.timer);
    this.retries.delete(key);
  }

  stop(): void {
    this.stopped = true;
    for (const r of this.retries.values()) if (r.timer) clearTimeout(r.timer);
    this.retries.clear();
  }
}
