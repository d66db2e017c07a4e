/**
 * Durations as Istio and Gateway API write them (`10s`, `1.5s`, `1h30m`, `250ms`): one or more
 * number+unit pairs, Go style. A bare number is refused, so `timeout: 5` never silently means 5ns.
 */
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, 'µs': 0.001, ns: 0.000001 };
const WHOLE = /^-?(\d+(\.\d+)?(h|ms|m|s|us|µs|ns))+$/;
const PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g;

/** Milliseconds (negative for a leading `-`), or undefined when `s` is not a duration. */
export function parseDuration(s: string): number | undefined {
  if (!WHOLE.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(PART)) total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  return s.startsWith('-') ? -total : total;
}
