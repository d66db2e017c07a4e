// The harness itself: a property that fails is reported (with its counterexample) and recorded,
// refusals are told apart from crashes, and the input helpers keep their promises.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { BASE_RUNS, chunked, fuzz, fuzzAsync, mutated, refusesOnly, type FuzzRecord } from './harness.js';

class Refusal extends Error {}

t.test('a failing property is a failed assertion and a recorded finding', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ambit-fuzz-harness-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'fuzz.jsonl');
  process.env.AMBIT_FUZZ_REPORT = file;
  t.teardown(() => void delete process.env.AMBIT_FUZZ_REPORT);
  const seen: { ok: boolean; msg: string; extra: Record<string, unknown> }[] = [];
  const fake = { notOk: (v: unknown, msg: string, extra: Record<string, unknown>) => void seen.push({ ok: !v, msg, extra }) } as unknown as Test;
  fuzz(fake, 'always fine', [fc.nat()], () => true);
  fuzz(fake, 'fails above 10', [fc.nat(1000)], (n) => void refusesOnly(() => {
    if (n > 10) throw new TypeError('boom');
  }, Refusal));
  await fuzzAsync(fake, 'async refusal is fine', [fc.nat()], async (n) => void refusesOnly(() => {
    throw new Refusal(`no ${n}`);
  }, Refusal));
  t.same(seen.map((s) => s.ok), [true, false, true]);
  t.match(seen[1]!.extra, { counterexample: '[11]', error: /unexpected TypeError: boom/ }, 'shrunk to the smallest failing input');
  const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as FuzzRecord);
  t.same(records.map((r) => [r.target, r.failed]), [['always fine', false], ['fails above 10', true], ['async refusal is fine', false]]);
  t.equal(records[0]!.runs, BASE_RUNS, 'AMBIT_FUZZ_RUNS runs');
});

t.test('input helpers', async (t) => {
  const b = Buffer.from('0123456789');
  t.same(Buffer.concat(chunked(b, [3, 3, 7, 25])), b, 'chunks join back to the input');
  t.same(chunked(b, [3, 7]).map((c) => c.toString()), ['012', '3456', '789']);
  const samples = fc.sample(mutated(b), 50);
  t.ok(samples.some((s) => !s.equals(b)), 'mutations change the input');
});
