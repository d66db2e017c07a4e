// Time is injected so that tests can shrink Kubernetes' seconds and back-off without sleeping.

export type TimerHandle = { cancel(): void };

export interface Clock {
  now(): number;
  after(ms: number, fn: () => void): TimerHandle;
}

export const realClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};

/** RFC 3339 with whole seconds, as the API server stores times; coarse times also keep status writes few. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
