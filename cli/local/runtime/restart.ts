// Pure restart policy and kubelet's crash-loop back-off.
import type { RestartPolicy } from './types.js';

export type BackoffConfig = {
  /** First non-zero delay (kubelet: 10 s). */
  initialMs: number;
  /** Cap (kubelet: 5 min). */
  maxMs: number;
  /** A run at least this long forgets earlier crashes (kubelet: 10 min). */
  resetMs: number;
};

export const KUBELET_BACKOFF: BackoffConfig = { initialMs: 10_000, maxMs: 300_000, resetMs: 600_000 };

export function shouldRestart(policy: RestartPolicy, exitCode: number): boolean {
  if (policy === 'Always') return true;
  if (policy === 'OnFailure') return exitCode !== 0;
  return false;
}

/** `next` is the delay the next crash will wait; 0 means there was no recent crash. */
export type BackoffState = { next: number };

export const NO_BACKOFF: BackoffState = { next: 0 };

/**
 * Kubelet restarts the first crash at once, then waits 10 s, 20 s, 40 s … up to 5 min, measured
 * from the moment the container exited.
 */
export function backoffAfterExit(state: BackoffState, runMs: number, cfg: BackoffConfig): { delayMs: number; state: BackoffState } {
  const current = runMs >= cfg.resetMs ? 0 : state.next;
  const next = current === 0 ? cfg.initialMs : Math.min(current * 2, cfg.maxMs);
  return { delayMs: Math.min(current, cfg.maxMs), state: { next } };
}

/** `128 + signal number`, as container runtimes report a process killed by a signal. */
export function exitCodeOf(code: number | null, signalNumber: number | undefined): number {
  if (code !== null) return code;
  return 128 + (signalNumber ?? 0);
}

export function terminationReason(exitCode: number): 'Completed' | 'Error' {
  return exitCode === 0 ? 'Completed' : 'Error';
}

/** Kubelet's wording, which users grep for. */
export function backoffMessage(delayMs: number, container: string, pod: string, namespace: string, uid = ''): string {
  return `back-off ${formatDuration(delayMs)} restarting failed container=${container} pod=${pod}_${namespace}(${uid})`;
}

/** Go's time.Duration style, as kubelet prints it: 10s, 1m20s, 5m0s, 150ms. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const totalS = ms / 1000;
  const m = Math.floor(totalS / 60);
  const s = Math.round((totalS - m * 60) * 1000) / 1000;
  return m > 0 ? `${m}m${s}s` : `${s}s`;
}
