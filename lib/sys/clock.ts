// Time as a dependency: timers and back-off take a clock so that their tests can step through
// time exactly instead of sleeping and hoping (xDS debounce and reconnects, the local runtime).

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** Calls `fn` once, `ms` from now (0 if negative), unless cancelled first. */
  after(ms: number, fn: () => void): TimerHandle;
}

export const realClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(timer) };
  },
};

interface Scheduled {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to. Timers fire in due order (ties in the order they were
 * set) during `advance`, each seeing `now()` equal to its due time. Pure: no real timer.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Set<Scheduled>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  after(ms: number, fn: () => void): TimerHandle {
    const s: Scheduled = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.add(s);
    return { cancel: () => void this.#timers.delete(s) };
  }

  /** Timers set and not yet fired or cancelled. */
  get pending(): number {
    return this.#timers.size;
  }

  /** When the next timer is due, or undefined when none is set. */
  get nextAt(): number | undefined {
    return this.#next()?.at;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, including ones set by timers. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`ManualClock.advance: ms must be >= 0, got ${ms}`);
    const until = this.#now + ms;
    for (let s = this.#next(); s !== undefined && s.at <= until; s = this.#next()) {
      this.#timers.delete(s);
      this.#now = s.at;
      s.fn();
    }
    this.#now = until;
  }

  #next(): Scheduled | undefined {
    let best: Scheduled | undefined;
    for (const s of this.#timers) if (!best || s.at < best.at || (s.at === best.at && s.seq < best.seq)) best = s;
    return best;
  }
}
