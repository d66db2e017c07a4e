// Durations as Go (and so Istio) writes them: a number with a unit, `1h30m`, never a bare number
// but 0. A bare number means seconds to one tool and milliseconds to the next, so it is refused with
// a hint rather than guessed. parse-duration does the arithmetic; the shape check comes first
// because it accepts almost anything (`5`, `1 week`, `1y`).
import parse from 'parse-duration';
import { ConfigError } from './errors.js';

const UNIT = '(?:ns|us|µs|ms|s|m|h|d)';
const SHAPE = new RegExp(`^(?:(?:\\d+(?:\\.\\d*)?|\\.\\d+)${UNIT})+$`);
const BARE_NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/**
 * `500ms`, `1.5s`, `10m`, `24h`, `90d`, `1h30m`, `250us`, `0` → milliseconds (sub-millisecond units
 * give fractions). `source` names the setting in the error, e.g. `--drain` or `environment X`.
 */
export function parseDuration(text: string, source: string): number {
  const t = text.trim();
  if (t === '0') return 0;
  if (BARE_NUMBER.test(t)) throw new ConfigError(`${source}: "${text}" is not a duration; add a unit, e.g. ${t}s`);
  if (/^-/.test(t) && SHAPE.test(t.slice(1))) throw new ConfigError(`${source}: "${text}" is not a duration: it is negative; write 0 or more, e.g. ${t.slice(1)}`);
  if (!SHAPE.test(t)) throw new ConfigError(`${source}: "${text}" is not a duration; write e.g. 500ms, 5s, 10m, 24h, 90d or 1h30m`);
  // µ is Go's spelling; parse-duration knows only `us`.
  const ms = parse(t.replace(/µs/g, 'us'), 'ms');
  if (ms === null || !Number.isFinite(ms)) throw new ConfigError(`${source}: "${text}" is not a duration; write e.g. 500ms, 5s, 10m, 24h, 90d or 1h30m`);
  // Decimal units give binary noise (1.1s = 1100.0000000000002 ms); nanoseconds are the finest unit.
  return Math.round(ms * 1e6) / 1e6;
}

const STEPS: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];

/** Milliseconds → the shortest compound form parseDuration reads back: 5400000 → `1h30m`, 0 → `0s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`formatDuration: ${ms} is not a duration in milliseconds (0 or more)`);
  let rest = Math.round(ms * 1e6);
  if (rest === 0) return '0s';
  let out = '';
  for (const [unit, size] of STEPS) {
    const n = Math.floor(rest / (size * 1e6));
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size * 1e6;
  }
  if (rest >= 1000) {
    out += `${Math.floor(rest / 1000)}us`;
    rest %= 1000;
  }
  if (rest > 0) out += `${rest}ns`;
  return out;
}
