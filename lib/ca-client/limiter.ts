// At most N certificate requests at once, served by priority: a connection waiting for a
// certificate goes before prefetching, which goes before rotation (Istio: RealTime > Warmup > Background).
export enum Priority {
  RealTime = 0,
  Warmup = 1,
  Background = 2,
}

interface Waiting {
  priority: Priority;
  seq: number;
  start(): void;
}

export class PriorityLimiter {
  private running = 0;
  private readonly waiting: Waiting[] = [];
  private seq = 0;

  constructor(private readonly concurrency: number) {
    if (!(Number.isInteger(concurrency) && concurrency > 0)) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(priority: Priority, fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      await new Promise<void>((start) => {
        this.waiting.push({ priority, seq: this.seq++, start });
        this.waiting.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
      });
    } else {
      this.running++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `running` stays the same.
      if (next) next.start();
      else this.running--;
    }
  }
}
