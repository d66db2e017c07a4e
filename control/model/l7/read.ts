/**
 * Strict readers for the fields of untrusted L7 objects. A malformed value throws `Invalid` with
 * the field path, so the caller can skip the whole object and name exactly what to fix.
 */
import { isRecord } from '../objects.js';
import { parseDuration } from '../../../lib/config/duration.js';
import { ConfigError } from '../../../lib/config/errors.js';

export class Invalid extends Error {
  constructor(
    readonly field: string,
    message: string,
    /** The condition reason; the caller's default when undefined. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

const absent = (v: unknown): v is undefined | null => v === undefined || v === null;

export function optRecord(v: unknown, path: string): Record<string, unknown> | undefined {
  if (absent(v)) return undefined;
  if (!isRecord(v)) throw new Invalid(path, 'must be an object');
  return v;
}

export function record(v: unknown, path: string): Record<string, unknown> {
  return optRecord(v, path) ?? {};
}

export function list(v: unknown, path: string): unknown[] {
  if (absent(v)) return [];
  if (!Array.isArray(v)) throw new Invalid(path, 'must be a list');
  return v;
}

export function optString(v: unknown, path: string): string | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'string') throw new Invalid(path, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}

export function requiredString(v: unknown, path: string): string {
  const s = optString(v, path);
  if (!s) throw new Invalid(path, 'is required and must not be empty');
  return s;
}

/** An integer in [min, max]; numbers written as strings are refused (YAML quotes them on purpose). */
export function optInt(v: unknown, path: string, min: number, max: number): number | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Invalid(path, `must be a whole number, got ${JSON.stringify(v)}`);
  if (v < min) throw new Invalid(path, min === 0 ? `must not be negative, got ${v}` : `must be at least ${min}, got ${v}`);
  if (v > max) throw new Invalid(path, `must be at most ${max}, got ${v}`);
  return v;
}

export function optNumber(v: unknown, path: string, min: number, max: number): number | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Invalid(path, `must be a number, got ${JSON.stringify(v)}`);
  if (v < min || v > max) throw new Invalid(path, `must be between ${min} and ${max}, got ${v}`);
  return v;
}

export function optBool(v: unknown, path: string): boolean | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'boolean') throw new Invalid(path, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A duration such as `1.5s` or `1m30s`, in milliseconds. */
export function optDuration(v: unknown, path: string): number | undefined {
  if (absent(v)) return undefined;
  const shapeError = new Invalid(path, `must be a duration such as "500ms", "10s" or "1m30s", got ${JSON.stringify(v)}`);
  if (typeof v !== 'string') throw shapeError;
  if (v.trim().startsWith('-')) throw new Invalid(path, `must not be negative, got ${JSON.stringify(v)}`);
  try {
    return parseDuration(v, path);
  } catch (e) {
    if (e instanceof ConfigError) throw shapeError;
    throw e;
  }
}

export function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[], dflt?: T): T {
  if (absent(v) && dflt !== undefined) return dflt;
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  throw new Invalid(path, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
}

/** A string→string map; absent → undefined. */
export function optStringMap(v: unknown, path: string): Record<string, string> | undefined {
  if (absent(v)) return undefined;
  if (!isRecord(v)) throw new Invalid(path, 'must map strings to strings');
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw new Invalid(`${path}.${k}`, `must be a string, got ${JSON.stringify(x)}`);
  return v as Record<string, string>;
}
