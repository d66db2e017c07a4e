// Pure probe rules: defaults, kubelet's threshold counting, and which probes run when.
import type { Probe } from './types.js';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';
export type ProbeResult = 'success' | 'failure' | 'unknown';
export type ProbeOutcome = { result: 'success' | 'failure'; message: string };

export type ProbeTiming = {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
};

/** Kubernetes defaults, with one "second" lasting `secondMs` so tests can run fast. */
export function probeTiming(p: Probe, secondMs: number): ProbeTiming {
  return {
    initialDelayMs: (p.initialDelaySeconds ?? 0) * secondMs,
    periodMs: (p.periodSeconds ?? 10) * secondMs,
    timeoutMs: (p.timeoutSeconds ?? 1) * secondMs,
    successThreshold: p.successThreshold ?? 1,
    failureThreshold: p.failureThreshold ?? 3,
  };
}

/** Before the first verdict a container is alive, not ready, and not known to have started. */
export function initialResult(kind: ProbeKind): ProbeResult {
  if (kind === 'liveness') return 'success';
  if (kind === 'readiness') return 'failure';
  return 'unknown';
}

export type ProbeCounter = {
  result: ProbeResult;
  last?: 'success' | 'failure';
  /** Consecutive outcomes equal to `last`. */
  run: number;
  /** Liveness and startup stop after a failure verdict until the container restarts. */
  onHold: boolean;
};

export function newCounter(kind: ProbeKind): ProbeCounter {
  return { result: initialResult(kind), run: 0, onHold: false };
}

/** Kubelet's rule: the verdict changes only after `threshold` equal outcomes in a row. */
export function recordOutcome(kind: ProbeKind, c: ProbeCounter, outcome: 'success' | 'failure', t: Pick<ProbeTiming, 'successThreshold' | 'failureThreshold'>): ProbeCounter {
  if (c.onHold) return c;
  const run = c.last === outcome ? c.run + 1 : 1;
  const threshold = outcome === 'success' ? t.successThreshold : t.failureThreshold;
  if (run < threshold) return { ...c, last: outcome, run };
  if (outcome === 'failure' && kind !== 'readiness') return { result: 'failure', last: outcome, run: 0, onHold: true };
  return { ...c, result: outcome, last: outcome, run };
}

/** Startup runs until it succeeds; the others wait for it. */
export function probeActive(kind: ProbeKind, started: boolean): boolean {
  return kind === 'startup' ? !started : started;
}

/** Kubelet's event wording, e.g. `Liveness probe failed: HTTP probe failed with statuscode: 500`. */
export function probeFailedMessage(kind: ProbeKind, detail: string): string {
  const name = kind[0]?.toUpperCase() + kind.slice(1);
  return `${name} probe failed: ${detail}`;
}

export type PortRef = { port: number } | { error: string };

/** A probe's port: a number, or the name of one of the container's ports. */
export function resolvePort(port: number | string, ports: ReadonlyArray<{ name?: string; containerPort: number }> | undefined): PortRef {
  if (typeof port === 'number') return { port };
  if (/^\d+$/.test(port)) return { port: Number(port) };
  const found = ports?.find((p) => p.name === port);
  return found ? { port: found.containerPort } : { error: `named port "${port}" is not among the container's ports` };
}
