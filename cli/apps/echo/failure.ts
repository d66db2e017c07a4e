/**
 * The echo server's injected failure mode: every Nth echo request (`--fail-every N`) is answered
 * with the failure status (`--fail-status`, default 500) instead of the echo. `/healthz` and
 * `/ready` never count, so a failing pod stays Ready — the case retries and outlier detection are
 * for. Pure: a counter, no I/O.
 */

export interface FailureMode {
  /** 0 = never fail; 1 = fail every request; N = requests N, 2N, 3N, … fail. */
  every: number;
  /** The status a failing request gets, 400..599. */
  status: number;
}

export const NO_FAILURE: FailureMode = Object.freeze({ every: 0, status: 500 });

/** Checks a failure mode read from flags or the environment; `source` names where it came from. */
export function checkFailureMode(m: FailureMode, source: { every: string; status: string }): FailureMode {
  if (!Number.isInteger(m.every) || m.every < 0) throw new Error(`echo server: ${source.every} ${m.every} must be a whole number >= 0 (0 = never fail)`);
  if (!Number.isInteger(m.status) || m.status < 400 || m.status > 599) throw new Error(`echo server: ${source.status} ${m.status} must be an HTTP error status 400..599`);
  return m;
}

/** Counts echo requests and says which ones fail. */
export class FailureCounter {
  #seen = 0;
  constructor(readonly mode: FailureMode) {}

  /** Call once per echo request: the status to fail it with, or undefined to answer normally. */
  next(): number | undefined {
    if (this.mode.every === 0) return undefined;
    this.#seen += 1;
    return this.#seen % this.mode.every === 0 ? this.mode.status : undefined;
  }
}
