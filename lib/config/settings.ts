// The one way a component reads its settings: flag, then environment variable(s), then default,
// remembering for each field where its value came from. Every problem (a bad duration, a zod
// issue on the assembled object) is collected and reported at once, named by that source.
import type { z } from 'zod';
import { parseListenAddress, type ListenAddress } from './address.js';
import { parseDuration } from './duration.js';
import { ConfigError, describeSource, type SettingSource } from './errors.js';
import { parseLogLevel, type LogLevel } from './log-level.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** A value and where it came from. */
export interface Picked {
  value: string;
  source: SettingSource;
}

export interface SettingSpec {
  /** The command-line flag, e.g. `--drain`; its value is read from the camelCase key commander uses. */
  flag?: string;
  /** Environment variables, first non-empty one wins (Istio's names first where it has them). */
  env?: readonly string[];
  /** Used when neither is set: a literal, or another setting's value and source (e.g. CA = xDS). */
  default?: string | Picked;
}

/** `--zds-ack-timeout` → `zdsAckTimeout`, `--no-status` → `status` (commander's keys). */
export function flagKey(flag: string): string {
  return flag.replace(/^--(no-)?/, '').replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Flag → environment → default, with the source of the value; undefined when none is set. */
export function pickSetting(flags: Readonly<Record<string, unknown>>, env: Env, spec: SettingSpec): Picked | undefined {
  if (spec.flag) {
    const v = flags[flagKey(spec.flag)];
    if (typeof v === 'string') return { value: v, source: { kind: 'flag', flag: spec.flag } };
  }
  for (const name of spec.env ?? []) {
    const v = env[name];
    if (v !== undefined && v !== '') return { value: v, source: { kind: 'env', env: name } };
  }
  if (spec.default === undefined) return undefined;
  if (typeof spec.default !== 'string') return spec.default;
  return { value: spec.default, source: { kind: 'default', ...(spec.flag ? { flag: spec.flag } : {}), ...(spec.env?.[0] ? { env: spec.env[0] } : {}) } };
}

/**
 * Reads one component's settings. Each reader method takes the field name of the object that is
 * validated at the end, so that zod issues on that field are reported with the setting's source.
 */
export class SettingsReader {
  readonly #flags: Readonly<Record<string, unknown>>;
  readonly #env: Env;
  readonly #sources = new Map<string, SettingSource>();
  readonly #problems: string[] = [];

  constructor(flags: object, env: Env) {
    this.#flags = flags as Readonly<Record<string, unknown>>;
    this.#env = env;
  }

  /** The raw value and its source, recorded for `field`. */
  pick(field: string, spec: SettingSpec): Picked | undefined {
    const p = pickSetting(this.#flags, this.#env, spec);
    if (p) this.#sources.set(field, p.source);
    else this.#sources.set(field, { kind: 'default', ...(spec.flag ? { flag: spec.flag } : {}), ...(spec.env?.[0] ? { env: spec.env[0] } : {}) });
    return p;
  }

  string(field: string, spec: SettingSpec & { default: string | Picked }): string;
  string(field: string, spec: SettingSpec): string | undefined;
  string(field: string, spec: SettingSpec): string | undefined {
    return this.pick(field, spec)?.value;
  }

  /** Milliseconds; a bad value is recorded as a problem and read as 0. */
  duration(field: string, spec: SettingSpec & { default: string }): number {
    return this.#parse(field, spec, (v, label) => parseDuration(v, label), 0);
  }

  listenAddress(field: string, spec: SettingSpec & { default: string }, defaultHost?: string): ListenAddress {
    return this.#parse(field, spec, (v, label) => parseListenAddress(v, label, defaultHost), { host: '0.0.0.0', port: 0 });
  }

  /** A whole number; a bad value is recorded as a problem and read as NaN (which the schema rejects too). */
  integer(field: string, spec: SettingSpec & { default: string }): number {
    return this.#parse(field, spec, (v, label) => {
      if (!/^\s*\d+\s*$/.test(v)) throw new ConfigError(`${label}: "${v}" is not a whole number`);
      return Number(v);
    }, NaN);
  }

  /**
   * A switch: a boolean flag (commander's `--x` / `--no-x`, given only when the user typed it),
   * else `true`/`1`/`yes` or `false`/`0`/`no` in the environment, else `fallback`.
   */
  boolean(field: string, spec: Omit<SettingSpec, 'default'>, fallback: boolean): boolean {
    const f = spec.flag ? this.#flags[flagKey(spec.flag)] : undefined;
    if (typeof f === 'boolean') {
      this.#sources.set(field, { kind: 'flag', flag: spec.flag! });
      return f;
    }
    const p = this.pick(field, spec);
    if (!p) return fallback;
    if (/^(true|1|yes)$/i.test(p.value.trim())) return true;
    if (/^(false|0|no)$/i.test(p.value.trim())) return false;
    this.problem(field, `"${p.value}" is not a boolean (true or false)`);
    return fallback;
  }

  /** `--log-level` / `AMBIT_LOG_LEVEL` (and any extra variables), default info. */
  logLevel(field = 'logLevel', extraEnv: readonly string[] = []): LogLevel {
    return this.#parse(field, { flag: '--log-level', env: ['AMBIT_LOG_LEVEL', ...extraEnv], default: 'info' }, parseLogLevel, 'info');
  }

  /** Records the source of a field that is not read from a flag or variable (derived, fixed). */
  sourceOf(field: string, source: SettingSource): void {
    this.#sources.set(field, source);
  }

  /** The words naming where `field` came from, e.g. `--drain` or `environment SECRET_TTL`. */
  label(field: string): string {
    const s = this.#sources.get(field);
    return s ? describeSource(s) : field;
  }

  /** A problem with a field, reported with its source. */
  problem(field: string, message: string): void {
    this.#problems.push(`${this.label(field)}: ${message}`);
  }

  /**
   * Validates the assembled object and returns zod's output, or throws one ConfigError listing
   * every problem so far and every zod issue, each named by the source of the field it is about.
   */
  validate<S extends z.ZodType>(what: string, schema: S, raw: unknown): z.output<S> {
    const r = schema.safeParse(raw);
    const problems = [...this.#problems];
    if (!r.success) {
      for (const issue of r.error.issues) {
        const where = this.#issueLabel(issue.path);
        // A value already reported as unreadable needs no second message from the schema.
        if (this.#problems.some((p) => p.startsWith(`${where}: `))) continue;
        problems.push(`${where}: ${issue.message}`);
      }
    }
    if (problems.length > 0) throw ConfigError.of(what, problems);
    return r.data as z.output<S>;
  }

  /** For readers without a schema: throws one ConfigError listing the problems, if there are any. */
  finish(what: string): void {
    if (this.#problems.length > 0) throw ConfigError.of(what, this.#problems);
  }

  /** The longest recorded prefix of the path names the source; the rest is shown as `[1]` / `.x`. */
  #issueLabel(path: readonly PropertyKey[]): string {
    for (let n = path.length; n > 0; n--) {
      const key = path.slice(0, n).map(String).join('.');
      const s = this.#sources.get(key);
      if (!s) continue;
      const rest = path.slice(n).map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
      return `${describeSource(s)}${rest}`;
    }
    return path.length > 0 ? path.map(String).join('.') : 'configuration';
  }

  #parse<T>(field: string, spec: SettingSpec, parse: (value: string, label: string) => T, onError: T): T {
    const p = this.pick(field, spec);
    if (!p) return onError;
    try {
      return parse(p.value, describeSource(p.source));
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      this.#problems.push(e.message);
      return onError;
    }
  }
}

/** The level of a process that has no flags of its own (helpers the CLI runs): `AMBIT_LOG_LEVEL`. */
export function logLevelFromEnv(what: string, env: Env): LogLevel {
  const r = new SettingsReader({}, env);
  const level = r.logLevel();
  r.finish(what);
  return level;
}
