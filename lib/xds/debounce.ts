import { realClock, type Clock, type TimerHandle } from '../sys/clock.js';
import type { DebounceOptions } from './types.js';

export const DEFAULT_DEBOUNCE: DebounceOptions = { quietMs: 100, maxMs: 1000 };

/** Changed names accumulated during one debounce window; 'all' when some change did not say what changed. */
export type ChangeSet = Set<string> | 'all';

export function mergeChanges(into: ChangeSet | undefined, add: ChangeSet | readonly string[] | undefined): ChangeSet {
  if (into === 'all' || add === undefined || add === 'all') return 'all';
  const out = into ?? new Set<string>();
  for (const n of add) out.add(n);
  return out;
}

export function validateDebounce(d: DebounceOptions): DebounceOptions {
  if (!Number.isFinite(d.quietMs) || d.quietMs < 0) throw new Error(`debounce.quietMs must be a number >= 0, got ${d.quietMs}`);
  if (!Number.isFinite(d.maxMs) || d.maxMs < d.quietMs) throw new Error(`debounce.maxMs must be >= quietMs (${d.quietMs}), got ${d.maxMs}`);
  return d;
}

/**
 * Coalesces bursts of changes: flushes once no change arrived for `quietMs`, or `maxMs` after the
 * first change of the burst, whichever comes first (like istiod's PILOT_DEBOUNCE_AFTER / _MAX).
 */
export class Debouncer {
  #changes: ChangeSet | undefined;
  #firstAt = 0;
  #timer: TimerHandle | undefined;

  constructor(
    private readonly opts: DebounceOptions,
    private readonly flush: (changes: ChangeSet, firstChangeAt: number) => void,
    private readonly clock: Clock = realClock,
  ) {
    validateDebounce(opts);
  }

  /** True while changes wait for their flush: tests check it to tell "nothing to do" from "not yet". */
  get pending(): boolean {
    return this.#changes !== undefined;
  }

  add(names?: readonly string[]): void {
    const now = this.clock.now();
    if (this.#changes === undefined) this.#firstAt = now;
    this.#changes = mergeChanges(this.#changes, names);
    this.#timer?.cancel();
    const wait = Math.max(0, Math.min(this.opts.quietMs, this.#firstAt + this.opts.maxMs - now));
    this.#timer = this.clock.after(wait, () => this.#fire());
  }

  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#changes = undefined;
  }

  #fire(): void {
    const changes = this.#changes;
    this.#timer = undefined;
    this.#changes = undefined;
    if (changes !== undefined) this.flush(changes, this.#firstAt);
  }
}
