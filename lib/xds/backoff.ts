import { realClock, type Clock, type TimerHandle } from '../sys/clock.js';
import type { BackoffOptions } from './types.js';

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 15_000, multiplier: 2, jitter: 0.2 };

export function validateBackoff(b: BackoffOptions): BackoffOptions {
  if (!(b.initialMs > 0)) throw new Error(`backoff.initialMs must be > 0, got ${b.initialMs}`);
  if (!(b.maxMs >= b.initialMs)) throw new Error(`backoff.maxMs must be >= initialMs (${b.initialMs}), got ${b.maxMs}`);
  if (!(b.multiplier >= 1)) throw new Error(`backoff.multiplier must be >= 1, got ${b.multiplier}`);
  if (!(b.jitter >= 0 && b.jitter <= 1)) throw new Error(`backoff.jitter must be within 0..1, got ${b.jitter}`);
  return b;
}

/**
 * Delay before reconnect attempt `attempt` (0-based). Jitter spreads the reconnects of many
 * ztunnels after a control-plane restart so they do not arrive in lock-step.
 */
export function backoffDelay(b: BackoffOptions, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(b.maxMs, b.initialMs * Math.pow(b.multiplier, attempt));
  const factor = 1 - b.jitter + 2 * b.jitter * random();
  return Math.round(Math.min(b.maxMs, base * factor));
}

/**
 * Arms the timer for reconnect attempt `attempt`: `fn` runs after {@link backoffDelay} on
 * `clock`. Returns the delay (for the log line) and the handle (to cancel on close).
 */
export function scheduleRetry(
  b: BackoffOptions,
  attempt: number,
  fn: () => void,
  clock: Clock = realClock,
  random: () => number = Math.random,
): { delayMs: number; timer: TimerHandle } {
  const delayMs = backoffDelay(b, attempt, random);
  return { delayMs, timer: clock.after(delayMs, fn) };
}
