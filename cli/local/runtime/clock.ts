// Time is injected (lib/sys/clock) so that tests can shrink Kubernetes' seconds and back-off
// without sleeping.
export { realClock, type Clock, type TimerHandle } from '../../../lib/sys/clock.js';

/** RFC 3339 with whole seconds, as the API server stores times; coarse times also keep status writes few. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
