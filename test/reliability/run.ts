// `npm run reliability`: the fuzz tier with a long run count, then the reliability end-to-end test
// at full length (chaos rounds, a one-hour soak), and a Markdown report with every figure in
// reliability-report/REPORT.md. Flags shorten it: --fuzz-runs N, --chaos-rounds N, --soak 10m,
// --only fuzz|e2e. The e2e part needs root (network namespaces); without it the report says so.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatDuration, parseDuration } from '../../lib/config/duration.js';
import type { FuzzRecord } from '../fuzz/harness.js';
import { renderReport, type ChaosFigures, type SoakFigures } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..', '..', '..');
const DIST_TEST = path.join(ROOT, 'dist-test');
const TAP = path.join(ROOT, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs');

const { values } = parseArgs({
  options: {
    'fuzz-runs': { type: 'string', default: '20000' },
    'chaos-rounds': { type: 'string', default: '20' },
    soak: { type: 'string', default: '1h' },
    only: { type: 'string' },
    out: { type: 'string', default: path.join(ROOT, 'reliability-report') },
  },
});

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${JSON.stringify(v)}: expected a positive integer`);
  return n;
}

const fuzzRuns = positive('fuzz-runs', values['fuzz-runs']);
const chaosRounds = positive('chaos-rounds', values['chaos-rounds']);
const soakMs = parseDuration(values.soak, '--soak');
const only = values.only;
if (only !== undefined && only !== 'fuzz' && only !== 'e2e') throw new Error(`--only ${JSON.stringify(only)}: expected fuzz or e2e`);
const outDir = path.resolve(values.out);

/** Runs tap on `files` with `env`; resolves with its exit code and the tail of its output. */
function tap(files: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number; tail: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TAP, '--reporter=terse', `--timeout=${Math.ceil(timeoutMs / 1000)}`, ...files], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (d: Buffer): void => {
      process.stdout.write(d);
      tail = (tail + d.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('close', (code) => resolve({ code: code ?? 1, tail, ms: Date.now() - started }));
  });
}

function readJsonLines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

mkdirSync(outDir, { recursive: true });
const fuzzFile = path.join(outDir, 'fuzz.jsonl');
const e2eFile = path.join(outDir, 'e2e.jsonl');
const notes: string[] = [];
let failed = false;

if (only !== 'e2e') {
  rmSync(fuzzFile, { force: true });
  const dir = path.join(DIST_TEST, 'test', 'fuzz');
  const files = (existsSync(dir) ? readdirSync(dir).sort() : []).filter((f) => f.endsWith('.fuzz.test.js')).map((f) => path.join(dir, f));
  console.log(`reliability: fuzz tier, ${fuzzRuns} runs per unit of weight, ${files.length} files`);
  const r = await tap(files, { AMBIT_FUZZ_RUNS: String(fuzzRuns), AMBIT_FUZZ_REPORT: fuzzFile }, 4 * 3600_000);
  if (r.code !== 0) {
    failed = true;
    notes.push(`The fuzz tier exited ${r.code}; its findings are listed below.`);
  }
}

if (only !== 'fuzz') {
  rmSync(e2eFile, { force: true });
  if (process.getuid?.() !== 0) {
    notes.push('The end-to-end part (chaos, soak) needs root for network namespaces and was not run.');
  } else {
    console.log(`reliability: chaos ${chaosRounds} rounds, soak ${formatDuration(soakMs)}`);
    const r = await tap(
      [path.join(DIST_TEST, 'test', 'e2e', 'reliability.test.js')],
      { AMBIT_CHAOS_ROUNDS: String(chaosRounds), AMBIT_SOAK_DURATION: formatDuration(soakMs), AMBIT_RELIABILITY_OUT: e2eFile },
      soakMs + chaosRounds * 120_000 + 600_000,
    );
    if (r.code !== 0) {
      failed = true;
      notes.push(`The reliability end-to-end test exited ${r.code}:\n\n\`\`\`\n${r.tail.split('\n').slice(-40).join('\n')}\n\`\`\``);
    }
  }
}

const e2e = readJsonLines<{ kind: string } & Record<string, unknown>>(e2eFile);
const report = renderReport({
  when: new Date(),
  settings: { fuzzRuns, chaosRounds, soakMs },
  fuzz: only === 'e2e' ? undefined : readJsonLines<FuzzRecord>(fuzzFile),
  chaos: e2e.find((x) => x.kind === 'chaos') as ChaosFigures | undefined,
  soak: e2e.find((x) => x.kind === 'soak') as SoakFigures | undefined,
  notes,
});
writeFileSync(path.join(outDir, 'REPORT.md'), report);
console.log(`\nreliability: report in ${path.join(outDir, 'REPORT.md')}`);
process.exit(failed ? 1 : 0);
