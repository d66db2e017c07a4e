// The fuzz tier's one harness: property-based runs with fast-check, a run count from the
// environment (AMBIT_FUZZ_RUNS, small in `npm test`, large under `npm run reliability`), and one
// JSON line per target appended to AMBIT_FUZZ_REPORT so the reliability report can count
// executions and findings. A finding is reported with its shrunk counterexample and the seed
// that reproduces it (AMBIT_FUZZ_SEED=<seed>).
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import type { Test } from 'tap';

/** Runs per unit of weight; the default keeps the whole tier well under a minute on 2 cores. */
export const BASE_RUNS = positiveInt('AMBIT_FUZZ_RUNS', 200);
/** A run slower than this is a finding: a parser must not stall on any input. */
export const SLOW_RUN_MS = positiveInt('AMBIT_FUZZ_SLOW_MS', 2000);

function positiveInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${JSON.stringify(v)}: expected a positive integer (fuzz runs per target)`);
  return n;
}

export interface FuzzRecord {
  target: string;
  runs: number;
  ms: number;
  seed: number;
  failed: boolean;
  counterexample?: string;
  error?: string;
}

export interface FuzzOptions {
  /** Share of BASE_RUNS this target gets (slow targets less, cheap ones more). */
  weight?: number;
}

function record(r: FuzzRecord): void {
  const file = process.env.AMBIT_FUZZ_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify(r)}\n`);
}

function seedOf(): number {
  const s = process.env.AMBIT_FUZZ_SEED;
  return s ? Number(s) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
}

function runsOf(o: FuzzOptions): number {
  return Math.max(1, Math.round(BASE_RUNS * (o.weight ?? 1)));
}

function finish<Ts>(t: Test, target: string, started: number, seed: number, details: fc.RunDetails<Ts>): void {
  const failed = details.failed;
  const rec: FuzzRecord = { target, runs: details.numRuns, ms: Date.now() - started, seed, failed };
  if (failed) {
    rec.counterexample = fc.stringify(details.counterexample);
    rec.error = String((details.errorInstance as Error | undefined)?.stack ?? details.errorInstance).slice(0, 2000);
  }
  record(rec);
  t.notOk(failed, `${target}: ${details.numRuns} runs without a finding`, failed ? { counterexample: rec.counterexample, error: rec.error, seed } : {});
}

/** Checks a synchronous property; `check` throws (or returns false) on a finding. */
export function fuzz<Ts extends [unknown, ...unknown[]]>(t: Test, target: string, arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> }, check: (...args: Ts) => boolean | void, o: FuzzOptions = {}): void {
  const seed = seedOf();
  const started = Date.now();
  const timed = (...args: Ts): boolean | void => {
    const t0 = performance.now();
    const r = check(...args);
    const dt = performance.now() - t0;
    if (dt > SLOW_RUN_MS) throw new Error(`one run took ${Math.round(dt)} ms (limit ${SLOW_RUN_MS} ms)`);
    return r;
  };
  const details = fc.check(fc.property(...arbs, timed), { numRuns: runsOf(o), seed });
  finish(t, target, started, seed, details);
}

/** The asynchronous form, for properties that drive a session or a socket. */
export async function fuzzAsync<Ts extends [unknown, ...unknown[]]>(t: Test, target: string, arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> }, check: (...args: Ts) => Promise<boolean | void>, o: FuzzOptions = {}): Promise<void> {
  const seed = seedOf();
  const started = Date.now();
  const details = await fc.check(fc.asyncProperty(...arbs, check), { numRuns: runsOf(o), seed });
  finish(t, target, started, seed, details);
}

/**
 * Runs `fn` and accepts a return or an error of one of `allowed` (the parser's own refusals);
 * anything else (TypeError, RangeError, a plain Error from deep inside) is a finding. Returns what
 * `fn` returned, or undefined when it refused.
 */
export function refusesOnly<T>(fn: () => T, ...allowed: (abstract new (...a: never[]) => Error)[]): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (allowed.some((c) => e instanceof c) && (e as Error).message.length > 0) return undefined;
    throw new Error(`unexpected ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

export async function refusesOnlyAsync<T>(fn: () => Promise<T>, ...allowed: (abstract new (...a: never[]) => Error)[]): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (allowed.some((c) => e instanceof c) && (e as Error).message.length > 0) return undefined;
    throw new Error(`unexpected ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

/** Mutations of a valid input: byte flips, truncation, insertion, deletion, duplication. */
export function mutated(valid: Uint8Array): fc.Arbitrary<Buffer> {
  const n = valid.length;
  const edit = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(Math.max(0, n - 1)), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('cut' as const), at: fc.nat(n), v: fc.constant(0) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(n), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(Math.max(0, n - 1)), v: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ op: fc.constant('dup' as const), at: fc.nat(n), v: fc.integer({ min: 1, max: 32 }) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let b = Buffer.from(valid);
    for (const e of edits) {
      const at = Math.min(e.at, b.length);
      if (e.op === 'flip' && b.length > 0) b[Math.min(at, b.length - 1)] = e.v;
      else if (e.op === 'cut') b = b.subarray(0, at);
      else if (e.op === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from([e.v]), b.subarray(at)]);
      else if (e.op === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.v)]);
      else if (e.op === 'dup') b = Buffer.concat([b.subarray(0, at + e.v), b.subarray(at)]);
    }
    return Buffer.from(b);
  });
}

/** Bytes split into chunks at arbitrary points (what a socket may deliver). */
export function chunked(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}
